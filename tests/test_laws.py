"""The interpreter obeys boolean algebra and Sigma's `1 of` / `all of` expansions on random rules and events."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, find, given, settings
from hypothesis import strategies as st
from rulegen import SELECTIONS, atoms, conditions, events_for_rule, matching, patterns

from dsl.ast import Condition, Detection, FieldItem, LogSource, Rule, Selection
from dsl.condition import parse_condition, unparse
from dsl.diagnostics import Loc
from dsl.expr import Expr
from dsl.interpreter import eval_expr, evaluate
from dsl.lower import condition_expr, selection_expr
from dsl.modifiers import lower_item

LAWS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ALGEBRA = {
    "De Morgan over and": ("not ({a} and {b})", "not {a} or not {b}"),
    "De Morgan over or": ("not ({a} or {b})", "not {a} and not {b}"),
    "double negation": ("not not {a}", "{a}"),
    "and commutes": ("{a} and {b}", "{b} and {a}"),
    "or commutes": ("{a} or {b}", "{b} or {a}"),
    "and associates": ("({a} and {b}) and {c}", "{a} and ({b} and {c})"),
    "or associates": ("({a} or {b}) or {c}", "{a} or ({b} or {c})"),
    "and distributes over or": ("{a} and ({b} or {c})", "({a} and {b}) or ({a} and {c})"),
    "or distributes over and": ("{a} or ({b} and {c})", "({a} or {b}) and ({a} or {c})"),
}

PRECEDENCE = {
    "and binds tighter than a preceding or": ("{a} or {b} and {c}", "{a} or ({b} and {c})"),
    "and binds tighter than a following or": ("{a} and {b} or {c}", "({a} and {b}) or {c}"),
    "not binds tighter than and": ("not {a} and {b}", "(not {a}) and {b}"),
    "not binds tighter than or": ("not {a} or {b}", "(not {a}) or {b}"),
    "not binds tighter than and, on the right": ("{a} and not {b}", "{a} and (not {b})"),
}


@dataclass(frozen=True)
class Case:
    """A random detection and an event built from its literals; `holds` evaluates a condition text on it."""

    detection: Detection
    event: Any

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.detection.selections]

    @cached_property
    def _selections(self) -> dict[str, Expr]:
        return {s.name: selection_expr(s) for s in self.detection.selections}

    def holds(self, text: str) -> bool:
        cond = parse_condition(text, Loc("<law>"))
        return eval_expr(condition_expr(cond, self.detection, self._selections.__getitem__), self.event)

    def fires(self, conds: tuple[Condition, ...]) -> bool:
        """The whole rule, through `evaluate`, with `conds` as its condition list."""
        detection = replace(self.detection, conditions=conds, condition_texts=tuple(unparse(c) for c in conds))
        return evaluate(Rule("law", LogSource(), detection), self.event)


@st.composite
def cases(draw) -> Case:
    detection = Detection(draw(SELECTIONS), ())
    return Case(detection, draw(events_for_rule(Rule("law", LogSource(), detection))))


def _fill(template: str, parts: list[str]) -> str:
    return template.format(**dict(zip("abc", parts, strict=True)))


def _assert_laws(case: Case, laws: dict[str, tuple[str, str]], parts: list[str]) -> None:
    for name, (left, right) in laws.items():
        lhs, rhs = _fill(left, parts), _fill(right, parts)
        assert case.holds(lhs) == case.holds(rhs), f"{name}: '{lhs}' vs '{rhs}' on {case.event!r}"


@LAWS
@given(data=st.data())
def test_algebraic_laws_hold_on_random_conditions(data):
    """De Morgan, double negation, commutativity, associativity and distributivity hold for random sub-conditions."""
    case = data.draw(cases(), label="case")
    parts = [f"({unparse(data.draw(conditions(case.names, max_leaves=4), label=x))})" for x in "abc"]
    _assert_laws(case, ALGEBRA, parts)


@LAWS
@given(data=st.data())
def test_precedence_matches_explicit_parentheses(data):
    """`not` binds tighter than `and`, which binds tighter than `or`: each bare form means the parenthesised one."""
    case = data.draw(cases(), label="case")
    parts = [unparse(data.draw(atoms(case.names), label=x)) for x in "abc"]
    _assert_laws(case, PRECEDENCE, parts)


@LAWS
@given(data=st.data())
def test_of_expands_to_the_matching_identifiers(data):
    """`1 of p`, `any of p` and `all of p` (p a pattern or `them`) equal the OR / AND of the identifiers they select, `_` ones left out."""
    case = data.draw(cases(), label="case")
    targets = patterns(case.names)
    assume(targets)  # not when every identifier starts with `_`
    pattern = data.draw(st.sampled_from(targets), label="pattern")
    names = matching(case.names, pattern)
    target = pattern or "them"
    for written, expanded in [
        (f"1 of {target}", " or ".join(names)),
        (f"any of {target}", " or ".join(names)),
        (f"all of {target}", " and ".join(names)),
        (f"not 1 of {target}", " and ".join(f"not {n}" for n in names)),
        (f"not all of {target}", " or ".join(f"not {n}" for n in names)),
    ]:
        assert case.holds(written) == case.holds(expanded), (written, expanded)


ALWAYS = Selection("_always", ((FieldItem("no.such.field", (), (None,)),),))  # absent field: null matches
NEVER = Selection("_never", ((FieldItem("no.such.field", ("exists",), (True,)),),))


@LAWS
@given(case=cases())
def test_hidden_identifiers_do_not_change_them(case):
    """Adding `_` identifiers that always / never match changes neither `1 of them` nor `all of them`."""
    assume(matching(case.names, None))
    hidden = Case(replace(case.detection, selections=(*case.detection.selections, ALWAYS, NEVER)), case.event)
    assert hidden.holds("_always") and not hidden.holds("_never")
    for quantifier in ("1", "all"):
        assert case.holds(f"{quantifier} of them") == hidden.holds(f"{quantifier} of them")
        assert case.holds(f"{quantifier} of *") == hidden.holds(f"{quantifier} of *")


@LAWS
@given(data=st.data())
def test_a_list_of_conditions_is_their_or(data):
    """A rule with several conditions fires exactly when the one condition ORing them does."""
    case = data.draw(cases(), label="case")
    conds = tuple(data.draw(st.lists(conditions(case.names, max_leaves=4), min_size=2, max_size=3), label="conditions"))
    joined = parse_condition(" or ".join(f"({unparse(c)})" for c in conds), Loc("<law>"))
    assert case.fires(conds) == case.fires((joined,))
    assert case.fires(conds) == any(case.holds(unparse(c)) for c in conds)


FAMILIES = {
    "plain": lambda item: item.field is not None and not item.modifiers,
    "keyword": lambda item: item.field is None,
    "contains": lambda item: "contains" in item.modifiers and "base64offset" not in item.modifiers,
    "windash": lambda item: "windash" in item.modifiers,
    "base64offset": lambda item: "base64offset" in item.modifiers,
    "re": lambda item: "re" in item.modifiers,
    "cidr": lambda item: "cidr" in item.modifiers,
    "compare": lambda item: bool({"lt", "lte", "gt", "gte"} & set(item.modifiers)) and len(item.modifiers) <= 2,
    "exists": lambda item: "exists" in item.modifiers,
    "fieldref": lambda item: "fieldref" in item.modifiers,
    "neq": lambda item: "neq" in item.modifiers,
}
SEARCH = settings(max_examples=3000, database=None, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))


def _family_outcomes(case: Case, family: str) -> set[bool]:
    items: list[FieldItem] = [i for s in case.detection.selections for alt in s.alternatives for i in alt if FAMILIES[family](i)]
    return {eval_expr(lower_item(i), case.event) for i in items}


@pytest.mark.parametrize("family", FAMILIES)
def test_generated_events_reach_both_outcomes(family):
    """For every kind of item some generated event matches it and some misses it, so the laws compare real outcomes."""
    for outcome in (True, False):
        found = find(cases(), lambda c, o=outcome: o in _family_outcomes(c, family), settings=SEARCH)
        assert outcome in _family_outcomes(found, family)
