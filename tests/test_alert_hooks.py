"""python.title and python.context run where the alert is built: in the Lambda's pipeline and in `sigil replay`.

The Lambda path runs the examples of docs/extensions.md; a hook that raises is a rule error charged to the
rule's id, and the alert still goes out with the template title.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.stateful import compiled, replay, run_batch, write_tree
from test_runtime_sources import console_login

DOC = (Path(__file__).resolve().parents[1] / "docs" / "extensions.md").read_text(encoding="utf-8")
HELPERS = re.findall(r"```python\n(.*?)```", DOC, re.S)[0]
ADMIN_RULE = next(b for b in re.findall(r"```yaml\n(.*?)```", DOC, re.S) if b.startswith("title: Admin console login"))

FAILING_RULE = """\
title: Console login by {userIdentity.userName}
id: 5b0c2f0e-8a43-4f51-9a53-1f3c1c6a0001
templates: true
logsource: {product: aws, service: cloudtrail}
python:
  title: rules/helpers/broken.py:title
  context: rules/helpers/broken.py:context
detection:
  selection:
    eventName: ConsoleLogin
  condition: selection
context: [userIdentity.userName]
"""
BROKEN_HELPERS = """\
def title(record):
    return record["no such field"]


def context(record):
    return ["not", "a", "mapping"]
"""


@pytest.fixture
def docs_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The page's admin rule and its helper module, in a rule repository of their own."""
    monkeypatch.chdir(tmp_path)
    return write_tree(tmp_path, {"rules/admin.yml": ADMIN_RULE, "rules/helpers/auth.py": HELPERS})


@pytest.fixture
def broken_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A rule whose title hook raises and whose context hook returns a list."""
    monkeypatch.chdir(tmp_path)
    return write_tree(tmp_path, {"rules/broken.yml": FAILING_RULE, "rules/helpers/broken.py": BROKEN_HELPERS})


class TestLambdaPath:
    def test_docs_example_hooks_title_and_context(self, docs_tree: Path) -> None:
        """The docs' admin rule alerts with the title and context its Python hooks compute."""
        with compiled(docs_tree) as rules:
            result, sent = run_batch(rules, console_login("root"), console_login("bob"))
        (alert,) = sent
        assert alert["title"] == "Admin console login by root"
        assert alert["context"] == {"admin": True}
        assert result.stats.rule_errors == 0

    def test_a_hook_that_raises_is_a_rule_error_and_the_alert_still_goes_out(self, broken_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A raising title hook and a context hook returning a list are two errors of the rule; the alert keeps
        the template title and the rule's own context."""
        with compiled(broken_tree) as rules:
            result, sent = run_batch(rules, console_login("alice"))
        (alert,) = sent
        assert alert["title"] == "Console login by alice"
        assert alert["context"] == {"userIdentity.userName": "alice"}
        rule_id = "5b0c2f0e-8a43-4f51-9a53-1f3c1c6a0001"
        assert result.rule_errors == {rule_id: 2}
        assert (result.stats.rule_errors, result.log_types["cloudtrail"].rule_errors) == (2, 2)
        assert result.stats.delivered == 1 and result.complete
        logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        errors = [log for log in logged if log.get("event") == "rule_error"]
        assert [e["rule_id"] for e in errors] == [rule_id, rule_id]
        assert "KeyError" in errors[0]["error"] and "returned list, not a mapping" in errors[1]["error"]

    def test_the_hook_sees_a_copy_of_the_record(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A hook that changes its argument does not change the record the alert carries."""
        monkeypatch.chdir(tmp_path)
        rule = FAILING_RULE.replace("broken.py:title", "meddle.py:title").replace("  context: rules/helpers/broken.py:context\n", "")
        write_tree(tmp_path, {"rules/r.yml": rule, "rules/helpers/meddle.py": "def title(record):\n    record.clear()\n    return 'meddled'\n"})
        with compiled(tmp_path) as rules:
            _, sent = run_batch(rules, console_login("alice"))
        assert sent[0]["title"] == "meddled"
        assert sent[0]["record"] == console_login("alice")


class TestReplay:
    def test_lambda_alerts_agree_with_the_lambda(self, docs_tree: Path) -> None:
        """`sigil replay --lambda-alerts` prints the alert the Lambda sends, hooks run, with its place in the file."""
        events = docs_tree / "events.jsonl"
        events.write_text("\n".join(json.dumps(console_login(u)) for u in ("bob", "root")) + "\n")
        status, printed, _ = replay(["--rules", "rules", "--lambda-alerts", str(events)])
        with compiled(docs_tree) as rules:
            _, sent = run_batch(rules, console_login("bob"), console_login("root"))
        (alert,) = printed
        assert status == 0 and (alert.pop("file"), alert.pop("event_index"), alert.pop("record_index")) == (str(events), 1, 0)
        lambda_alert = sent[0]
        assert {k: v for k, v in alert.items() if k != "source"} == {k: v for k, v in lambda_alert.items() if k != "source"}
        assert alert["title"] == "Admin console login by root" and alert["level"] == "medium"

    @pytest.mark.parametrize("engine", ["compiled", "interpreter"])
    def test_a_failing_hook_is_counted_in_replay(self, broken_tree: Path, engine: str) -> None:
        """Replay charges the failing hooks to the rule in its summary and keeps the template title."""
        events = broken_tree / "events.jsonl"
        events.write_text(json.dumps(console_login("alice")) + "\n")
        status, printed, err = replay(["--rules", "rules", "--engine", engine, "--lambda-alerts", str(events)])
        assert status == 0 and printed[0]["title"] == "Console login by alice"
        assert "2 rule errors" in err and "KeyError" in err
