"""A record's fields as rules read them: `get_field` (dotted paths), `MISSING`, and `Fields`, the
per-record cache generated checks and the anchor index share.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from runtime.contract import FOLDED, KEYWORD_TEXTS, NUMBERS, TEXTS, VALUE, WRAPPED_FOLDED, WRAPPED_TEXTS
from runtime.values import all_texts, folded_texts, numbers, texts

# Every text of a field reads as START + text + END in its wrapped form (`Fields` keys `w:`, `u:`),
# so one `in` test checks equality, a prefix, a suffix or a substring over all of a field's texts.
START, END = "\x02", "\x03"


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
    ``{"a.b": {"c": 1}}`` as well as ``{"a": {"b": {"c": 1}}}``. Through a list of maps the path
    continues in each map, and the values found are listed (a list found is spliced in), so a rule
    on ``target.name`` tests every target's name; elements without the path are skipped. Returns
    ``MISSING`` when absent, from every element too. Lists have no indexes: ``a.0`` is a key.

    >>> get_field({"a": {"b": 1}}, "a.b")
    1
    >>> get_field({"a.b": 2, "a": {"b": 1}}, "a.b")
    2
    >>> get_field({"a": [{"b": 1}, {"c": 2}, {"b": [3, 4]}, "text"]}, "a.b")
    [1, 3, 4]
    >>> get_field({"a": [1]}, "a.0"), get_field({"a": [{"c": 2}]}, "a.b")
    (MISSING, MISSING)
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
        elif isinstance(child, list):
            found = _each(child, path[dot + 1 :])
            if found is not MISSING:
                return found
        dot = path.find(".", dot + 1)
    return MISSING


def _each(items: list, path: str) -> Any:
    """The values at ``path`` in each map of ``items`` (and of lists nested in it), lists spliced in."""
    found: list = []
    anywhere = False
    for item in items:
        if isinstance(item, Mapping):
            value = get_field(item, path)
        elif isinstance(item, list):
            value = _each(item, path)
        else:
            continue
        if value is MISSING:
            continue
        anywhere = True
        if isinstance(value, list):
            found.extend(value)
        else:
            found.append(value)
    return found if anywhere else MISSING


class Wrapped(str):
    """Wrapped texts of which some hold a sentinel: `in` then tests each text exactly.

    Only built for such rare texts; ordinary wrapped texts are plain `str`. Substring searches
    (`re.search`, the anchor scan) may still read it as a string: a literal without sentinels
    cannot span two texts.
    """

    __slots__ = ("texts",)
    texts: list[str]

    def __new__(cls, texts: list[str]) -> Wrapped:
        self = super().__new__(cls, "".join(START + t + END for t in texts))
        self.texts = texts
        return self

    def __contains__(self, needle: object) -> bool:
        if not isinstance(needle, str):  # as str's own `in`
            raise TypeError(f"'in <string>' requires string as left operand, not {type(needle).__name__}")
        head = needle[:1] == START
        tail = needle[-1:] == END and len(needle) > head
        literal = needle[1 if head else 0 : -1 if tail else None]
        if head and tail:
            return literal in self.texts
        if head:
            return any(t.startswith(literal) for t in self.texts)
        if tail:
            return any(t.endswith(literal) for t in self.texts)
        return any(literal in t for t in self.texts)


def wrap(texts: Iterable[str]) -> str:
    """The wrapped form of a field's texts (see START and END).

    >>> wrap(["a", "b"]) == START + "a" + END + START + "b" + END
    True
    >>> (START + "b") in wrap(["a", "b" + END + "c"]), (START + "b") in wrap(["a", "xb" + END + "c"])
    (True, False)
    """
    texts = list(texts)
    if any(START in t or END in t for t in texts):
        return Wrapped(texts)
    return "".join(START + t + END for t in texts)


class Fields(dict):
    """One record's field values, each read and converted once, on first use.

    Keys are `kind:path`, the kinds named in runtime/contract.py: `v:` the raw value (or MISSING),
    `t:` its texts, `f:` its case-folded texts, `n:` its numbers, `w:` and `u:` the wrapped form of
    its folded and of its own texts; `k:t` and `k:f` are every text of the record (keyword searches).
    """

    __slots__ = ("record",)

    def __init__(self, record: Mapping[str, Any]) -> None:
        super().__init__()
        self.record = record

    def __missing__(self, key: str) -> Any:
        kind, _, path = key.partition(":")
        record = self.record
        if kind == VALUE:
            value = record[path] if type(record) is dict and path in record else get_field(record, path)
        elif kind in (FOLDED, TEXTS):
            raw = record[path] if type(record) is dict and path in record else self[VALUE + ":" + path]
            if type(raw) is str:
                value = [raw.casefold() if kind == FOLDED else raw]
            elif type(raw) is int or type(raw) is float:
                value = [str(raw)]
            else:
                value = folded_texts(raw) if kind == FOLDED else texts(raw)
        elif kind == NUMBERS:
            value = numbers(self[VALUE + ":" + path])
        elif kind == WRAPPED_FOLDED:
            value = wrap(self[FOLDED + ":" + path])
        elif kind == WRAPPED_TEXTS:
            value = wrap(self[TEXTS + ":" + path])
        elif path == TEXTS:  # KEYWORDS: every text of the record, `k:t`
            value = all_texts(record)
        else:  # `k:f`, the same folded
            value = [t.casefold() for t in self[KEYWORD_TEXTS]]
        self[key] = value
        return value
