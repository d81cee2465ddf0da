"""The language's command line: lint formats, replay inputs and outputs, extensions, placeholders, correlations."""

from __future__ import annotations

import gzip
import io
import json
import sys
from pathlib import Path

import pytest

from cli.main import main as sigil
from dsl.interpreter import evaluate
from dsl.loader import load_paths, load_text

ROOT = Path(__file__).resolve().parents[1]

RULE = """\
title: Suspicious whoami
id: 6a3c1b9e-2d4f-4e5a-9b8c-7d6e5f4a3b21
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\\\whoami.exe'
  condition: selection
level: high
"""
SYSMON = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\Windows\\System32\\WHOAMI.EXE"}
OTHER = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Image": "C:\\Windows\\notepad.exe"}


def run(argv, capsys, stdin: str | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    status = sigil(argv)
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def rule_file(tmp_path):
    path = tmp_path / "whoami.yml"
    path.write_text(RULE)
    return path


class TestReplay:
    @pytest.mark.parametrize("layout", ["lines", "array", "concatenated", "gzip"])
    def test_event_file_layouts(self, layout, rule_file, tmp_path, capsys, monkeypatch):
        """JSON lines, a JSON array, concatenated objects and gzip all give the same alerts and indexes."""
        monkeypatch.chdir(ROOT)
        events = [OTHER, SYSMON, SYSMON]
        text = {
            "lines": "\n".join(json.dumps(e) for e in events),
            "array": json.dumps(events, indent=2),
            "concatenated": "".join(json.dumps(e, indent=1) for e in events),
            "gzip": "\n".join(json.dumps(e) for e in events),
        }[layout]
        path = tmp_path / "events.json"
        path.write_bytes(gzip.compress(text.encode()) if layout == "gzip" else text.encode())
        status, out, err = run(["replay", "--rules", str(rule_file), str(path)], capsys)
        assert status == 0
        alerts = [json.loads(line) for line in out.splitlines()]
        assert [a["event_index"] for a in alerts] == [1, 2]
        assert alerts[0] == {
            "rule_id": "6a3c1b9e-2d4f-4e5a-9b8c-7d6e5f4a3b21", "title": "Suspicious whoami", "level": "high",
            "log_type": "windows", "file": str(path), "event_index": 1, "record_index": 0,
        }
        assert err.strip() == "3 events, 2 alerts, 0 unclassified, 1 rule (compiled)"

    def test_stdin_and_both_engines(self, rule_file, capsys, monkeypatch):
        """`-` reads standard input; the compiled engine gives the same alerts as the interpreter."""
        monkeypatch.chdir(ROOT)
        data = json.dumps(SYSMON) + "\n" + json.dumps(OTHER)
        outs = []
        for engine in ("interpreter", "compiled"):
            status, out, _ = run(["replay", "--rules", str(rule_file), "--engine", engine, "-"], capsys, data, monkeypatch)
            assert status == 0
            outs.append([json.loads(line) for line in out.splitlines()])
        assert outs[0] == outs[1] and len(outs[0]) == 1 and outs[0][0]["file"] == "-"

    def test_logsource_condition_keeps_other_channels_out(self, rule_file, capsys, monkeypatch):
        """A process_creation rule does not fire on a Sysmon file event that happens to match its fields."""
        monkeypatch.chdir(ROOT)
        file_event = {**SYSMON, "EventID": 11}
        _, out, _ = run(["replay", "--rules", str(rule_file), "-"], capsys, json.dumps(file_event), monkeypatch)
        assert out == ""

    def test_generic_json_log_type_applies_every_rule(self, rule_file, capsys, monkeypatch):
        """`--log-type json` ignores logsources: any JSON object, fields by name or dotted path."""
        monkeypatch.chdir(ROOT)
        _, out, _ = run(["replay", "--rules", str(rule_file), "--log-type", "json", "-"], capsys, json.dumps({"Image": "x\\whoami.exe"}), monkeypatch)
        assert json.loads(out)["log_type"] == "json"

    def test_broken_events_file_is_a_message(self, rule_file, tmp_path, capsys, monkeypatch):
        """Invalid JSON is reported with the position, exit 1, no traceback."""
        monkeypatch.chdir(ROOT)
        bad = tmp_path / "bad.json"
        bad.write_text('{"a": 1}\n{"b": ')
        status, _, err = run(["replay", "--rules", str(rule_file), str(bad)], capsys)
        assert status == 1
        assert err.startswith(f"sigil replay: {bad}:2:7: invalid JSON")

    def test_a_broken_json_line_is_reported_and_the_others_replay(self, rule_file, tmp_path, capsys, monkeypatch):
        """A file whose first line is not JSON is read line by line, as the Lambda reads an S3 object:
        the broken line is named, not replayed, and the others still run."""
        monkeypatch.chdir(ROOT)
        events = tmp_path / "events.jsonl"
        events.write_text('{"EventID": 1, "Channel": \n' + json.dumps(SYSMON) + "\n")
        status, out, err = run(["replay", "--rules", str(rule_file), str(events)], capsys)
        assert status == 0
        assert [(a["event_index"], a["rule_id"]) for a in map(json.loads, out.splitlines())] == [(1, "6a3c1b9e-2d4f-4e5a-9b8c-7d6e5f4a3b21")]
        lines = err.splitlines()
        assert lines[0].startswith(f"sigil replay: {events}: event 0: not replayed: ")
        assert "invalid JSON" in lines[0]
        assert lines[-1] == "2 events, 1 alert, 1 unclassified, 1 rule (compiled)"

    def test_an_event_the_schema_refuses_still_replays_with_a_note(self, rule_file, tmp_path, capsys, monkeypatch):
        """An EventID the windows schema cannot read as an integer: the Lambda would read the event as the
        generic json type; replay says so, and runs the rules on it as the log type whose required fields it has."""
        monkeypatch.chdir(ROOT)
        events = tmp_path / "events.json"
        events.write_text(json.dumps({**SYSMON, "EventID": "one"}) + "\n" + json.dumps(SYSMON) + "\n")
        status, out, err = run(["replay", "--rules", str(rule_file), "--engine", "interpreter", str(events)], capsys)
        assert status == 0
        # the process_creation condition wants EventID 1: the lenient record does not fire, the other does
        assert [a["event_index"] for a in map(json.loads, out.splitlines())] == [1]
        lines = err.splitlines()
        assert lines[0] == (
            f"sigil replay: {events}: event 0: the Lambda would read it as json, not windows "
            "(windows: EventID 'one' is not an integer); replayed as windows"
        )
        assert lines[-1] == "2 events, 1 alert, 0 unclassified, 1 rule (interpreter), 1 event replayed by required fields, unlike the Lambda"

    def test_an_event_the_lambda_would_quarantine_still_replays_with_a_note(self, rule_file, tmp_path, capsys, monkeypatch):
        """Without a generic json type among the schemas, the Lambda would quarantine that event."""
        monkeypatch.chdir(ROOT)
        schemas = tmp_path / "schemas"
        schemas.mkdir()
        (schemas / "windows.yml").write_text((ROOT / "schemas" / "windows.yml").read_text())
        events = tmp_path / "events.json"
        events.write_text(json.dumps({**SYSMON, "EventID": "one"}) + "\n")
        status, _, err = run(["replay", "--rules", str(rule_file), "--schemas", str(schemas), str(events)], capsys)
        assert status == 0
        assert err.splitlines()[0] == (
            f"sigil replay: {events}: event 0: the Lambda would quarantine it "
            "(no log type fits: windows: EventID 'one' is not an integer); replayed as windows"
        )

    def test_a_repeated_kv_key_cannot_hide_a_value(self, tmp_path, capsys, monkeypatch):
        """An auditd line giving `exe` twice: a rule on the first value still fires, in both engines."""
        monkeypatch.chdir(ROOT)
        rule = tmp_path / "exe.yml"
        rule.write_text("title: nc\nlogsource: {product: linux, service: auditd}\ndetection:\n  sel:\n    exe|endswith: /nc\n  condition: sel\nlevel: high\n")
        events = tmp_path / "audit.log"
        events.write_text('type=SYSCALL msg=audit(1364481363.243:1): exe="/usr/bin/nc" comm="nc" exe="/bin/true"\n')
        for engine in ("interpreter", "compiled"):
            status, out, _ = run(["replay", "--rules", str(rule), "--engine", engine, str(events)], capsys)
            assert status == 0
            assert [(a["log_type"], a["title"]) for a in map(json.loads, out.splitlines())] == [("auditd", "nc")]

    @pytest.mark.parametrize("engine", ["interpreter", "compiled"])
    def test_generic_log_type_skips_values_that_are_not_objects(self, engine, rule_file, tmp_path, capsys, monkeypatch):
        """`--log-type json` on an array holding a number and a string: both named, not replayed, no traceback."""
        monkeypatch.chdir(ROOT)
        events = tmp_path / "events.json"
        events.write_text(json.dumps([1, "x", {"Image": "C:\\w\\whoami.exe"}]))
        status, out, err = run(["replay", "--rules", str(rule_file), "--engine", engine, "--log-type", "json", str(events)], capsys)
        assert status == 0
        assert [a["event_index"] for a in map(json.loads, out.splitlines())] == [2]
        assert err.splitlines() == [
            f"sigil replay: {events}: event 0: not replayed: a JSON int, not an object: events are objects",
            f"sigil replay: {events}: event 1: not replayed: a JSON str, not an object: events are objects",
            f"3 events, 1 alert, 2 unclassified, 1 rule ({engine})",
        ]

    def test_a_missing_rule_file_is_a_message(self, tmp_path, capsys):
        """A rule path that does not exist is error E000, not a traceback."""
        status, _, err = run(["compile", str(tmp_path / "missing.yml"), "--out", str(tmp_path / "out")], capsys)
        assert status == 1
        assert f"{tmp_path / 'missing.yml'}:1:1: error[E000]: cannot read rule file" in err

    def test_generic_log_type_reads_json_only(self, rule_file, tmp_path, capsys, monkeypatch):
        """`--log-type json` on a text log: each line is named as not JSON, none replayed."""
        monkeypatch.chdir(ROOT)
        events = tmp_path / "auth.log"
        events.write_text("May 14 10:22:31 host sshd[812]: Accepted publickey for alice\n")
        status, out, err = run(["replay", "--rules", str(rule_file), "--log-type", "json", str(events)], capsys)
        assert status == 0 and out == ""
        assert err.splitlines() == [
            f"sigil replay: {events}: event 0: not replayed: not JSON: --log-type json reads JSON events only",
            "1 event, 0 alerts, 1 unclassified, 1 rule (compiled)",
        ]

    def test_forced_log_type_parses_text_with_its_parser(self, tmp_path, capsys, monkeypatch):
        """`--log-type linux_syslog` parses each line with that schema's parser and runs every rule."""
        monkeypatch.chdir(ROOT)
        rule = tmp_path / "sshd.yml"
        rule.write_text("title: sshd accepted\nlogsource: {product: linux}\ndetection:\n  sel:\n    message|contains: Accepted publickey\n  condition: sel\nlevel: low\n")
        events = tmp_path / "auth.log"
        events.write_text("May 14 10:22:31 host sshd[812]: Accepted publickey for alice\nMay 14 10:22:32 host sshd[812]: closed\n")
        status, out, err = run(["replay", "--rules", str(rule), "--log-type", "linux_syslog", str(events)], capsys)
        assert status == 0
        assert [(a["event_index"], a["log_type"]) for a in map(json.loads, out.splitlines())] == [(0, "linux_syslog")]
        assert err.splitlines() == ["2 events, 1 alert, 0 unclassified, 1 rule (compiled)"]


class TestLintFormats:
    BROKEN = RULE.replace("Image|endswith", "Image|endswiht").replace("condition: selection", "condition: selection and filter")

    def test_text_summary_line(self, tmp_path, capsys):
        """Text output ends with `N rules, E errors, W warnings` and exits 1 on errors."""
        (tmp_path / "r.yml").write_text(self.BROKEN)
        status, out, _ = run(["lint", str(tmp_path)], capsys)
        assert status == 1
        assert out.splitlines()[-1] == "1 rule, 2 errors, 0 warnings"

    def test_json_lines(self, tmp_path, capsys):
        """`--format json` prints one object per diagnostic with path, line, column, code and hint."""
        (tmp_path / "r.yml").write_text(self.BROKEN)
        status, out, err = run(["lint", "--format", "json", str(tmp_path)], capsys)
        rows = [json.loads(line) for line in out.splitlines()]
        assert status == 1 and err.strip() == "1 rule, 2 errors, 0 warnings"
        assert [(r["code"], r["line"], r["column"]) for r in rows] == [("E101", 6, 11), ("E040", 7, 28)]
        assert rows[0]["hint"] == "did you mean endswith?"

    def test_sarif(self, tmp_path, capsys):
        """`--format sarif` is a SARIF 2.1.0 log whose results carry rule ids and line/column regions."""
        (tmp_path / "r.yml").write_text(self.BROKEN)
        _, out, _ = run(["lint", "--format", "sarif", str(tmp_path)], capsys)
        log = json.loads(out)
        assert log["version"] == "2.1.0"
        results = log["runs"][0]["results"]
        assert [r["ruleId"] for r in results] == ["E101", "E040"]
        region = results[1]["locations"][0]["physicalLocation"]["region"]
        assert (region["startLine"], region["startColumn"]) == (7, 28)
        assert {r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]} == {"E101", "E040"}

    def test_lint_takes_files_from_anywhere(self, capsys):
        """Rule files outside rules/ (here the Sigma corpus) lint cleanly."""
        corpus = ROOT.parent / "shared" / "sigma" / "rules" / "cloud" / "aws"
        if not corpus.is_dir():
            pytest.skip("no ../shared")
        status, out, _ = run(["lint", str(corpus)], capsys)
        assert status == 0 and out.splitlines()[-1].endswith(" rules, 0 errors, 0 warnings")


class TestExtensions:
    def test_python_condition_and_whole_rule(self, tmp_path, monkeypatch):
        """A Python function is a condition identifier, alone or combined with selections."""
        (tmp_path / "helpers").mkdir()
        (tmp_path / "helpers" / "checks.py").write_text("def is_admin(record):\n    return record.get('user') == 'root'\n")
        monkeypatch.chdir(tmp_path)
        text = """\
title: Admin
logsource: {product: aws, service: cloudtrail}
python: {conditions: {admin: helpers/checks.py:is_admin}}
detection:
  sel: {eventName: ConsoleLogin}
  condition: %s
"""
        combined = load_text(text % "sel and admin").rules[0]
        alone = load_text(text % "admin").rules[0]
        assert evaluate(combined, {"eventName": "ConsoleLogin", "user": "root"})
        assert not evaluate(combined, {"eventName": "ConsoleLogin", "user": "bob"})
        assert evaluate(alone, {"user": "root"}) and not evaluate(alone, {})

    def test_python_hooks_are_compiled_into_the_package(self, tmp_path, monkeypatch):
        """Hook modules are copied into sigil_rules/_hooks and called by the generated matcher."""
        from compiler.build import compile_rules

        (tmp_path / "rules" / "helpers").mkdir(parents=True)
        (tmp_path / "rules" / "helpers" / "auth.py").write_text("def odd(record):\n    return record.get('n', 0) % 2 == 1\n")
        (tmp_path / "rules" / "odd.yml").write_text(
            "title: Odd\nid: 1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d\nlogsource: {product: aws, service: cloudtrail}\n"
            "python: {conditions: {odd: rules/helpers/auth.py:odd}}\ndetection: {condition: odd}\n"
        )
        monkeypatch.chdir(tmp_path)
        result = compile_rules(["rules"], str(ROOT / "schemas"), tmp_path / "build")
        assert not result.errors
        assert (tmp_path / "build" / "sigil_rules" / "_hooks" / "hook_rules__helpers__auth.py").is_file()
        monkeypatch.syspath_prepend(str(tmp_path / "build"))
        for name in [m for m in sys.modules if m.startswith("sigil_rules")]:
            monkeypatch.delitem(sys.modules, name)
        import importlib

        module = importlib.import_module("sigil_rules.cloudtrail")
        assert module.match({"n": 3}) == ["1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"] and module.match({"n": 2}) == []

    def test_context_dedup_and_severity_are_read(self):
        """context (list or mapping), dedup keys/window and severity land in the rule."""
        rule = load_text(
            "title: T {userIdentity.arn}\ntemplates: true\nlogsource: {product: aws, service: cloudtrail}\nseverity: critical\nlevel: low\n"
            "context: {who: userIdentity.arn, ip: sourceIPAddress}\ndedup: {keys: [userIdentity.arn], window: 15m}\n"
            "detection: {sel: {eventName: X}, condition: sel}\n"
        ).rules[0]
        assert rule.effective_level == "critical"
        assert rule.context == (("who", "userIdentity.arn"), ("ip", "sourceIPAddress"))
        assert rule.dedup.keys == ("userIdentity.arn",) and rule.dedup.window_seconds == 900
        assert rule.is_template

    def test_disabled_rules_are_left_out_of_the_build(self, tmp_path, monkeypatch):
        """`enabled: false` keeps a rule loadable but out of the generated modules."""
        from compiler.build import compile_rules

        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "off.yml").write_text(RULE.replace("level: high", "level: high\nenabled: false"))
        monkeypatch.chdir(tmp_path)
        result = compile_rules(["rules"], str(ROOT / "schemas"), tmp_path / "build")
        assert len(result.rules) == 1 and result.compiled == []


    def test_braces_are_text_unless_templates_are_on(self, tmp_path, monkeypatch):
        """A SigmaHQ description with a regex quantifier was E018; without `templates: true` a title and
        description load clean and alerts show them as written; with it, placeholders are rendered."""
        from compiler.build import compile_rules
        from runtime.alerts import build_alert

        plain = RULE.replace("level: high", "level: high\ndescription: Names like [a-z]{5,12} or samtheadmin-{1..100}$ run whoami")
        templated = (
            RULE.replace("6a3c1b9e-2d4f-4e5a-9b8c-7d6e5f4a3b21", "6a3c1b9e-2d4f-4e5a-9b8c-7d6e5f4a3b22")
            .replace("title: Suspicious whoami", "title: Suspicious {Image}\ntemplates: true")
            .replace("Image|endswith", "Image|contains")
        )
        assert load_text(plain, "plain.yml").diagnostics == []
        assert load_text(templated, "templated.yml").diagnostics == []
        assert [d.code for d in load_text(templated.replace("{Image}", "{Image"), "t.yml").diagnostics] == ["E018"]
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "plain.yml").write_text(plain)
        (tmp_path / "rules" / "templated.yml").write_text(templated)
        monkeypatch.chdir(tmp_path)
        result = compile_rules(["rules"], str(ROOT / "schemas"), tmp_path / "build")
        assert not result.errors, result.errors
        monkeypatch.syspath_prepend(str(tmp_path / "build"))
        for name in [m for m in sys.modules if m.startswith("sigil_rules")]:
            monkeypatch.delitem(sys.modules, name)
        import importlib

        package = importlib.import_module("sigil_rules")
        rules = {k: v for name in package.LOG_TYPES.values() for k, v in importlib.import_module(f"sigil_rules.{name}").RULES.items()}
        first = build_alert("6a3c1b9e-2d4f-4e5a-9b8c-7d6e5f4a3b21", rules["6a3c1b9e-2d4f-4e5a-9b8c-7d6e5f4a3b21"], "windows", "test", SYSMON)
        assert first["description"] == "Names like [a-z]{5,12} or samtheadmin-{1..100}$ run whoami"
        second = build_alert("6a3c1b9e-2d4f-4e5a-9b8c-7d6e5f4a3b22", rules["6a3c1b9e-2d4f-4e5a-9b8c-7d6e5f4a3b22"], "windows", "test", SYSMON)
        assert second["title"] == "Suspicious C:\\Windows\\System32\\WHOAMI.EXE"


class TestPlaceholdersAndCorrelations:
    def test_expand_takes_values_from_the_placeholder_file(self, tmp_path, capsys, monkeypatch):
        """`%name%` under expand becomes each configured value; without values it matches nothing, with a warning."""
        (tmp_path / "r.yml").write_text(
            "title: Admin host\nlogsource: {product: windows}\ndetection:\n  sel:\n    Computer|expand: '%admin_hosts%'\n  condition: sel\n"
        )
        (tmp_path / "ph.yml").write_text("admin_hosts: [ws1, WS2]\n")
        monkeypatch.chdir(ROOT)
        event = json.dumps({"Computer": "ws2"})
        _, out, _ = run(["replay", "--rules", str(tmp_path / "r.yml"), "--log-type", "json", "--placeholders", str(tmp_path / "ph.yml"), "-"], capsys, event, monkeypatch)
        assert len(out.splitlines()) == 1
        _, out, _ = run(["replay", "--rules", str(tmp_path / "r.yml"), "--log-type", "json", "-"], capsys, event, monkeypatch)
        assert out == ""
        status, out, _ = run(["lint", "--schemas", str(ROOT / "schemas"), str(tmp_path / "r.yml")], capsys)
        assert status == 0 and "warning[W090]: placeholder '%admin_hosts%' has no values" in out

    def test_correlation_bundled_with_its_base_rule(self, tmp_path):
        """A `---` file with a rule and a correlation loads both; references resolve by name."""
        (tmp_path / "c.yml").write_text(
            RULE.replace("title: Suspicious whoami", "title: Suspicious whoami\nname: whoami_run")
            + "---\ntitle: Many whoami\ncorrelation:\n  type: event_count\n  rules: whoami_run\n  group-by: [Computer]\n  timespan: 5m\n  condition: {gte: 3}\n"
        )
        result = load_paths([tmp_path])
        assert result.errors == []
        (corr,) = result.correlations
        assert (corr.type, corr.rules, corr.group_by, corr.timespan_seconds, corr.condition) == ("event_count", ("whoami_run",), ("Computer",), 300, (("gte", 3),))

    def test_correlation_reference_that_resolves_nowhere(self, tmp_path):
        """A correlation naming an unknown rule is an error with a did-you-mean."""
        (tmp_path / "c.yml").write_text(
            RULE.replace("title: Suspicious whoami", "title: Suspicious whoami\nname: whoami_run")
            + "---\ntitle: Many whoami\ncorrelation:\n  type: event_count\n  rules: [whoami_rn]\n  group-by: [Computer]\n  timespan: 5m\n  condition: {gte: 3}\n"
        )
        (diag,) = load_paths([tmp_path]).errors
        assert (diag.code, diag.message, diag.hint, diag.loc.line) == ("E056", "'whoami_rn' names no rule or correlation that was loaded", "did you mean whoami_run?", 14)

    def test_pipe_aggregation_points_to_correlations(self):
        """A legacy `| count()` condition is rejected with a message naming correlation rules."""
        (diag,) = load_text(RULE.replace("condition: selection", "condition: selection | count() by Computer > 5"), "r.yml").diagnostics
        assert diag.code == "E203" and "correlation rule" in diag.hint and diag.loc.col == 24
