"""Helpers that generated matcher modules call.

Contract: the compiler emits ``from runtime.helpers import <name>, ...`` for exactly the names in
``__all__`` and nothing else. To add a helper, define it here, add its name to ``__all__`` and keep it
pure standard library: generated code must run without boto3, dsl/ or compiler/.
"""

from __future__ import annotations

from typing import Any

from runtime.anchor_index import AnchorIndex
from runtime.contract import MatchTables
from runtime.fields import MISSING, Fields, get_field
from runtime.regex import Regex, compile_regex
from runtime.values import all_texts, folded_texts, ip_in, numbers, texts, time_part

__all__ = [
    "MISSING",
    "AnchorIndex",
    "Conditions",
    "Fields",
    "LazyRegex",
    "MatchTables",
    "all_texts",
    "field_ref",
    "folded_texts",
    "get_field",
    "ip_in",
    "number_rules",
    "numbers",
    "run_rules",
    "texts",
    "time_part",
]


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


class LazyRegex:
    """A regex compiled on first use: big rule sets hold hundreds, and most records need few of them.

    Compiled by runtime.regex (RE2), as the reference interpreter's, so both engines agree.
    """

    __slots__ = ("_flags", "_pattern", "_regex")

    def __init__(self, pattern: str, flags: str = "") -> None:
        self._pattern, self._flags = pattern, flags
        self._regex: Regex | None = None

    def _compiled(self) -> Regex:
        regex = self._regex
        if regex is None:
            regex = self._regex = compile_regex(self._pattern, self._flags)
        return regex

    def search(self, text: str) -> bool:
        return (self._regex or self._compiled()).search(text)

    def fullmatch(self, text: str) -> bool:
        return (self._regex or self._compiled()).fullmatch(text)


class Conditions:
    """A module's logsource conditions: `verdicts(fields)[w]` tells whether condition `w` holds.

    Records of one source repeat a few channel and event id values, so when every condition reads
    only top-level fields (`paths[w]`, None for anything else: nested paths, keywords, Python
    hooks), all verdicts are computed once per distinct combination of those fields' values and
    remembered (up to MEMO_SIZE combinations). Values other than strings, integers and null are
    never remembered (True == 1 and 0.0 == -0.0 would share verdicts their texts do not).
    Otherwise each condition is tested when first needed, once per record.
    """

    __slots__ = ("_defaults", "_memo", "_paths", "tests")

    MEMO_SIZE = 1024
    PLAIN = frozenset((str, int, type(None), type(MISSING)))

    def __init__(self, tests: tuple, paths: tuple[tuple[str, ...] | None, ...]) -> None:
        self.tests = tests
        memoizable = all(p is not None for p in paths)
        self._paths = tuple(sorted({f for p in paths if p is not None for f in p})) if memoizable else None
        self._defaults = (MISSING,) * len(self._paths or ())
        self._memo: dict[tuple, tuple[bool, ...]] = {}

    def verdicts(self, fields: Fields) -> Any:
        record = fields.record
        if self._paths is None or type(record) is not dict:
            return _Verdicts(self.tests, fields)
        key = tuple(map(record.get, self._paths, self._defaults))
        if not self.PLAIN.issuperset(map(type, key)):
            return _Verdicts(self.tests, fields)
        verdicts = self._memo.get(key)
        if verdicts is None:
            verdicts = tuple(bool(test(fields)) for test in self.tests)
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = verdicts
        return verdicts


class _Verdicts(dict):
    """Verdicts tested when first asked for, once per record."""

    __slots__ = ("fields", "tests")

    def __init__(self, tests: tuple, fields: Fields) -> None:
        super().__init__()
        self.tests, self.fields = tests, fields

    def __missing__(self, w: int) -> bool:
        verdict = self[w] = bool(self.tests[w](self.fields))
        return verdict


def number_rules(rules: tuple, whens: tuple, anchors: dict, always: tuple) -> MatchTables:
    """The tables `run_rules` takes, numbered at import from a module's tables, which name rules and
    conditions by their functions (so a change to one rule changes only its own lines of them).

    `rules` holds `(rule id, condition, check)` in rule order, `whens` `(condition, the top-level fields
    it reads)`, `anchors` each field's wrapped literals → the checks they anchor, `always` the checks of
    the rules without anchors. Rules are numbered in the order of `rules`, conditions in that of `whens`.
    """
    number = {check: i for i, (_, _, check) in enumerate(rules)}
    tests = tuple(test for test, _ in whens)
    when_number = {test: w for w, test in enumerate(tests)}
    index = AnchorIndex(
        {path: {text: tuple(sorted(number[c] for c in checks)) for text, checks in literals.items()} for path, literals in anchors.items()},
        tuple(sorted(number[c] for c in always)),
    )
    conditions = Conditions(tests, tuple(paths for _, paths in whens))
    rule_whens = tuple(when_number[when] for _, when, _ in rules)
    return MatchTables(index, conditions, rule_whens, tuple(check for *_, check in rules), tuple(key for key, *_ in rules))


def run_rules(fields: Fields, tables: MatchTables, errors: list | None = None) -> list[str]:
    """The ids of the rules that match, in rule order: the body of every generated `match`.

    `tables` is the module's `TABLES` (`runtime.contract.MatchTables`).
    The anchor index gives the candidate rules; a candidate counts when its logsource condition
    holds (each condition tested at most once per record) and its check passes. With an `errors`
    list, a check that raises is recorded there as `(rule id, exception)` and the other rules still
    run; without one, the exception propagates.
    """
    index, whens, rule_whens, checks, rule_ids = tables
    candidates = index.candidates(fields)
    if not candidates:
        return []
    verdicts = whens.verdicts(fields)
    if errors is None:
        hits = []
        for i in candidates:
            if verdicts[rule_whens[i]] and checks[i](fields):
                hits.append(i)
        hits.sort()
        return [rule_ids[i] for i in hits]
    matched = []
    for i in sorted(candidates):  # in rule order, so errors are too
        if not verdicts[rule_whens[i]]:
            continue
        try:
            if checks[i](fields):
                matched.append(rule_ids[i])
        except Exception as exc:  # one rule's failure must not hide the others
            errors.append((rule_ids[i], exc))
    return matched
