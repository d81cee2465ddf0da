"""Parse JSON payloads: one object, or newline-delimited objects; optionally extract nested records."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from runtime.helpers import MISSING, get_field
from runtime.parsers.errors import ParseError


def parse(raw: bytes, options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Return the records in ``raw``; ``options["records"]`` like ``"Records[*]"`` takes them from a list."""
    records = _objects(raw)
    path = options.get("records")
    if path:
        records = [item for obj in records for item in extract(obj, path)]
    return records


def extract(obj: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    """Return the dicts of the list at ``path`` (a dotted path ending in ``[*]``) inside ``obj``.

    An object without that path is itself one record (CloudTrail arrives both as ``{"Records": [...]}``
    files and one event per message); the classifier then decides whether it fits.
    """
    if not path.endswith("[*]"):
        raise ParseError(f"records path {path!r} must end with [*]")
    items = get_field(obj, path[:-3])
    if items is MISSING:
        return [dict(obj)]
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise ParseError(f"{path[:-3]!r} is not a list of objects")
    return items


def _objects(raw: bytes) -> list[dict[str, Any]]:
    """Decode one JSON object, or one object per non-blank line."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8: {exc}") from None
    try:
        values = [json.loads(text)]
    except json.JSONDecodeError as whole_error:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2:
            raise ParseError(f"invalid JSON: {whole_error}") from None
        try:
            values = [json.loads(line) for line in lines]
        except json.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON lines: {exc}") from None
    if not all(isinstance(value, dict) for value in values):
        raise ParseError("JSON payload is not an object")
    return values
