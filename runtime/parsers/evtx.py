"""The evtx_dump JSON layout of Windows events (`Event.System.*` with `#attributes`, `Event.EventData.*`).

`flatten` turns it into the flat field names Sigma rules use: EventID, Channel, Provider_Name,
Computer, ..., and every EventData field at the top level.
"""

from __future__ import annotations

from typing import Any


def is_evtx(obj: Any) -> bool:
    return isinstance(obj, dict) and isinstance(obj.get("Event"), dict) and "System" in obj["Event"]


def flatten(obj: dict[str, Any]) -> dict[str, Any]:
    """A flat record from an evtx_dump event; other objects are returned unchanged."""
    if not is_evtx(obj):
        return obj
    event = obj["Event"]
    out: dict[str, Any] = {}
    for key, value in (event.get("System") or {}).items():
        if isinstance(value, dict):
            attributes = value.get("#attributes") or {}
            for name, attr in attributes.items():
                out[f"{key}_{name}"] = attr
            if "#text" in value:
                out[key] = value["#text"]
        else:
            out[key] = value
    data = event.get("EventData") or event.get("UserData") or {}
    if isinstance(data, dict):
        for key, value in data.items():
            if key != "#attributes":
                out.setdefault(key, value)
    return out
