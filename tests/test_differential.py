"""Generated matchers agree with the reference interpreter on events built from each rule's literals.

The rules are the tests' own rule set (tests/fixtures/ruleset, see tests/conftest.py), not rules/: the
random rules of test_random_differential.py cover the language; these are real rules, compiled as
`sigil compile` does (logsource conditions, field renames, several rules in one module)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from eventgen import events_for, leaf_literals, rule_events, witness
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.build import generate, plan, write_package
from dsl.interpreter import eval_expr, evaluate

ROOT = Path(__file__).resolve().parents[1]
RULESET = ROOT / "tests" / "fixtures" / "ruleset"


def _load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    result, schemas = plan([str(RULESET)], str(ROOT / "schemas"))
    assert not result.errors
    generate(result, schemas)
    package = write_package(result, schemas, tmp_path_factory.mktemp("build"))
    modules = {lt: _load_module(package / f"{lt}.py", f"_diff_{lt}") for lt in result.modules}
    return result, schemas, modules


PLAN = plan([str(RULESET)], str(ROOT / "schemas"))[0]
RULE_KEYS = [r.key for r in PLAN.rules]
# What odd-shaped events are made of: the rules' own field names and literals, so that they do fire rules.
PATHS = sorted({f for c in PLAN.compiled for f in leaf_literals(c.reference) if f is not None})
LITERALS = sorted({str(v) for c in PLAN.compiled for vs in leaf_literals(c.reference).values() for v in vs if v is not None})
SHAPES = st.none() | st.sampled_from(LITERALS) | st.text(max_size=5) | st.integers() | st.lists(st.sampled_from(LITERALS) | st.text(max_size=3), max_size=2)
SUBKEYS = sorted({p.split(".", 1)[1].split(".")[0] for p in PATHS if "." in p})


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


ODD_VALUES = SHAPES | st.dictionaries(st.sampled_from(SUBKEYS), SHAPES, max_size=3)
TOP_FIELDS = sorted({p.split(".")[0] for p in PATHS})


@st.composite
def _odd_events(draw) -> dict:
    """A witness of one rule with some of the rules' fields replaced by odd shapes: None, numbers, lists,
    the rules' literals, maps where text was expected and text where maps were."""
    event = draw(witness(draw(st.sampled_from(PLAN.compiled)).reference))
    for field in draw(st.lists(st.sampled_from(TOP_FIELDS), max_size=3, unique=True)):
        event[field] = draw(ODD_VALUES)
    return event


ODD_EVENTS = _odd_events()


@settings(max_examples=200, deadline=None, database=None)
@given(ODD_EVENTS)
def test_arbitrary_shapes_never_break_matchers(shipped, event):
    """Odd value shapes neither crash nor disagree, in every module of the rule set."""
    result, _, modules = shipped
    for log_type, module in modules.items():
        fired = set(module.match(event))
        for compiled in (c for c in result.compiled if c.log_type == log_type):
            assert (compiled.rule.key in fired) == eval_expr(compiled.reference, event)


def test_odd_shapes_fire_rules_too():
    """The odd-shaped events do fire rules (the agreement above is not only on `no match`): report the share."""
    fired: list[bool] = []

    @settings(max_examples=200, database=None, derandomize=True, deadline=None)
    @given(ODD_EVENTS)
    def sample(event):
        fired.append(any(eval_expr(c.reference, event) for c in PLAN.compiled))

    sample()
    print(f"odd shapes: {sum(fired)}/{len(fired)} events fire a rule")
    assert sum(fired) >= len(fired) // 10


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
