"""Helpers that generated matcher modules call.

Contract: the compiler emits ``from runtime.helpers import <name>, ...`` for exactly the names in
``__all__`` and nothing else. To add a helper, define it here, add its name to ``__all__`` and keep it
pure standard library: generated code must run without boto3, dsl/ or compiler/.
"""

from __future__ import annotations

import re
from typing import Any

from runtime.anchor_index import AnchorIndex
from runtime.fields import MISSING, Fields, get_field
from runtime.values import all_texts, folded_texts, ip_in, numbers, texts, time_part

__all__ = [
    "MISSING",
    "AnchorIndex",
    "Condition",
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


class Condition:
    """A logsource condition, `test(fields)`, remembered by the values of the top-level fields it reads.

    Records of one source repeat a few channel and event id values, so most records reuse a verdict.
    `paths` is None when the condition reads anything else (nested paths, keywords, Python hooks);
    values other than strings, integers and null are never remembered (True == 1 and 0.0 == -0.0
    would share a verdict their texts do not).
    """

    __slots__ = ("_defaults", "_memo", "paths", "test")

    MEMO_SIZE = 1024
    PLAIN = frozenset((str, int, type(None), type(MISSING)))

    def __init__(self, test: Any, paths: tuple[str, ...] | None = None) -> None:
        self.test, self.paths = test, paths
        self._defaults = (MISSING,) * len(paths or ())
        self._memo: dict[tuple, bool] = {}

    def __call__(self, fields: Fields) -> bool:
        record = fields.record
        if self.paths is None or type(record) is not dict:
            return bool(self.test(fields))
        key = tuple(map(record.get, self.paths, self._defaults))
        if not self.PLAIN.issuperset(map(type, key)):
            return bool(self.test(fields))
        verdict = self._memo.get(key)
        if verdict is None:
            verdict = bool(self.test(fields))
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = verdict
        return verdict


def run_rules(fields: Fields, tables: tuple, errors: list | None = None) -> list[str]:
    """The ids of the rules that match, in rule order: the body of every generated `match`.

    `tables` is `(index, whens, rule_whens, checks, rule_ids)` as a generated module lays it out.
    The anchor index gives the candidate rules; a candidate counts when its logsource condition
    holds (each condition tested at most once per record) and its check passes. With an `errors`
    list, a check that raises is recorded there as `(rule id, exception)` and the other rules still
    run; without one, the exception propagates.
    """
    index, whens, rule_whens, checks, rule_ids = tables
    candidates = index.candidates(fields)
    verdicts: dict[int, bool] = {}
    matched = []
    if errors is None:
        for i in candidates:
            w = rule_whens[i]
            ok = verdicts.get(w)
            if ok is None:
                ok = verdicts[w] = whens[w](fields)
            if ok and checks[i](fields):
                matched.append(i)
        matched.sort()
        return [rule_ids[i] for i in matched]
    for i in sorted(candidates):  # in rule order, so errors are too
        w = rule_whens[i]
        ok = verdicts.get(w)
        if ok is None:
            ok = verdicts[w] = whens[w](fields)
        if not ok:
            continue
        try:
            if checks[i](fields):
                matched.append(rule_ids[i])
        except Exception as exc:  # one rule's failure must not hide the others
            errors.append((rule_ids[i], exc))
    return matched
