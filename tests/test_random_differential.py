"""Random rules, compiled with every optimization pass, agree with the reference interpreter.

The rules come from `rulegen`: every modifier, keywords, `expand` placeholders (with values, empty and
undefined), `1 of` / `all of`, `not` and nested conditions. Each example is a small rule set of one log type
whose rules need different logsource conditions (as several logsources mapped to one schema give), compiled
into one module as `sigil compile` lays it out (anchor index, shared conditions, set constants). Events are
built from the rules' own literals and from witnesses of their trees, so that a good share of them fire:
`test_the_events_fire_the_rules_often` measures that share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventgen import events_for, leaf_literals, witness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rulegen import DETECTIONS, FIELDS, PLACEHOLDERS

from compiler.codegen import RuleInput, generate_module
from compiler.passes import normalize, optimize
from dsl.ast import FieldItem, LogSource, Rule, Selection
from dsl.expr import Const, Expr, Not, all_of, any_of
from dsl.interpreter import eval_expr
from dsl.lower import rule_expr, selection_expr

DIFFERENTIAL = settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)


def _logsource(*items: tuple[str, tuple[Any, ...]]) -> Expr:
    """A logsource condition as a schema mapping gives one: field values, lowered like a selection."""
    return selection_expr(Selection("logsource", (tuple(FieldItem(f, (), v) for f, v in items),)))


# Logsource conditions of several logsources on one log type (no condition, a channel, a channel and event ids).
WHENS = (
    Const(True),
    _logsource(("Channel", ("Security",))),
    _logsource(("Channel", ("Security",)), ("EventID", (4688, 1))),
    _logsource(("Channel", ("Microsoft-Windows-Sysmon/Operational",))),
)


@dataclass(frozen=True)
class RuleSet:
    """Rules as (key, logsource condition, lowered tree), in module order."""

    rules: tuple[tuple[str, Expr, Expr], ...]

    def reference(self, event: dict) -> list[str]:
        """The interpreter's verdict: the rules whose logsource condition and tree hold, in rule order."""
        return [key for key, when, expr in self.rules if eval_expr(when, event) and eval_expr(expr, event)]

    def module(self) -> Any:
        """The module `sigil compile` would write: every tree and condition through all the passes."""
        inputs = [RuleInput(key, f"<random rule {key}>", optimize(expr), {}, optimize(when)) for key, when, expr in self.rules]
        namespace: dict = {}
        exec(compile(generate_module("random", inputs, "test").source, "<random rules>", "exec"), namespace)
        return namespace["match"]


# A selection whose only item expands a placeholder with no values: it lowers to the constant false.
NOTHING = st.sampled_from(("empty", "undefined")).map(
    lambda name: selection_expr(Selection("nothing", ((FieldItem("User.Name", ("expand",), (f"%{name}%",)),),)), PLACEHOLDERS)
)
# How a rule uses such a selection, as filters in real rules do: `... and not nothing`, `nothing or ...`,
# `not (nothing or not ...)`. Random detections hold it too, but too rarely to count on.
WITH_NOTHING = (
    lambda expr, nothing: expr,
    lambda expr, nothing: all_of([expr, Not(nothing)]),
    lambda expr, nothing: any_of([nothing, expr]),
    lambda expr, nothing: Not(any_of([nothing, Not(expr)])),
)


@st.composite
def rule_sets(draw) -> RuleSet:
    rules = []
    for i in range(draw(st.integers(1, 3))):
        rule = Rule(f"r{i}", LogSource(), draw(DETECTIONS))
        expr = draw(st.sampled_from(WITH_NOTHING))(rule_expr(rule, PLACEHOLDERS), draw(NOTHING))
        rules.append((f"r{i}", draw(st.sampled_from(WHENS)), expr))
    return RuleSet(tuple(rules))


@st.composite
def cases(draw) -> tuple[RuleSet, dict]:
    """A rule set and an event: a witness of one rule (its logsource condition included) or its mutated literals."""
    rule_set = draw(rule_sets())
    _, when, expr = draw(st.sampled_from(rule_set.rules))
    target = normalize(all_of([when, expr]))  # `not` pushed down to the tests, where witnesses can skip it
    if draw(st.integers(0, 3)):
        event = draw(witness(target))
    else:
        event = draw(events_for(leaf_literals(target), extra_fields=FIELDS))
    return rule_set, event


@DIFFERENTIAL
@given(cases())
def test_compiled_random_rules_agree_with_the_interpreter(case: tuple[RuleSet, dict]) -> None:
    """match() returns exactly the rules the interpreter fires, in rule order."""
    rule_set, event = case
    assert rule_set.module()(event) == rule_set.reference(event)


def test_the_events_fire_the_rules_often() -> None:
    """At least a third of the examples fire some rule, so that agreement is not mostly on `no match`."""
    fired: list[bool] = []

    @settings(max_examples=300, database=None, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(cases())
    def sample(case: tuple[RuleSet, dict]) -> None:
        rule_set, event = case
        fired.append(bool(rule_set.reference(event)))

    sample()
    ratio = sum(fired) / len(fired)
    print(f"random differential: {sum(fired)}/{len(fired)} examples fire a rule ({ratio:.0%})")
    assert ratio >= 1 / 3, f"only {ratio:.0%} of the examples fire a rule"
