"""Every `sigil` command meets a user's mistake with a one-line message and an exit status, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.main import main

ROOT = Path(__file__).resolve().parents[1]
RULESET = "tests/fixtures/ruleset"  # the tests' own rules, relative to ROOT (the working directory below)
RULE = str(ROOT / RULESET / "aws_root_account_usage.yml")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    binary = tmp_path / "binary.yml"
    binary.write_bytes(b"\x00\xff\xfe")
    events = tmp_path / "events.json"
    events.write_text('{"a": 1}\n')
    return {"missing": str(tmp_path / "missing"), "dir": str(tmp_path), "binary": str(binary), "events": events.as_posix(), "out": str(tmp_path / "out")}


MISTAKES = [
    # (argv with {placeholders}, exit status, a line stderr must hold)
    (["replay", "--rules", RULE, "{missing}"], 1, "sigil replay: {missing}: cannot read: No such file or directory"),
    (["replay", "--rules", RULE, "{dir}"], 1, "sigil replay: {dir}: cannot read: Is a directory"),
    (["replay", "--rules", "{missing}", "{events}"], 1, "error[E000]: cannot read rule file"),
    (["classify", "{missing}"], 2, "sigil classify: {missing}: cannot read: No such file or directory"),
    (["classify", "{dir}"], 2, "sigil classify: {dir}: cannot read: Is a directory"),
    (["compile", RULESET, "--placeholders", "{binary}", "--out", "{out}"], 1, "error[E090]: cannot read placeholders"),
    (["compile", "{binary}", "--out", "{out}"], 1, "error[E000]: cannot read rule file"),
    (["compile", RULESET, "--schemas", "{missing}", "--out", "{out}"], 1, "error[S000]: schema directory {missing} not found"),
    (["schemas", "list", "--schemas", "{missing}"], 1, "error[S000]: schema directory {missing} not found"),
    (["bundle", "--build", "{missing}", "--out", "{out}/x.zip"], 1, "sigil bundle: {missing}/sigil_rules/__init__.py not found"),
    (["redrive", "--queue", "http://127.0.0.1:9/q"], 2, "sigil redrive: no AWS region for http://127.0.0.1:9/q: set AWS_REGION"),
    (["invoke", "--event", "{dir}", "--bundle", "{out}/x.zip"], 2, "sigil invoke: {dir}: cannot read: Is a directory"),
    (["invoke", "--event", "{events}", "--bundle", "{missing}"], 2, "sigil invoke: {missing} not found: run `make bundle` first"),
]


@pytest.mark.parametrize(("argv", "status", "message"), MISTAKES, ids=[" ".join(a[:2]) + f" ({m[:30]})" for a, _, m in MISTAKES])
def test_a_mistake_is_a_message(argv, status, message, files, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "SIGIL_DLQ_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", files["missing"])  # no region from a developer's ~/.aws/config
    assert main([arg.format(**files) for arg in argv]) == status
    err = capsys.readouterr().err
    assert message.format(**files) in err
    assert "Traceback" not in err


def _command_argv(command: str, rule: Path, events: Path, tmp_path: Path) -> list[str]:
    """`sigil compile`, `lint` or `replay` of one rule file against the shipped schemas."""
    return {
        "compile": ["compile", str(rule), "--schemas", str(ROOT / "schemas"), "--out", str(tmp_path / "out")],
        "lint": ["lint", str(rule), "--schemas", str(ROOT / "schemas")],
        "replay": ["replay", "--schemas", str(ROOT / "schemas"), "--rules", str(rule), str(events)],
    }[command]


@pytest.mark.parametrize("command", ["compile", "lint", "replay"])
def test_a_condition_hook_that_cannot_load_is_a_diagnostic(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing hook module was E080 and then a LowerError traceback (the rule was still lowered)."""
    rule = tmp_path / "rule.yml"
    rule.write_text(
        "title: hook missing\nlogsource: {product: aws, service: cloudtrail}\npython:\n  conditions:\n"
        "    is_odd: hooks/missing.py:is_odd\ndetection:\n  sel:\n    eventName: A\n  condition: sel and is_odd\nlevel: low\n"
    )
    events = tmp_path / "events.json"
    events.write_text('{"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "A"}\n')
    monkeypatch.chdir(tmp_path)
    argv = _command_argv(command, rule, events, tmp_path)
    status = main(argv)
    captured = capsys.readouterr()
    assert "error[E080]: Python module 'hooks/missing.py' not found" in captured.out + captured.err
    assert status == 1 or command == "replay"
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize("command", ["compile", "lint", "replay"])
@pytest.mark.parametrize("role", ["condition", "title", "context"])
def test_a_typo_in_a_hook_function_name_is_a_diagnostic(command: str, role: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A hook naming a function its module lacks is E081 with the closest name as a hint, in every command and for
    every kind of hook, never a traceback."""
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "auth.py").write_text("def is_admin(record):\n    return True\n")
    hook = {"condition": "  conditions:\n    admin: hooks/auth.py:is_admn\n", "title": "  title: hooks/auth.py:is_admn\n", "context": "  context: hooks/auth.py:is_admn\n"}[role]
    condition = "sel and admin" if role == "condition" else "sel"
    rule = tmp_path / "rule.yml"
    rule.write_text(f"title: hook typo\nlogsource: {{product: aws, service: cloudtrail}}\npython:\n{hook}detection:\n  sel:\n    eventName: A\n  condition: {condition}\nlevel: low\n")
    events = tmp_path / "events.json"
    events.write_text('{"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "A"}\n')
    monkeypatch.chdir(tmp_path)
    argv = _command_argv(command, rule, events, tmp_path)
    status = main(argv)
    shown = "".join(capsys.readouterr())
    assert "error[E081]: 'hooks/auth.py' has no function 'is_admn'" in shown
    assert "hint: did you mean is_admin?" in shown
    assert status == 1 or command == "replay"
    assert "Traceback" not in shown
    assert not (tmp_path / "out" / "sigil_rules").exists()
