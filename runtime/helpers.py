"""Helpers that generated matcher modules call.

Contract: the compiler emits ``from runtime.helpers import <name>, ...`` for exactly the names in
``__all__`` and nothing else. To add a helper, define it here, add its name to ``__all__`` and keep it
pure standard library: generated code must run without boto3, dsl/ or compiler/.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from runtime.values import all_texts, folded_texts, ip_in, numbers, texts, time_part

__all__ = [
    "MISSING",
    "Fields",
    "LazyRegex",
    "all_texts",
    "field_ref",
    "folded_texts",
    "get_field",
    "ip_in",
    "numbers",
    "run_rules",
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


class Fields(dict):
    """One record's field values, each read and converted once, on first use.

    Keys are `kind:path`: `v:` the raw value (or MISSING), `t:` its texts, `f:` its case-folded
    texts, `n:` its numbers; `k:t` and `k:f` are every text of the record (keyword searches).
    """

    __slots__ = ("record",)

    def __init__(self, record: Mapping[str, Any]) -> None:
        super().__init__()
        self.record = record

    def __missing__(self, key: str) -> Any:
        kind, _, path = key.partition(":")
        if kind == "v":
            value = get_field(self.record, path)
        elif kind == "f":
            value = folded_texts(self["v:" + path])
        elif kind == "t":
            value = texts(self["v:" + path])
        elif kind == "n":
            value = numbers(self["v:" + path])
        elif path == "t":
            value = all_texts(self.record)
        else:
            value = [t.casefold() for t in self["k:t"]]
        self[key] = value
        return value


class LazyRegex:
    """A regex compiled on first use: big rule sets hold hundreds, and most records need few of them."""

    __slots__ = ("_flags", "_pattern", "_regex")

    def __init__(self, pattern: str, flags: str = "") -> None:
        self._pattern, self._flags, self._regex = pattern, flags, None

    def _compiled(self) -> re.Pattern:
        if self._regex is None:
            bits = 0
            for flag in self._flags:
                bits |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}[flag]
            self._regex = re.compile(self._pattern, bits)
        return self._regex

    def search(self, text: str) -> re.Match | None:
        return (self._regex or self._compiled()).search(text)

    def fullmatch(self, text: str) -> re.Match | None:
        return (self._regex or self._compiled()).fullmatch(text)


def run_rules(fields: Fields, tables: tuple, errors: list | None = None) -> list[str]:
    """The ids of the rules that match, in rule order: the body of every generated `match`.

    `tables` is `(always, index, nested, whens, rule_whens, checks, rule_ids)` as a generated module
    lays it out. Anchor hits (plus `always`) give the candidate rules; a candidate counts when its
    logsource condition holds (each condition tested at most once per record) and its check passes.
    With an `errors` list, a check that raises is recorded there as `(rule id, exception)` and the
    other rules still run; without one, the exception propagates.
    """
    always, index, nested, whens, rule_whens, checks, rule_ids = tables
    verdicts: dict[int, bool] = {}
    matched = []
    for i in sorted(candidates(fields, always, index, nested)):
        w = rule_whens[i]
        ok = verdicts.get(w)
        if ok is None:
            ok = verdicts[w] = bool(whens[w](fields))
        if not ok:
            continue
        if errors is None:
            if checks[i](fields):
                matched.append(rule_ids[i])
            continue
        try:
            if checks[i](fields):
                matched.append(rule_ids[i])
        except Exception as exc:  # one rule's failure must not hide the others
            errors.append((rule_ids[i], exc))
    return matched


def candidates(fields: Fields, always: tuple[int, ...], index: dict[str, tuple], nested: tuple[str, ...]) -> set[int]:
    """Numbers of the rules whose anchors hit, plus `always`: probe each field's tables with its folded texts.

    `index` maps a field path to `(eq, segments, prefixes, suffixes, grams, (gram size, step), short)` as the
    compiler writes it (compiler/anchors.py); `nested` lists its dotted paths. Flat paths are probed
    only when the record has them, so absent fields cost nothing. Each probe is a hash lookup, one per
    distinct literal length, one pass of gram slices every `step` characters, or an `in` test for the
    few literals too short for the grams.
    """
    found = set(always)
    record = fields.record
    for path in index.keys() & record.keys() if isinstance(record, dict) else ():
        if "." not in path:
            _probe(fields, path, record[path], index[path], found)
    for path in nested:
        value = get_field(record, path)
        if value is not MISSING:
            _probe(fields, path, value, index[path], found)
    return found


def _probe(fields: Fields, path: str, value: Any, tables: tuple, found: set[int]) -> None:
    key = "f:" + path
    folded = fields.get(key)
    if folded is None:
        folded = fields[key] = [value.casefold()] if type(value) is str else folded_texts(value)
    eq, segments, prefixes, suffixes, grams, (size, step), short = tables
    for text in folded:
        hit = eq.get(text)
        if hit:
            found.update(hit)
        if segments:
            hit = segments.get(text.rpartition("\\")[2])
            if hit:
                found.update(hit)
        for length, table in prefixes:
            hit = table.get(text[:length])
            if hit:
                found.update(hit)
        for length, table in suffixes:
            hit = table.get(text[-length:])
            if hit:
                found.update(hit)
        if grams and len(text) >= size:
            for gram in grams.keys() & {text[i : i + size] for i in range(0, len(text) - size + 1, step)}:
                found.update(grams[gram])
        for literal, rules in short:
            if literal in text:
                found.update(rules)
