"""The shipped rule pack: loads cleanly, compiles, and every in-rule test holds in both engines.

The one place rules/ is tested (until `sigil test` does it): generically, each rule by its own tests, on the
log types the compiler put it in. Nothing here names a rule or a log type, so a team's new rule can fail
only its own tests. The tool's tests use their own rule set (tests/fixtures/ruleset)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

from compiler.build import compile_rules
from dsl.interpreter import evaluate
from dsl.loader import load_paths
from runtime.classifier import Classifier

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
    modules = {lt: importlib.import_module(f"sigil_rules.{mod}") for lt, mod in package.LOG_TYPES.items()}
    log_types: dict[str, list[str]] = {}
    for entry in json.loads((out / "sigil_rules" / "manifest.json").read_text())["rules"]:
        log_types.setdefault(entry["id"], []).append(entry["log_type"])
    classifier = Classifier(json.loads((out / "sigil_rules" / "schemas.json").read_text(encoding="utf-8")))
    yield modules, log_types, classifier
    sys.path.remove(str(out))
    for name in [m for m in sys.modules if m == "sigil_rules" or m.startswith("sigil_rules.")]:
        del sys.modules[name]


def test_rule_pack_loads_without_diagnostics():
    """Every shipped rule loads with no error and no warning, and each has tests of both outcomes."""
    assert RULES.diagnostics == []
    assert RULES.rules
    for rule in RULES.rules:
        outcomes = {t.expect for t in rule.tests}
        assert outcomes == {True, False}, f"{rule.path} needs a positive and a negative test"


CASES = [(rule, test) for rule in RULES.rules for test in rule.tests]


@pytest.mark.parametrize(("rule", "test"), CASES, ids=[f"{Path(r.path).stem}::{t.name}" for r, t in CASES])
def test_rule_test_holds_in_interpreter(rule, test):
    """The reference interpreter gives the outcome the rule's own test expects."""
    assert evaluate(rule, test.event) is test.expect


ENABLED = [(rule, test) for rule, test in CASES if rule.enabled]


@pytest.mark.parametrize(("rule", "test"), ENABLED, ids=[f"{Path(r.path).stem}::{t.name}" for r, t in ENABLED])
def test_rule_test_holds_in_the_compiled_module_of_its_log_type(rule, test, compiled_package):
    """The Lambda's classifier, choosing among every shipped log type, puts the test event in one of the rule's
    log types (from the manifest): required fields and patterns present, every value of its schema's type. A
    test event of another shape would test a record the Lambda never hands the rule. The generated matcher of
    that log type gives the outcome the test expects."""
    modules, log_types, classifier = compiled_package
    assert log_types.get(rule.key), f"{rule.path} compiled into no log type"
    classification = classifier.classify(dict(test.event))
    assert classification.log_type in log_types[rule.key], classification.reason
    assert (rule.key in modules[classification.log_type].match(test.event)) is test.expect


def test_rule_pack_prints_and_loads_back_equal():
    """Each shipped rule goes through the printer (dsl/printer.py) and loads back equal."""
    from dsl.loader import load_text
    from dsl.printer import dump_rule

    changed = [rule.path for rule in RULES.rules if load_text(dump_rule(rule), rule.path).rules != [rule]]
    assert changed == []


def test_no_other_test_reads_the_shipped_rules():
    """Tests of the tool compile their own rules (tests/fixtures/ruleset, temporary dirs), never rules/: a team's
    new rule must not turn them red. This file is the only reader of rules/."""
    import re

    readers = [
        path.name
        for path in sorted((ROOT / "tests").rglob("*.py"))
        if path.name != Path(__file__).name and re.search(r"\b(ROOT|REPO)\s*/\s*\"rules\"", path.read_text(encoding="utf-8"))
    ]
    assert readers == []
