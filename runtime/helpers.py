"""Helpers that generated matcher modules call.

Contract: the compiler emits ``from runtime.helpers import <name>, ...`` for exactly the names in
``__all__`` and nothing else. To add a helper, define it here, add its name to ``__all__`` and keep it
pure standard library: generated code must run without boto3, dsl/ or compiler/.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, Final, Literal

from runtime.values import all_texts, folded_texts, ip_in, numbers, texts, time_part

__all__ = [
    "MISSING",
    "all_texts",
    "field_ref",
    "folded_texts",
    "get_field",
    "ip_in",
    "numbers",
    "texts",
    "time_part",
]


class Missing(enum.Enum):
    """Type of the ``MISSING`` sentinel: the value of a field that is absent (not the same as ``None``)."""

    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = Missing.MISSING


def get_field(record: Mapping[str, Any], path: str) -> Any | Literal[Missing.MISSING]:
    """Return the value at ``path`` in ``record``: the exact key first, then a dotted path through dicts.

    A key that itself contains dots wins over descending, at every level, so ``"a.b.c"`` finds
    ``{"a.b": {"c": 1}}`` as well as ``{"a": {"b": {"c": 1}}}``. Returns ``MISSING`` when absent.

    >>> get_field({"a": {"b": 1}}, "a.b")
    1
    >>> get_field({"a.b": 2, "a": {"b": 1}}, "a.b")
    2
    >>> get_field({"a": [1]}, "a.0")
    MISSING
    """
    if path in record:
        return record[path]
    return _descend(record, path)


def _descend(obj: Mapping[str, Any], path: str) -> Any:
    """Look up ``path`` in ``obj`` by splitting at each dot in turn, leftmost first."""
    dot = path.find(".")
    while dot != -1:
        child = obj.get(path[:dot], MISSING)
        if isinstance(child, Mapping):
            rest = path[dot + 1 :]
            if rest in child:
                return child[rest]
            found = _descend(child, rest)
            if found is not MISSING:
                return found
        dot = path.find(".", dot + 1)
    return MISSING


def field_ref(mine: Any, theirs: Any, op: str, cased: bool) -> bool:
    """Does a text of one field equal, contain, start or end with a text of another (fieldref)?"""
    fold = texts if cased else folded_texts
    others = fold(theirs)
    if op == "eq":
        return any(t in others for t in fold(mine))
    if op == "contains":
        return any(o in t for t in fold(mine) for o in others)
    if op == "startswith":
        return any(t.startswith(o) for t in fold(mine) for o in others)
    return any(t.endswith(o) for t in fold(mine) for o in others)
