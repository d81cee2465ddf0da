"""The evtx_dump JSON layout of Windows events (`Event.System.*` with `#attributes`, `Event.EventData.*`).

`flatten` turns it into the flat field names Sigma rules use: EventID, Channel, Provider_Name,
Computer, ..., and every event data field at the top level: the fields of `EventData`, or of the one
element `UserData` wraps (`UserData.LogFileCleared.SubjectUserName` → `SubjectUserName`), with the
spaces some providers put in names removed as Sigma writes them (`Threat Name` → `ThreatName`).
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
    for key, value in event_data(event).items():
        if key != "#attributes":
            out.setdefault(key.replace(" ", ""), value)
    return out


def event_data(event: dict[str, Any]) -> dict[str, Any]:
    """The event's data fields: `EventData`, or the fields of the single element inside `UserData`."""
    data = event.get("EventData")
    if isinstance(data, dict) and data:
        return data
    user = event.get("UserData")
    if not isinstance(user, dict):
        return {}
    elements = [value for key, value in user.items() if key != "#attributes"]
    if len(elements) == 1 and isinstance(elements[0], dict):
        return elements[0]
    return user
