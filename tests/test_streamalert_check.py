"""`sigil streamalert check`: StreamAlert's test events replayed through our classifier, mismatches reported."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from cli.main import main

ROOT = Path(__file__).resolve().parents[1]
STREAMALERT = ROOT.parent / "shared" / "streamalert"
CONF = STREAMALERT / "conf"
TESTS = STREAMALERT / "rules"
CLOUDTRAIL_TEST = TESTS / "classifier" / "cloudtrail" / "cloudtrail_events.json"

pytestmark = pytest.mark.skipif(not CONF.is_dir(), reason="../shared/streamalert is not beside the project")


def events_on_disk() -> int:
    """The number of test events under ``TESTS`` (each file a JSON list)."""
    return sum(len(json.loads(path.read_text(encoding="utf-8"))) for path in TESTS.rglob("*.json"))


def run_check(conf: Path, tests: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    """Run the command; return its exit status and output lines."""
    status = main(["streamalert", "check", "--conf", str(conf), "--tests", str(tests)])
    return status, capsys.readouterr().out.splitlines()


def write_tests(directory: Path, events: list[dict[str, Any]]) -> Path:
    """Write one StreamAlert test file holding ``events`` under ``directory``; return the directory."""
    (directory / "cases").mkdir(parents=True)
    (directory / "cases" / "mine.json").write_text(json.dumps(events), encoding="utf-8")
    return directory


def test_every_streamalert_test_event_is_classified_as_expected(capsys: pytest.CaptureFixture[str]) -> None:
    """On StreamAlert's own conf and test files every record gets its log type: a count line and exit 0."""
    status, lines = run_check(CONF, TESTS, capsys)
    total = events_on_disk()
    assert total > 0
    assert lines == [f"{total}/{total} records classified as expected"]
    assert status == 0


def test_wrong_log_is_a_readable_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A test event whose ``log`` is not what the classifier finds gives a line naming both, and exit 1."""
    (right,) = json.loads(CLOUDTRAIL_TEST.read_text(encoding="utf-8"))
    wrong = {**right, "description": "claims to be a CloudWatch event", "log": "cloudwatch:events"}
    status, lines = run_check(CONF, write_tests(tmp_path, [right, wrong]), capsys)
    assert status == 1
    assert lines[-1] == "1/2 records classified as expected"
    (mismatch,) = lines[:-1]
    assert mismatch == (
        f"mismatch: cases/mine.json[1] 'claims to be a CloudWatch event':"
        f" expected cloudwatch:events, got {right['log']}"
    )


def test_unclassifiable_record_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An ``override_record`` event that no allowed schema accepts is a mismatch giving the classifier's reason."""
    event = {
        "description": "a control message missing its fields, from a source that cannot carry it",
        "log": "cloudwatch:control_message",
        "service": "s3",
        "source": "prefix.cluster.sample.bucket",
        "override_record": {"messageType": "CONTROL_MESSAGE"},
        "classify_only": True,
    }
    status, lines = run_check(CONF, write_tests(tmp_path, [event]), capsys)
    assert (status, lines[-1]) == (1, "0/1 records classified as expected")
    assert re.fullmatch(
        r"mismatch: cases/mine\.json\[0\] '.+': expected cloudwatch:control_message, got nothing \(.+\)", lines[0]
    )


def test_not_a_test_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A JSON file that is not a list of events stops the check with exit 2 and names the file."""
    (tmp_path / "conf.json").write_text('{"not": "events"}', encoding="utf-8")
    status = main(["streamalert", "check", "--conf", str(CONF), "--tests", str(tmp_path)])
    assert status == 2
    assert "conf.json is not a StreamAlert test file" in capsys.readouterr().err
