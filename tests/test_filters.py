"""Sigma filters: the filter's condition is ANDed onto each rule it names (or every rule of a matching
logsource with `rules: any`), at load time, so the interpreter and the compiled matchers run one rewritten rule."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eventgen import rule_events
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rulegen import DETECTIONS, events_for_rule
from support.stateful import SCHEMAS, replay, write_tree

from compiler.build import generate, plan, write_package
from dsl.ast import LogSource, Rule
from dsl.documents import Filter
from dsl.filters import apply_filters
from dsl.interpreter import eval_expr, evaluate
from dsl.loader import load_paths
from dsl.lower import LowerError, rule_expr

RULE = """\
title: Console login without MFA
id: 7d8a1f64-3c7e-4d4c-9b1a-0c3f7a8e0001
name: no_mfa_login
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: ConsoleLogin
    additionalEventData.MFAUsed: 'No'
  condition: selection
"""
OTHER = """\
title: Root activity
id: 7d8a1f64-3c7e-4d4c-9b1a-0c3f7a8e0002
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    userIdentity.type: Root
  condition: selection
"""
WINDOWS = """\
title: Whoami
id: 7d8a1f64-3c7e-4d4c-9b1a-0c3f7a8e0003
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\\\whoami.exe'
  condition: selection
"""
FILTER = """\
title: Ignore the break-glass user
logsource: {product: aws, service: cloudtrail}
filter:
  rules: [no_mfa_login]
  selection:
    userIdentity.userName: breakglass
  condition: not selection
"""


def login(user: str, kind: str = "IAMUser") -> dict:
    return {
        "eventVersion": "1.08",
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "userIdentity": {"type": kind, "userName": user},
        "additionalEventData": {"MFAUsed": "No"},
    }


def loaded(tmp_path: Path, files: dict[str, str]):
    write_tree(tmp_path, {f"rules/{name}": text for name, text in files.items()})
    return load_paths([tmp_path / "rules"])


class TestApplying:
    def test_named_rule_is_filtered_and_others_are_not(self, tmp_path: Path) -> None:
        """The filter excludes the break-glass user from the rule it names, and leaves the other rule alone."""
        result = loaded(tmp_path, {"a.yml": RULE, "b.yml": OTHER, "f.yml": FILTER})
        assert result.diagnostics == []
        rules = {r.key: r for r in result.rules}
        no_mfa, root = rules["7d8a1f64-3c7e-4d4c-9b1a-0c3f7a8e0001"], rules["7d8a1f64-3c7e-4d4c-9b1a-0c3f7a8e0002"]
        assert evaluate(no_mfa, login("alice")) and not evaluate(no_mfa, login("breakglass"))
        assert evaluate(root, login("breakglass", "Root"))
        assert [s.name for s in no_mfa.detection.selections] == ["selection", "_filter0_selection"]

    def test_rules_any_filters_every_rule_of_the_logsource(self, tmp_path: Path) -> None:
        """`rules: any` applies to each rule whose logsource fits, and not to a Windows rule."""
        flt = FILTER.replace("rules: [no_mfa_login]", "rules: any")
        result = loaded(tmp_path, {"a.yml": RULE, "b.yml": OTHER, "w.yml": WINDOWS, "f.yml": flt})
        assert result.diagnostics == []
        by_title = {r.title: r for r in result.rules}
        assert not evaluate(by_title["Root activity"], login("breakglass", "Root"))
        assert not evaluate(by_title["Console login without MFA"], login("breakglass"))
        assert len(by_title["Whoami"].detection.selections) == 1

    def test_filter_patterns_reach_only_the_filters_identifiers(self, tmp_path: Path) -> None:
        """A filter's `1 of sel*` and the rule's `1 of sel*` each select their own identifiers."""
        rule = RULE.replace("  selection:\n", "  sel_a:\n").replace("condition: selection", "condition: 1 of sel*")
        flt = FILTER.replace("  selection:\n", "  sel_user:\n").replace("condition: not selection", "condition: not 1 of sel*")
        (filtered,) = loaded(tmp_path, {"a.yml": rule, "f.yml": flt}).rules
        assert evaluate(filtered, login("alice")) and not evaluate(filtered, login("breakglass"))

    @pytest.mark.parametrize("engine", ["compiled", "interpreter"])
    def test_replay_runs_the_filtered_rule(self, tmp_path: Path, engine: str) -> None:
        """`sigil replay` (either engine) alerts on alice's login and not on the break-glass user's."""
        write_tree(tmp_path, {"rules/a.yml": RULE, "rules/f.yml": FILTER})
        events = tmp_path / "events.jsonl"
        events.write_text("\n".join(json.dumps(login(u)) for u in ("alice", "breakglass")) + "\n")
        status, alerts, _ = replay(["--rules", str(tmp_path / "rules"), "--engine", engine, str(events)])
        assert status == 0 and [a["event_index"] for a in alerts] == [0]


class TestMistakes:
    def test_filter_naming_no_rule(self, tmp_path: Path) -> None:
        """A filter naming a rule that was not loaded is E056 at the name."""
        result = loaded(tmp_path, {"a.yml": RULE, "f.yml": FILTER.replace("[no_mfa_login]", "[no_mfa_logn]")})
        (diag,) = result.errors
        assert (diag.code, diag.loc.line, diag.loc.col, diag.hint) == ("E056", 4, 11, "did you mean no_mfa_login?")

    def test_filter_whose_logsource_does_not_fit(self, tmp_path: Path) -> None:
        """A filter naming a rule of another logsource is E057 at the name, saying both logsources."""
        flt = FILTER.replace("rules: [no_mfa_login]", "rules: [7d8a1f64-3c7e-4d4c-9b1a-0c3f7a8e0003]")
        result = loaded(tmp_path, {"w.yml": WINDOWS, "f.yml": flt})
        (diag,) = result.errors
        assert (diag.code, diag.loc.line, diag.loc.col) == ("E057", 4, 11)
        assert diag.hint == "the rule's logsource is product=windows category=process_creation, the filter's product=aws service=cloudtrail"

    def test_filter_without_rules_or_condition(self, tmp_path: Path) -> None:
        """A filter lacking `rules` or `condition` is E052 at its `filter` mapping."""
        result = loaded(tmp_path, {"f.yml": FILTER.replace("  rules: [no_mfa_login]\n", "").replace("  condition: not selection\n", "")})
        assert sorted(d.message for d in result.errors) == ["the filter has no 'condition'", "the filter has no 'rules'"]
        assert {d.loc.line for d in result.errors} == {4}

    def test_filter_with_an_unknown_identifier(self, tmp_path: Path) -> None:
        """The filter's condition is checked like a rule's: an unknown identifier is E040 with a hint."""
        result = loaded(tmp_path, {"a.yml": RULE, "f.yml": FILTER.replace("not selection", "not selectoin")})
        (diag,) = result.errors
        assert (diag.code, diag.loc.line, diag.hint) == ("E040", 7, "did you mean selection?")

    def test_rules_any_that_fits_nothing_is_a_warning(self, tmp_path: Path) -> None:
        """`rules: any` over a logsource no loaded rule has is W050: the filter would do nothing."""
        result = loaded(tmp_path, {"w.yml": WINDOWS, "f.yml": FILTER.replace("[no_mfa_login]", "any")})
        (diag,) = result.diagnostics
        assert (diag.code, diag.loc.line) == ("W050", 2)

    def test_filter_naming_a_correlation(self, tmp_path: Path) -> None:
        """Filters apply to detection rules: naming a correlation is E058."""
        corr = "title: Many\nname: many\ncorrelation:\n  type: event_count\n  rules: [no_mfa_login]\n  group-by: [userIdentity.userName]\n  timespan: 5m\n  condition: {gte: 3}\n"
        result = loaded(tmp_path, {"a.yml": RULE + "---\n" + corr, "f.yml": FILTER.replace("[no_mfa_login]", "[many]")})
        assert [d.code for d in result.errors] == ["E058"]


LOGSOURCE = LogSource(product="aws", service="cloudtrail")


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_detection=DETECTIONS, filter_detection=DETECTIONS, data=st.data())
def test_filtered_rule_is_the_rule_and_the_filter(rule_detection, filter_detection, data):
    """On any event, the rewritten rule fires exactly when the rule fires and the filter's condition holds."""
    rule = Rule("r", LOGSOURCE, rule_detection, id="r")
    alone = Rule("f", LOGSOURCE, filter_detection)
    try:
        rule_expr(rule), rule_expr(alone)
    except LowerError:
        assume(False)
    flt = Filter("f", LOGSOURCE, ("r",), rule_locs=(LOGSOURCE.loc,), detection=filter_detection)
    (filtered,), diags = apply_filters([rule], [flt])
    assert diags == []
    event = data.draw(st.one_of(events_for_rule(rule), events_for_rule(alone)))
    assert evaluate(filtered, event) == (evaluate(rule, event) and evaluate(alone, event))


@pytest.fixture(scope="module")
def compiled_filtered(tmp_path_factory):
    root = write_tree(tmp_path_factory.mktemp("filters"), {"rules/a.yml": RULE, "rules/b.yml": OTHER, "rules/f.yml": FILTER.replace("[no_mfa_login]", "any")})
    result, schemas = plan([str(root / "rules")], str(SCHEMAS))
    assert not result.errors
    generate(result, schemas)
    package = write_package(result, schemas, root / "build")
    import importlib.util

    modules = {}
    for log_type in {c.log_type for c in result.compiled}:  # cloudtrail, and EventBridge's CloudTrail records
        spec = importlib.util.spec_from_file_location(f"_filters_{log_type}", package / f"{log_type}.py")
        modules[log_type] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules[log_type])
    return result, modules


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_compiled_filtered_rules_agree_with_the_interpreter(compiled_filtered, data):
    """The compiled matcher of each filtered rule fires exactly when the interpreter says so."""
    result, modules = compiled_filtered
    compiled = data.draw(st.sampled_from(result.compiled))
    event = data.draw(rule_events(compiled.reference))
    assert (compiled.rule.key in modules[compiled.log_type].match(event)) is eval_expr(compiled.reference, event)


def test_the_language_page_example_filters_as_it_says(tmp_path: Path) -> None:
    """The filter example of docs/language.md, loaded with the rule it names, excludes the break-glass user."""
    import re

    page = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text(encoding="utf-8")
    section = page.split("## Filters", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    (rule,) = loaded(tmp_path, {"a.yml": RULE, "f.yml": example}).rules
    assert evaluate(rule, login("alice")) and not evaluate(rule, login("breakglass"))
