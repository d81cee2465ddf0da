"""Text helpers shared by the chat and ticket outputs: cutting to limits and picking the key fields."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

ELLIPSIS = "…"
MAX_KEY_FIELDS = 10
MAX_VALUE_CHARS = 300


def cut(text: str, limit: int) -> str:
    """Return ``text`` if it fits in ``limit`` characters, else its start ending with an ellipsis."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def value_text(value: Any) -> str:
    """Render a field value on one line: strings as is, other values as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def key_fields(alert: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (name, value) pairs worth showing: the alert's context, else the record's top-level scalars."""
    context = alert.get("context")
    if isinstance(context, Mapping) and context:
        items = list(context.items())
    else:
        record = alert.get("record") or {}
        items = [(k, v) for k, v in record.items() if not isinstance(v, Mapping | list)]
    return [(str(k), cut(value_text(v), MAX_VALUE_CHARS)) for k, v in items[:MAX_KEY_FIELDS]]


def pretty_record(alert: Mapping[str, Any]) -> str:
    """Return the alert's record as indented JSON."""
    return json.dumps(alert.get("record"), indent=2, sort_keys=True, default=str)


def level(alert: Mapping[str, Any]) -> str:
    """Return the alert level in lower case, ``unknown`` when absent."""
    return str(alert.get("level") or "unknown").lower()


def fit_payload(build: Callable[[str], Any], text: str, limit: int) -> Any:
    """Return ``build(cut(text, n))`` for the largest n found whose JSON encoding fits ``limit`` bytes."""
    size = len(text)
    while True:
        payload = build(cut(text, size))
        encoded = len(json.dumps(payload, separators=(",", ":"), default=str).encode())
        if encoded <= limit or size == 0:
            return payload
        size = max(0, min(size - 1, size * limit // encoded - 64))
