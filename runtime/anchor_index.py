"""Find, for one record, the rules whose anchors (cheap necessary tests) hold: the first step of `match`.

A generated module lists each field's anchors as *wrapped literals*: every text of a field is read
as `START + text + END`, so `START + v + END` tests equality, `START + v` a prefix, `v + END` a
suffix and a bare `v` a substring, and one multi-pattern scan of the field's wrapped texts finds
every anchor that holds. With pyahocorasick installed (a compiled wheel; `make bundle` ships the
one for the Lambda's architecture) that scan is one Aho-Corasick pass in C; without it,
`ScanTables` finds the same anchors with hash tables in pure Python (tests prove both agree).

The rules returned are exactly those with an anchor that holds (up to texts that themselves hold
the sentinel characters, which can only add rules): each is then checked in full.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from runtime.contract import FOLDED, VALUE, WRAPPED_FOLDED, field_key
from runtime.fields import END, MISSING, START, wrap

try:  # the compiled wheel; the pure-Python tables below give the same answers
    import ahocorasick
except ImportError:  # pragma: no cover - exercised by forcing automaton=False in tests
    ahocorasick = None

Rules = tuple[int, ...]

# How a field is probed: equality literals only, a few literals tested one by one, an automaton, tables.
EQUALS, FEW_TESTS, AUTOMATON, TABLES = range(4)
FEW = 4  # up to this many literals, `in` tests beat starting an automaton scan
# Field values repeat across records (image paths, companies, users, common command lines): each
# field remembers what probing its last distinct values found, up to MEMO_SIZE values of at most
# MEMO_TEXT characters (then it starts afresh), so memory stays bounded.
MEMO_SIZE = 1024
MEMO_TEXT = 512


def literal_kind(wrapped: str) -> tuple[str, str]:
    """(`eq` | `startswith` | `endswith` | `contains`, literal) of a wrapped literal.

    >>> literal_kind(START + "cmd.exe" + END), literal_kind("\\\\cmd.exe" + END), literal_kind("-enc")
    (('eq', 'cmd.exe'), ('endswith', '\\\\cmd.exe'), ('contains', '-enc'))
    """
    head = wrapped[:1] == START
    tail = wrapped[-1:] == END and len(wrapped) > head
    literal = wrapped[1 if head else 0 : -1 if tail else None]
    return ("eq" if tail else "startswith") if head else ("endswith" if tail else "contains"), literal


class ScanTables:
    """Pure-Python equivalent of an automaton over one field's wrapped literals.

    `hits(texts)` yields the rule tuples of every wrapped literal found, like the automaton, by
    probing: a dict for equality, one dict per prefix/suffix length, path segments for suffixes
    holding a backslash, and for substrings a dict of 4-character grams (or, for literals shorter
    than a gram, of first characters), each hit confirmed with `in`.
    """

    GRAM = 4

    def __init__(self, literals: Mapping[str, Rules]) -> None:
        self.eq: dict[str, Rules] = {}
        prefixes: dict[int, dict[str, Rules]] = {}
        suffixes: dict[int, dict[str, Rules]] = {}
        self.segments: dict[str, list[tuple[str, Rules]]] = {}
        contains: dict[str, Rules] = {}
        for wrapped, rules in literals.items():
            kind, literal = literal_kind(wrapped)
            if kind == "eq":
                self.eq[literal] = rules
            elif kind == "startswith":
                prefixes.setdefault(len(literal), {})[literal] = rules
            elif kind == "endswith" and "\\" in literal:
                self.segments.setdefault(literal.rpartition("\\")[2], []).append((literal, rules))
            elif kind == "endswith":
                suffixes.setdefault(len(literal), {})[literal] = rules
            else:
                contains[literal] = rules
        self.prefixes = tuple(sorted(prefixes.items()))
        self.suffixes = tuple(sorted(suffixes.items()))
        frequency = Counter(g for literal in contains for g in _grams(literal, self.GRAM))
        self.grams: dict[str, list[tuple[str, Rules]]] = {}
        self.firsts: dict[str, list[tuple[str, Rules]]] = {}
        for literal, rules in contains.items():
            if len(literal) >= self.GRAM:  # indexed by its rarest gram: any occurrence holds that gram
                gram = min(_grams(literal, self.GRAM), key=lambda g: (frequency[g], g))
                self.grams.setdefault(gram, []).append((literal, rules))
            else:
                self.firsts.setdefault(literal[0], []).append((literal, rules))

    def hits(self, texts: Iterable[str]) -> Iterable[Rules]:
        for text in texts:
            hit = self.eq.get(text)
            if hit:
                yield hit
            for length, table in self.prefixes:
                hit = table.get(text[:length])
                if hit:
                    yield hit
            for length, table in self.suffixes:
                if length <= len(text):
                    hit = table.get(text[len(text) - length :])
                    if hit:
                        yield hit
            if self.segments:
                for literal, rules in self.segments.get(text.rpartition("\\")[2], ()):
                    if text.endswith(literal):
                        yield rules
            if self.grams and len(text) >= self.GRAM:
                size = self.GRAM
                for gram in self.grams.keys() & {text[i : i + size] for i in range(len(text) - size + 1)}:
                    for literal, rules in self.grams[gram]:
                        if literal in text:
                            yield rules
            if self.firsts:
                for first in self.firsts.keys() & set(text):
                    for literal, rules in self.firsts[first]:
                        if literal in text:
                            yield rules


def _grams(literal: str, size: int) -> set[str]:
    return {literal[i : i + size] for i in range(len(literal) - size + 1)}


def _automaton(literals: Mapping[str, Rules]) -> Any:
    automaton = ahocorasick.Automaton()
    for wrapped, rules in literals.items():
        automaton.add_word(wrapped, rules)
    automaton.make_automaton()
    return automaton


class AnchorIndex:
    """The anchors of one generated module: `candidates(fields)` gives the numbers of the rules to check.

    `anchors` maps a field path to its wrapped literals (each to the rule numbers it anchors);
    `always` lists the rules without anchors. Tables are built on first use, so importing a module
    stays cheap; `automaton=False` forces the pure-Python tables.
    """

    __slots__ = ("_anchors", "_automaton", "_flat", "_nested", "always")

    def __init__(self, anchors: Mapping[str, Mapping[str, Rules]], always: Rules, automaton: bool | None = None) -> None:
        self._anchors, self.always = anchors, always
        self._automaton = ahocorasick is not None if automaton is None else automaton
        self._flat: dict[str, tuple] | None = None
        self._nested: tuple = ()

    @property
    def anchors(self) -> Mapping[str, Mapping[str, Rules]]:
        """Each field's wrapped literals → the numbers of the rules they anchor."""
        return self._anchors

    def _build(self) -> dict[str, tuple]:
        flat: dict[str, tuple] = {}
        nested: list[tuple[str, tuple]] = []
        for path, literals in self._anchors.items():
            probe: tuple[int, Any]  # (kind, its table)
            if all(w[:1] == START and w[-1:] == END and len(w) > 1 for w in literals):
                probe = (EQUALS, {w[1:-1]: rules for w, rules in literals.items()})
            elif len(literals) <= FEW:
                probe = (FEW_TESTS, tuple(literals.items()))
            elif self._automaton:
                probe = (AUTOMATON, _automaton(literals))
            else:
                probe = (TABLES, ScanTables(literals))
            entry: tuple = (field_key(FOLDED, path), field_key(WRAPPED_FOLDED, path), *probe, {})  # the last: memo of recent values
            if "." in path:
                nested.append((field_key(VALUE, path), entry))
            else:
                flat[path] = entry
        self._nested = tuple(nested)
        self._flat = flat
        return flat

    def candidates(self, fields: Any) -> set[int]:
        """Numbers of the rules to check for `fields` (a `runtime.helpers.Fields`): anchor hits and `always`."""
        flat = self._flat if self._flat is not None else self._build()
        found = set(self.always)
        record = fields.record
        if isinstance(record, dict):
            for path in flat.keys() & record.keys():
                entry = flat[path]
                value = record[path]
                if type(value) is not str:
                    _probe(fields, value, entry, found)
                    continue
                memo = entry[4]
                seen = memo.get(value)
                if seen is None:
                    seen = _scan_text(value, entry)
                    if len(value) <= MEMO_TEXT:
                        if len(memo) >= MEMO_SIZE:
                            memo.clear()
                        memo[value] = seen
                fields[entry[0]], fields[entry[1]], rules = seen
                if rules:
                    found.update(rules)
        for value_key, entry in self._nested:
            value = fields[value_key]
            if value is not MISSING:
                _probe(fields, value, entry, found)
        return found


def _scan_text(value: str, entry: tuple) -> tuple[list[str], str, Rules]:
    """(folded texts, wrapped texts, rules anchored) of one string value: what a probe leaves."""
    _, _, kind, table, _ = entry
    folded = value.casefold()
    wrapped = START + folded + END if START not in folded and END not in folded else wrap([folded])
    found: set[int] = set()
    if kind == EQUALS:
        found.update(table.get(folded, ()))
    elif kind == TABLES:
        for rules in table.hits((folded,)):
            found.update(rules)
    elif kind == FEW_TESTS:
        for literal, rules in table:
            if literal in wrapped:
                found.update(rules)
    else:
        for _, rules in table.iter(wrapped):
            found.update(rules)
    return [folded], wrapped, tuple(sorted(found))


def _probe(fields: Any, value: Any, entry: tuple, found: set[int]) -> None:
    """Add the rules whose anchors on one field hold, for any value (a string, a list, a number)."""
    fkey, wkey, kind, table, _ = entry
    if type(value) is str:
        fields[fkey], fields[wkey], rules = _scan_text(value, entry)
        found.update(rules)
        return
    texts = fields[fkey]
    if kind == EQUALS:
        for text in texts:
            found.update(table.get(text, ()))
    elif kind == TABLES:
        for rules in table.hits(texts):
            found.update(rules)
    elif kind == FEW_TESTS:
        wrapped = fields[wkey]
        for literal, rules in table:
            if literal in wrapped:
                found.update(rules)
    elif texts:
        for _, rules in table.iter(fields[wkey]):
            found.update(rules)
