"""Generated matchers agree with the reference interpreter on events built from each rule's literals."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from eventgen import events_for, leaf_literals, rule_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.build import generate, plan, write_package
from dsl.interpreter import eval_expr, evaluate

ROOT = Path(__file__).resolve().parents[1]


def _load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    result, schemas = plan([str(ROOT / "rules")], str(ROOT / "schemas"))
    assert not result.errors
    generate(result, schemas)
    package = write_package(result, schemas, tmp_path_factory.mktemp("build"))
    modules = {lt: _load_module(package / f"{lt}.py", f"_diff_{lt}") for lt in result.modules}
    return result, schemas, modules


RULE_KEYS = [r.key for r in plan([str(ROOT / "rules")], str(ROOT / "schemas"))[0].rules]


@pytest.mark.parametrize("rule_key", RULE_KEYS)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(data=st.data())
def test_shipped_rule_agrees_with_the_interpreter(shipped, rule_key, data):
    """match() contains the rule exactly when the interpreter says it fires (logsource condition included)."""
    result, _, modules = shipped
    compiled_forms = [c for c in result.compiled if c.rule.key == rule_key]
    assert compiled_forms
    for compiled in compiled_forms:
        event = data.draw(rule_events(compiled.reference), label="event")
        # the reference: the logsource condition and the rule as lowered (field renames included)
        expected = any(eval_expr(c.reference, event) for c in compiled_forms if c.log_type == compiled.log_type)
        assert (compiled.rule.key in modules[compiled.log_type].match(event)) is expected


@settings(max_examples=200, deadline=None, database=None)
@given(st.dictionaries(st.sampled_from(["eventName", "eventSource", "userIdentity", "errorCode"]), st.none() | st.text(max_size=5) | st.integers() | st.lists(st.text(max_size=3), max_size=2)))
def test_arbitrary_shapes_never_break_matchers(shipped, event):
    """Odd value shapes (None, numbers, lists, strings where maps were expected) neither crash nor disagree."""
    result, _, modules = shipped
    fired = set(modules["cloudtrail"].match(event))
    for compiled in result.compiled:
        assert (compiled.rule.key in fired) == evaluate(compiled.rule, event)


@pytest.mark.parametrize("rule_key", RULE_KEYS)
def test_event_generator_reaches_both_outcomes(shipped, rule_key):
    """The generated events include ones that fire the rule and ones that don't, so agreement means something."""
    from hypothesis import find

    result, _, _ = shipped
    compiled = next(c for c in result.compiled if c.rule.key == rule_key)
    strategy = events_for(leaf_literals(compiled.expr))
    quick = settings(max_examples=2000, database=None, deadline=None)
    assert evaluate(compiled.rule, find(strategy, lambda e: evaluate(compiled.rule, e), settings=quick))
    assert not evaluate(compiled.rule, find(strategy, lambda e: not evaluate(compiled.rule, e), settings=quick))
