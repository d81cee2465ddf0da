"""Optimization passes: golden before/after fixtures, and the same matches on sample events."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from eventgen import events_for, leaf_literals
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import passes
from compiler.codegen import generate_module
from compiler.ir import fmt
from dsl.loader import load_text
from dsl.lower import rule_expr

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "passes"
PASS_NAMES = [p.__name__ for p in passes.PASSES]


def read_cases(name: str) -> list[dict]:
    text = (FIXTURES / f"{name}.txt").read_text(encoding="utf-8")
    cases = []
    for block in re.split(r"\n\s*\n", text.strip()):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith("#"))
        fields["title"] = block.splitlines()[0].removeprefix("# title: ")
        cases.append(fields)
    return cases


CASES = [(name, case) for name in PASS_NAMES for case in read_cases(name)]


def tree_of(detection: str):
    result = load_text(f"title: t\nlogsource: {{product: x}}\ndetection: {detection}\n")
    assert not result.errors, result.errors
    return rule_expr(result.rules[0])


def matcher(tree):
    namespace: dict = {}
    exec(generate_module("t", [("r", "case", tree, {})], "test").source, namespace)
    return lambda event: namespace["match"](event) == ["r"]


def test_every_pass_has_fixtures():
    """Each pass in PASSES has a golden fixture file with at least two cases, among them a `not`, a
    constant and a placeholder (an expand with no values lowers to false)."""
    for name in PASS_NAMES:
        cases = read_cases(name)
        assert len(cases) >= 2, name
        assert any("not(" in c["before"] for c in cases), name
        assert any(re.search(r"\b(true|false)\b", c["before"]) for c in cases), name
        assert any("|expand" in c["detection"] for c in cases), name


@pytest.mark.parametrize(("name", "case"), CASES, ids=[f"{n}: {c['title']}" for n, c in CASES])
def test_golden(name, case):
    """The pass turns the lowered tree into the expected one."""
    before = tree_of(case["detection"])
    assert fmt(before) == case["before"]
    assert fmt(getattr(passes, name)(before)) == case["after"]


@pytest.mark.parametrize(("name", "case"), CASES, ids=[f"{n}: {c['title']}" for n, c in CASES])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], database=None)
@given(data=st.data())
def test_pass_keeps_matches(name, case, data):
    """On events built from the case's literals, the tree before and after the pass match alike."""
    before = tree_of(case["detection"])
    after = getattr(passes, name)(before)
    event = data.draw(events_for(leaf_literals(before)))
    assert matcher(before)(event) == matcher(after)(event)
