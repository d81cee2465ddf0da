"""Golden tests of `sigil lint`: one small rule file per mistake and the full text a user sees for it.

Each `tests/fixtures/diagnostics/NN_name.yml` holds one mistake; `NN_name.txt` beside it is the reviewed
transcript: the command, every line `sigil lint` prints, and the exit status. Rules under `schema/` are
linted with `--schemas ROOT/schemas`. Lint runs in-process with the fixtures folder as working directory,
so paths in the output are relative and stable.

`SIGIL_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_diagnostics_golden.py` rewrites the transcripts from
the current output; review every changed line before keeping it. Transcripts listed in KNOWN_WRONG hold
the output the linter *should* give and are never rewritten: they xfail (strictly) until the loader
says it, and then the entry must be removed.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from cli.main import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "diagnostics"
SCHEMAS = ROOT / "schemas"
SCHEMA_DIR = "schema"  # rules in this sub-folder are linted against SCHEMAS
UPDATE = os.environ.get("SIGIL_UPDATE_GOLDEN") == "1"

HEADER = re.compile(r"^(?P<path>\S+):(?P<line>\d+):(?P<col>\d+): (?P<severity>error|warning)\[(?P<code>[EWS]\d{3})\]: .+$")
SUMMARY = re.compile(r"^(?P<rules>\d+) rules?, (?P<errors>\d+) errors?, (?P<warnings>\d+) warnings?$")

# Fixture name -> why its transcript (the output we want) differs from what `sigil lint` prints today.
KNOWN_WRONG: dict[str, str] = {}  # fixture name -> what the linter still gets wrong (its .txt holds the right text)


@dataclass(frozen=True)
class Case:
    """One fixture: a rule file (relative to FIXTURES) and its reviewed transcript."""

    rule: str

    @property
    def name(self) -> str:
        return Path(self.rule).stem

    @property
    def golden(self) -> Path:
        return (FIXTURES / self.rule).with_suffix(".txt")

    @property
    def options(self) -> list[str]:
        return ["--schemas", str(SCHEMAS)] if Path(self.rule).parent.name == SCHEMA_DIR else []

    @property
    def command(self) -> str:
        shown = ["--schemas", "ROOT/schemas"] if self.options else []
        return " ".join(["$ sigil lint", *shown, self.rule])


def all_cases() -> list[Case]:
    rules = sorted(FIXTURES.glob("*.yml")) + sorted((FIXTURES / SCHEMA_DIR).glob("*.yml"))
    return [Case(str(p.relative_to(FIXTURES))) for p in rules]


def params() -> list:
    out = []
    for case in all_cases():
        reason = KNOWN_WRONG.get(case.name)
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        out.append(pytest.param(case, id=case.name, marks=marks))
    return out


@pytest.fixture
def lint(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run `sigil lint ARGS` in-process from the fixtures folder; return (exit status, stdout, stderr)."""
    monkeypatch.chdir(FIXTURES)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main(["lint", *args])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def transcript(case: Case, status: int, out: str) -> str:
    return f"{case.command}\n{out}[exit {status}]\n"


def diagnostic_headers(text: str) -> list[re.Match]:
    return [m for line in text.splitlines() if (m := HEADER.match(line))]


@pytest.mark.parametrize("case", params())
def test_lint_output_matches_the_reviewed_transcript(case: Case, lint) -> None:
    """`sigil lint` on one mistake prints exactly the reviewed diagnostics and summary, and exits with the reviewed status."""
    status, out, err = lint(*case.options, case.rule)
    actual = transcript(case, status, out)
    if UPDATE and case.name not in KNOWN_WRONG:
        case.golden.write_text(actual, encoding="utf-8")
    assert err == "", "text lint must print nothing on stderr"
    assert case.golden.is_file(), f"no transcript for {case.rule}; run with SIGIL_UPDATE_GOLDEN=1 and review it"
    assert actual == case.golden.read_text(encoding="utf-8")


def test_every_transcript_has_a_rule_and_names_a_known_fixture() -> None:
    """No transcript is orphaned, and KNOWN_WRONG names only existing fixtures."""
    names = {case.name for case in all_cases()}
    transcripts = {p.stem for p in [*FIXTURES.glob("*.txt"), *(FIXTURES / SCHEMA_DIR).glob("*.txt")]}
    assert transcripts == names
    assert set(KNOWN_WRONG) <= names


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.name)
def test_transcripts_are_consistent(case: Case) -> None:
    """Each transcript (reviewed or proposed) is well formed: located headers in the fixture, a caret under the column, counts that add up."""
    lines = case.golden.read_text(encoding="utf-8").splitlines()
    assert lines[0] == case.command
    assert re.fullmatch(r"\[exit [01]\]", lines[-1])
    summary = SUMMARY.match(lines[-2])
    assert summary, lines[-2]
    headers = diagnostic_headers("\n".join(lines))
    assert headers, "every fixture holds at least one mistake"
    source = (FIXTURES / case.rule).read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines):
        header = HEADER.match(line)
        if not header:
            continue
        assert header["path"] == case.rule
        row, col = int(header["line"]), int(header["col"])
        if row <= len(source):
            gutter = f"{row:>4} | "
            assert lines[i + 1] == gutter + source[row - 1]
            assert lines[i + 2] == " " * (len(gutter) - 2) + "| " + " " * (col - 1) + "^"
    errors = sum(h["severity"] == "error" for h in headers)
    assert (int(summary["errors"]), int(summary["warnings"])) == (errors, len(headers) - errors)
    assert lines[-1] == f"[exit {1 if errors else 0}]"


# The many-mistakes file: every mistake planted in it, as (line, code).
MANY = "99_many_mistakes.yml"
PLANTED = {
    (1, "E018"),  # unclosed brace in the title template
    (4, "E015"),  # tag without a namespace
    (5, "E014"),  # date not YYYY-MM-DD
    (8, "E012"),  # unknown relation type
    (14, "E101"),  # unknown modifier 'contain'
    (15, "E120"),  # bad CIDR
    (18, "E040"),  # unknown identifier in the condition
    (21, "E081"),  # missing Python function
    (24, "E019"),  # bad dedup window
    (34, "W040"),  # unused identifier, second document
    (37, "E012"),  # unknown level, second document
    (39, "E016"),  # output without a service
    (41, "E017"),  # test without expect
}


def test_many_mistakes_are_all_reported_in_one_run(lint) -> None:
    """A file with mistakes in both of its documents gets every one reported, then one summary line, then exit 1."""
    status, out, _ = lint(MANY)
    found = {(int(h["line"]), h["code"]) for h in diagnostic_headers(out)}
    assert found == PLANTED
    errors = sum(code.startswith("E") for _, code in PLANTED)
    warnings = len(PLANTED) - errors
    assert out.splitlines()[-1] == f"2 rules, {errors} errors, {warnings} warning{'s' if warnings != 1 else ''}"
    assert status == 1


def test_json_and_sarif_report_the_same_diagnostics_as_text(lint) -> None:
    """`--format json` and `--format sarif` parse and hold the same diagnostics, at the same places, as the text report."""
    _, text, _ = lint(MANY)
    text_found = sorted((int(h["line"]), int(h["col"]), h["code"], h["severity"]) for h in diagnostic_headers(text))
    summary = text.splitlines()[-1]

    status, out, err = lint("--format", "json", MANY)
    assert status == 1 and err.strip() == summary
    records = [json.loads(line) for line in out.splitlines()]
    assert all(r["path"] == MANY and r["message"] for r in records)
    assert sorted((r["line"], r["column"], r["code"], r["severity"]) for r in records) == text_found

    status, out, err = lint("--format", "sarif", MANY)
    assert status == 1 and err.strip() == summary
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    results = sarif["runs"][0]["results"]
    located = []
    for result in results:
        physical = result["locations"][0]["physicalLocation"]
        region = physical["region"]
        assert physical["artifactLocation"]["uri"] == MANY
        assert result["message"]["text"]
        located.append((region["startLine"], region["startColumn"], result["ruleId"], result["level"]))
    assert sorted(located) == text_found
    declared = {rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert declared == {code for _, _, code, _ in text_found}
