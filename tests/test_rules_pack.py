"""The shipped rule pack: loads cleanly, compiles, and every in-rule test holds in both engines."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from compiler.build import compile_rules
from dsl.interpreter import evaluate
from dsl.loader import load_paths

ROOT = Path(__file__).resolve().parents[1]
RULES = load_paths([ROOT / "rules"])


@pytest.fixture(scope="module")
def compiled_package(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    result = compile_rules([str(ROOT / "rules")], str(ROOT / "schemas"), out)
    assert not result.errors, result.errors
    sys.path.insert(0, str(out))
    for name in [m for m in sys.modules if m == "sigil_rules" or m.startswith("sigil_rules.")]:
        del sys.modules[name]
    package = importlib.import_module("sigil_rules")
    yield {lt: importlib.import_module(f"sigil_rules.{mod}") for lt, mod in package.LOG_TYPES.items()}
    sys.path.remove(str(out))
    for name in [m for m in sys.modules if m == "sigil_rules" or m.startswith("sigil_rules.")]:
        del sys.modules[name]


def test_rule_pack_loads_without_diagnostics():
    """Every shipped rule loads with no error and no warning, and each has tests of both outcomes."""
    assert RULES.diagnostics == []
    assert len(RULES.rules) >= 5
    for rule in RULES.rules:
        outcomes = {t.expect for t in rule.tests}
        assert outcomes == {True, False}, f"{rule.path} needs a positive and a negative test"


CASES = [(rule, test) for rule in RULES.rules for test in rule.tests]


@pytest.mark.parametrize(("rule", "test"), CASES, ids=[f"{Path(r.path).stem}::{t.name}" for r, t in CASES])
def test_rule_test_holds_in_interpreter(rule, test):
    """The reference interpreter gives the outcome the rule's own test expects."""
    assert evaluate(rule, test.event) is test.expect


@pytest.mark.parametrize(("rule", "test"), CASES, ids=[f"{Path(r.path).stem}::{t.name}" for r, t in CASES])
def test_rule_test_holds_in_compiled_module(rule, test, compiled_package):
    """The generated matcher gives the outcome the rule's own test expects."""
    module = compiled_package["cloudtrail"]
    assert (rule.key in module.match(test.event)) is test.expect
