"""Each optimization pass keeps the meaning of a tree, as the reference interpreter gives it.

The IR is one closed set of nodes (dsl/expr.py, the set-based `InSet` and `AnyAffix` included) and the
interpreter evaluates all of it, so a pass is checked on its own, without generating code: on random rules
(`rulegen`: every modifier, keywords, `expand` placeholders with values, empty and undefined, `not` and
nested conditions) under the logsource conditions schemas give, the tree a pass takes and the tree it
returns give the same verdict on events built from the tree's literals and from witnesses of it. Each pass
is checked where `PASSES` runs it (on what the earlier passes returned) and alone on the lowered tree. A
disagreement here is the pass's; tests/test_random_differential.py checks the generated code on top.
"""

from __future__ import annotations

from collections import Counter

import pytest
from eventgen import events_for, leaf_literals, witness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rulegen import DETECTIONS, FIELDS, PLACEHOLDERS
from test_random_differential import NOTHING, WHENS, WITH_NOTHING

from compiler.ir import fmt
from compiler.passes import PASSES, normalize
from dsl.ast import LogSource, Rule
from dsl.expr import AnyAffix, Expr, InSet, Or, StrMatch, all_of
from dsl.interpreter import eval_expr
from dsl.lower import rule_expr

MEANING = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
PASS_NAMES = [p.__name__ for p in PASSES]


@st.composite
def trees(draw) -> Expr:
    """A random rule's lowered tree under a logsource condition, as `sigil compile` hands it to the passes."""
    rule = Rule("r", LogSource(), draw(DETECTIONS))
    expr = draw(st.sampled_from(WITH_NOTHING))(rule_expr(rule, PLACEHOLDERS), draw(NOTHING))
    return all_of([draw(st.sampled_from(WHENS)), expr])


@st.composite
def cases(draw) -> tuple[Expr, dict]:
    """A tree and an event: a witness of the tree (most often) or its literals mutated into near misses."""
    tree = draw(trees())
    if draw(st.integers(0, 3)):
        event = draw(witness(normalize(tree)))  # `not` pushed down to the tests, where witnesses can skip it
    else:
        event = draw(events_for(leaf_literals(tree), extra_fields=FIELDS))
    return tree, event


def pipeline(tree: Expr) -> list[tuple[str, Expr, Expr]]:
    """(pass name, the tree it takes, the tree it returns) for each pass, in the order `optimize` runs them."""
    steps = []
    for rewrite in PASSES:
        after = rewrite(tree)
        steps.append((rewrite.__name__, tree, after))
        tree = after
    return steps


@MEANING
@given(cases())
def test_each_pass_keeps_the_meaning_in_the_pipeline(case: tuple[Expr, dict]) -> None:
    """Each pass, given what the passes before it returned, returns a tree the interpreter gives the same verdict."""
    tree, event = case
    for name, before, after in pipeline(tree):
        assert eval_expr(after, event) == eval_expr(before, event), f"{name}: {fmt(before)} → {fmt(after)} on {event!r}"


@pytest.mark.parametrize("index", range(len(PASSES)), ids=PASS_NAMES)
@MEANING
@given(case=cases())
def test_each_pass_alone_keeps_the_meaning(index: int, case: tuple[Expr, dict]) -> None:
    """Each pass, on the lowered tree itself (no pass before it), keeps the interpreter's verdict."""
    tree, event = case
    after = PASSES[index](tree)
    assert eval_expr(after, event) == eval_expr(tree, event), f"{fmt(tree)} → {fmt(after)} on {event!r}"


def test_the_cases_reach_the_set_nodes_and_both_verdicts() -> None:
    """The examples are worth it: the passes make `InSet` and `AnyAffix` nodes, and the optimized trees
    hold on a good share of the events and fail on another (agreement is not mostly on one verdict)."""
    kinds: Counter[str] = Counter()
    verdicts: list[bool] = []

    def count(node: Expr) -> None:
        kinds[type(node).__name__] += 1
        for child in getattr(node, "items", ()) or ((node.item,) if hasattr(node, "item") else ()):
            count(child)

    @settings(max_examples=300, database=None, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(cases())
    def sample(case: tuple[Expr, dict]) -> None:
        tree, event = case
        optimized = pipeline(tree)[-1][2]
        count(optimized)
        verdicts.append(eval_expr(optimized, event))

    sample()
    assert kinds["InSet"] >= 20 and kinds["AnyAffix"] >= 20, kinds
    share = sum(verdicts) / len(verdicts)
    assert 0.2 <= share <= 0.8, f"{share:.0%} of the examples hold"


TEXT = st.text(st.sampled_from("aAbBß-İ "), max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from([None, "f", "a.b"]),
    op=st.sampled_from(["contains", "startswith", "endswith"]),
    values=st.lists(TEXT, min_size=1, max_size=4, unique=True).map(lambda v: tuple(sorted(v))),
    cased=st.booleans(),
    value=st.one_of(TEXT, st.lists(TEXT, max_size=3), st.integers(-2, 2), st.none()),
)
def test_the_set_nodes_mean_their_or_of_tests(field: str | None, op: str, values: tuple[str, ...], cased: bool, value: object) -> None:
    """`InSet` is the `or` of its equalities and `AnyAffix` the `or` of its affix tests, keyword searches included."""
    event = {"message": value} if field is None else {"f": value, "a": {"b": value}}
    equalities = Or(tuple(StrMatch(field, "eq", v, cased) for v in values))
    affixes = Or(tuple(StrMatch(field, op, v, cased) for v in values))
    assert eval_expr(InSet(field, values, cased), event) == eval_expr(equalities, event)
    assert eval_expr(AnyAffix(field, op, values, cased), event) == eval_expr(affixes, event)
