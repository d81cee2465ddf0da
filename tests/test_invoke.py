"""`sigil invoke`: the bundled handler, imported from the zip in a clean interpreter, on every trigger's sample event."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import event_samples
import make_samples
import pytest
from moto_process import AlertSink, Queue, client

from cli.bundle.zip import build_bundle
from cli.commands import invoke as invoke_cmd
from cli.main import main as sigil

ROOT = Path(__file__).resolve().parents[1]
EVENTS = ROOT / "samples" / "events"
RECORDS = make_samples.read_records(make_samples.EVENT_RECORDS)
NO_MFA = "82dbdf58-99f5-4ab6-80c1-4affc1f35c9c"  # rules/aws_console_login_without_mfa.yml
ROOT_USAGE = "5448a752-d801-4f72-85d9-15faa4264c9a"  # rules/aws_root_account_usage.yml
# samples/README.md: alice logs in without MFA; root logs in, then creates an access key
ALL_ALERTS = sorted(
    [
        (NO_MFA, RECORDS[0]["eventID"]),
        (ROOT_USAGE, RECORDS[1]["eventID"]),
        (ROOT_USAGE, RECORDS[2]["eventID"]),
    ]
)
# trigger sample → (batch kind, records, expected (rule id, CloudTrail eventID) pairs)
SAMPLES: dict[str, tuple[str, int, list[tuple[str, str]]]] = {
    "kinesis": ("kinesis", 5, ALL_ALERTS),
    "sqs": ("sqs", 5, ALL_ALERTS),
    "sns": ("sns", 1, [(NO_MFA, RECORDS[0]["eventID"])]),  # one message: alice's login
    "s3": ("s3", 5, ALL_ALERTS),
    "s3-via-sns": ("sns", 5, ALL_ALERTS),
    "s3-via-sqs": ("sqs", 5, ALL_ALERTS),
    "s3-via-eventbridge": ("eventbridge", 5, ALL_ALERTS),
    "cloudwatch-logs": ("cloudwatch", 5, ALL_ALERTS),
    # classified as cloudwatch_events; CloudTrail rules read the record under `detail`
    "eventbridge": ("eventbridge", 1, [(ROOT_USAGE, json.loads((ROOT / "samples" / "events" / "eventbridge.json").read_text())["detail"]["eventID"])]),
    "firehose": ("firehose", 5, ALL_ALERTS),
}
PARTIAL = {"kinesis", "sqs"}


@pytest.fixture(scope="module")
def bundle(compiled_rules_package: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Lambda zip of the shipped rule pack, as `make bundle` builds it (without wheels or bytecode)."""
    return build_bundle(compiled_rules_package, tmp_path_factory.mktemp("bundle") / "sigil-lambda.zip")


@pytest.fixture
def cloudtrail_object(aws_env: str) -> None:
    """Put the CloudTrail log object the S3 samples name on the moto server."""
    s3 = client("s3", aws_env)
    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if event_samples.BUCKET not in buckets:
        s3.create_bucket(Bucket=event_samples.BUCKET)
    s3.put_object(Bucket=event_samples.BUCKET, Key=event_samples.KEY, Body=event_samples.cloudtrail_object(RECORDS))


def invoke(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    """Run `sigil invoke ARGV`; return the status, the stdout JSON document (None when empty) and stderr."""
    capfd.readouterr()
    status = sigil(["invoke", *argv])
    captured = capfd.readouterr()
    return status, json.loads(captured.out) if captured.out.strip() else None, captured.err


def pairs(alerts: list[dict[str, Any]]) -> list[tuple[str, str]]:
    # an EventBridge event carries the CloudTrail record as its detail
    return sorted((alert["rule_id"], alert["record"].get("detail", alert["record"])["eventID"]) for alert in alerts)


def dry_run_alerts(stderr: str) -> list[dict[str, Any]]:
    """The alerts a dry run printed on stderr (the other stderr lines are the handler's logs)."""
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith('{"would_deliver_to"')]
    assert all(line["would_deliver_to"] == ["aws-sns:alerts"] for line in lines)
    return [line["alert"] for line in lines]


class TestSamples:
    def test_samples_are_generated(self) -> None:
        """samples/events/ holds one sample per trigger, as scripts/make_samples.py writes them."""
        assert sorted(p.stem for p in EVENTS.glob("*.json")) == sorted(SAMPLES)
        assert make_samples.main(["--check"]) == 0

    @pytest.mark.parametrize("name", sorted(SAMPLES))
    def test_delivers_to_the_configured_outputs(
        self,
        name: str,
        bundle: Path,
        alert_sink: AlertSink,
        cloudtrail_object: None,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        """Each sample's records go through the bundled handler; its alerts arrive on the moto SNS topic."""
        kind, records, expected = SAMPLES[name]
        status, summary, err = invoke(capfd, "--event", str(EVENTS / f"{name}.json"), "--bundle", str(bundle))
        assert status == 0, err
        assert (summary["kind"], summary["records"], summary["processed"]) == (kind, records, records)
        assert (summary["quarantined"], summary["quarantine_reasons"], summary["failed_items"]) == (0, [], 0)
        assert summary["alerts"] == summary["delivered"] == len(expected)
        assert summary["dead_lettered"] == summary["undelivered"] == 0
        if expected:
            assert summary["outputs"]["aws-sns:alerts"]["delivered"] == len(expected)
        assert pairs(alert_sink.receive()) == expected
        logged = [json.loads(line) for line in err.splitlines() if '"event":"batch_summary"' in line]
        assert [line["alerts"] for line in logged] == [len(expected)]  # the handler's log lines, on stderr
        if kind in PARTIAL:
            assert summary["batchItemFailures"] == []
        if kind == "firehose":
            assert summary["firehose_results"] == {"Ok": records}

    @pytest.mark.parametrize("name", sorted(SAMPLES))
    def test_dry_run_prints_alerts_and_sends_nothing(
        self,
        name: str,
        bundle: Path,
        alert_sink: AlertSink,
        cloudtrail_object: None,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        """A dry run prints each alert with its outputs on stderr, counts them per output and delivers none."""
        kind, records, expected = SAMPLES[name]
        status, summary, err = invoke(
            capfd, "--event", str(EVENTS / f"{name}.json"), "--bundle", str(bundle), "--dry-run"
        )
        assert status == 0, err
        assert (summary["kind"], summary["dry_run"], summary["processed"]) == (kind, True, records)
        assert "delivered" not in summary
        assert summary["outputs"] == ({"aws-sns:alerts": {"would_deliver": len(expected)}} if expected else {})
        assert pairs(dry_run_alerts(err)) == expected
        assert alert_sink.receive() == []


class TestDocs:
    def test_summary_example(self, bundle: Path, alert_sink: AlertSink, capfd: pytest.CaptureFixture[str]) -> None:
        """docs/architecture.md's summary is what `sigil invoke --event samples/events/sqs.json` prints."""
        doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8").split("## Local invoke", 1)[1]
        example = json.loads(re.search(r"```json\n(.*?)```", doc, re.S).group(1))
        status, summary, err = invoke(capfd, "--event", str(EVENTS / "sqs.json"), "--bundle", str(bundle))
        assert status == 0, err
        assert summary == example
        assert list(summary) == list(example)


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {"Records": [event_samples.sqs_record(body, index) for index, body in enumerate(bodies)]}


class TestInvoke:
    def test_stdin(self, bundle: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        """`--event -` reads the event from standard input."""
        text = (EVENTS / "sns.json").read_text()
        monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
        status, summary, err = invoke(capfd, "--event", "-", "--bundle", str(bundle), "--dry-run")
        assert status == 0, err
        assert (summary["kind"], summary["alerts"]) == ("sns", 1)

    def test_quarantine_reasons(self, bundle: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A record no log type accepts is quarantined (the batch still succeeds), and the summary says why."""
        event = sqs_event(json.dumps(RECORDS[0]), "not a log line", "not a log line either")
        path = tmp_path / "sqs-bad.json"
        path.write_text(json.dumps(event))
        status, summary, err = invoke(capfd, "--event", str(path), "--bundle", str(bundle), "--dry-run")
        assert status == 0, err
        assert (summary["records"], summary["processed"], summary["quarantined"]) == (3, 1, 2)
        [reason] = summary["quarantine_reasons"]
        assert reason["count"] == 2 and reason["stage"] in {"parse", "classify"} and reason["reason"]

    @pytest.mark.parametrize("dry_run", [False, True], ids=["real", "dry-run"])
    def test_quarantine_destination(
        self,
        dry_run: bool,
        bundle: Path,
        alert_sink: AlertSink,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capfd: pytest.CaptureFixture[str],
    ) -> None:
        """Quarantined records go to SIGIL_QUARANTINE_URL, as in Lambda; a dry run writes nothing there."""
        queue = Queue.create(alert_sink.endpoint_url)
        monkeypatch.setenv("SIGIL_QUARANTINE_URL", queue.url)
        path = tmp_path / "sqs-bad.json"
        path.write_text(json.dumps(sqs_event("not a log line")))
        argv = ["--event", str(path), "--bundle", str(bundle), *(["--dry-run"] if dry_run else [])]
        status, summary, err = invoke(capfd, *argv)
        assert status == 0, err
        assert summary["quarantined"] == 1
        bodies = [json.loads(message["Body"]) for message in queue.messages()]
        assert [body["payload"] for body in bodies] == ([] if dry_run else ["not a log line"])

    def test_item_failures(
        self, bundle: Path, aws_env: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """An alert that can be neither delivered nor dead-lettered fails its item: batchItemFailures, exit 1."""
        missing = f"arn:aws:sns:us-east-1:123456789012:missing-{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv("SIGIL_ALERTS_TOPIC_ARN", missing)
        status, summary, err = invoke(capfd, "--event", str(EVENTS / "kinesis.json"), "--bundle", str(bundle))
        assert status == 1, err
        event = json.loads((EVENTS / "kinesis.json").read_text())
        failing = [event["Records"][i]["kinesis"]["sequenceNumber"] for i in (0, 1, 2)]  # the records with alerts
        assert summary["batchItemFailures"] == [{"itemIdentifier": seq} for seq in failing]
        assert (summary["failed_items"], summary["undelivered"], summary["delivered"]) == (3, 3, 0)
        assert summary["outputs"]["aws-sns:alerts"]["failed"] == 3

    def test_failures_without_partial_batches(
        self, bundle: Path, aws_env: str, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """For a trigger without partial batch responses the handler raises for Lambda to retry: exit 1, the reason."""
        monkeypatch.setenv("SIGIL_ALERTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:missing-topic")
        status, summary, err = invoke(capfd, "--event", str(EVENTS / "firehose.json"), "--bundle", str(bundle))
        assert status == 1, err
        assert summary["error"] == "IncompleteBatch: 3 of 5 items failed; retry the event"
        assert "firehose_results" not in summary and summary["failed_items"] == 3

    def test_unknown_shape(self, bundle: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """An event of no supported shape: exit 2, one line naming its keys, no summary, no handler run."""
        path = tmp_path / "odd.json"
        path.write_text(json.dumps({"detail": {}, "foo": 1}))
        status, summary, err = invoke(capfd, "--event", str(path), "--bundle", str(bundle))
        assert (status, summary) == (2, None)
        assert err == "sigil invoke: unknown event shape with keys ['detail', 'foo']\n"

    def test_no_destination(self, bundle: Path, aws_env: str, capfd: pytest.CaptureFixture[str]) -> None:
        """A setup the handler refuses (nowhere to send alerts) is one line, exit 2; a dry run needs no destination."""
        status, summary, err = invoke(capfd, "--event", str(EVENTS / "sns.json"), "--bundle", str(bundle))
        assert (status, summary) == (2, None)
        assert err.startswith("sigil invoke: the handler raised RuntimeError: no alert destination")
        assert err.count("\n") == 1
        status, _, _ = invoke(capfd, "--event", str(EVENTS / "sns.json"), "--bundle", str(bundle), "--dry-run")
        assert status == 0

    def test_missing_bundle(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A missing bundle is one line suggesting `make bundle`."""
        missing = tmp_path / "sigil-lambda.zip"
        status, summary, err = invoke(capfd, "--event", str(EVENTS / "sns.json"), "--bundle", str(missing))
        assert (status, summary) == (2, None)
        assert err == f"sigil invoke: {missing} not found: run `make bundle` first (or pass --bundle ZIP)\n"

    def test_handler_comes_from_the_zip(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A zip without the generated rules cannot run, though the source tree has runtime/: nothing else is imported."""
        partial = tmp_path / "no-rules.zip"
        with zipfile.ZipFile(partial, "w") as archive:
            for path in sorted((ROOT / "runtime").rglob("*.py")):
                archive.write(path, path.relative_to(ROOT).as_posix())
        status, summary, err = invoke(capfd, "--event", str(EVENTS / "sns.json"), "--bundle", str(partial), "--dry-run")
        assert (status, summary) == (2, None)
        assert err.startswith(f"sigil invoke: {partial.resolve()}: cannot import the handler from the bundle: No module named 'sigil_rules'")

    def test_empty_batch(self, bundle: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """An event with no records is a supported shape with nothing to do: exit 0."""
        path = tmp_path / "empty.json"
        path.write_text('{"Records": []}')
        status, summary, err = invoke(capfd, "--event", str(path), "--bundle", str(bundle), "--dry-run")
        assert status == 0, err
        assert (summary["kind"], summary["items"], summary["records"]) == ("empty", 0, 0)

    def test_invalid_outputs_configuration(
        self, bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A dry run reads the outputs configuration too (to name each alert's outputs): an invalid one is one line."""
        outputs = tmp_path / "outputs.json"
        outputs.write_text('{"outptus": {}}')
        monkeypatch.setenv("SIGIL_OUTPUTS_FILE", str(outputs))
        status, summary, err = invoke(capfd, "--event", str(EVENTS / "sns.json"), "--bundle", str(bundle), "--dry-run")
        assert (status, summary) == (2, None)
        assert err == "sigil invoke: outputs configuration: OutputConfigError: outputs config: unknown keys ['outptus']\n"

    def test_child_sees_boto3_alone(self, tmp_path: Path) -> None:
        """Next to the zip, the child interpreter gets boto3 and its dependencies, not this environment's packages."""
        invoke_cmd._link_boto3(tmp_path)
        assert {"boto3", "botocore", "s3transfer"} <= {p.name for p in tmp_path.iterdir()}
        probe = "import sys; sys.path[:0] = [sys.argv[1]]; import boto3, importlib.util as u; print(u.find_spec('jinja2'), u.find_spec('lark'), u.find_spec('dsl'))"
        completed = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True)
        assert completed.stdout == "None None None\n"

    @pytest.mark.parametrize(
        ("content", "reason"),
        [(None, "cannot read"), (b"{not json", "not a JSON event"), (b"\xff\xfe", "not")],
    )
    def test_unreadable_event(
        self, content: bytes | None, reason: str, bundle: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A missing or non-JSON event file is one line, exit 2."""
        path = tmp_path / "event.json"
        if content is not None:
            path.write_bytes(content)
        status, summary, err = invoke(capfd, "--event", str(path), "--bundle", str(bundle))
        assert (status, summary) == (2, None)
        assert err.startswith(f"sigil invoke: {path}: {reason}") and err.count("\n") == 1
