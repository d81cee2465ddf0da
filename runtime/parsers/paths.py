"""Record paths like ``Records[*]``, ``logEvents[*].message`` or ``[*]``: where a payload keeps its records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.helpers import MISSING, get_field
from runtime.parsers.errors import ParseError

EACH = "[*]"


def split(path: str) -> list[str]:
    """Split a path at each ``[*]``: ``"a.b[*].c"`` → ``["a.b", "c"]``; ``"[*]"`` → ``["", ""]``."""
    if EACH not in path:
        raise ParseError(f"records path {path!r} must select a list with [*]")
    return [part.removeprefix(".") for part in path.split(EACH)]


def select(doc: Any, path: str) -> list[Any]:
    """Return the values ``path`` selects in ``doc``; a document without the path's first key is itself one record.

    CloudTrail arrives both as ``{"Records": [...]}`` files and one event per message; the classifier
    then decides whether the bare document fits.
    """
    parts = split(path)
    if parts[0] and (not isinstance(doc, Mapping) or get_field(doc, parts[0]) is MISSING):
        return [doc]
    values = [doc]
    for index, part in enumerate(parts):
        if part:
            values = [found for value in values if (found := _get(value, part)) is not MISSING]
        if index < len(parts) - 1:
            values = _each(values, parts, index)
    return values


def _get(value: Any, part: str) -> Any:
    return get_field(value, part) if isinstance(value, Mapping) else MISSING


def _each(values: list[Any], parts: list[str], index: int) -> list[Any]:
    """Flatten the lists found before the ``index``-th ``[*]``."""
    out: list[Any] = []
    for value in values:
        if not isinstance(value, list):
            where = EACH.join(parts[: index + 1]) or "the document"
            raise ParseError(f"{where!r} is not a list of objects")
        out.extend(value)
    return out
