"""The runtime path against a local moto server: Kinesis event in, alerts out through the outputs dispatcher
to SNS (read back through SQS), or into the dead-letter queue."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import make_samples
import pytest
from moto_process import AlertSink, Queue
from support import fake_rules

from runtime.handler import handler
from runtime.outputs import dispatch
from runtime.outputs.dlq import read_dead_letters

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "kinesis" / "cloudtrail.json"


def sample_payloads() -> list[bytes]:
    """Return the decoded Kinesis payloads of the CloudTrail sample event."""
    event = json.loads(SAMPLE.read_text())
    return [base64.b64decode(record["kinesis"]["data"]) for record in event["Records"]]


def cloudtrail_record(payload: bytes) -> dict[str, Any]:
    """Return the one CloudTrail record of a sample payload."""
    (record,) = json.loads(payload)["Records"]
    return record


class TestHandlerOnMoto:
    def test_one_alert_from_mixed_batch(self, handwritten_rules: Path, alert_sink: AlertSink) -> None:
        """A matching, a non-matching and a malformed record give exactly one alert and no batch failure."""
        payloads = sample_payloads()
        matching = next(
            p for p in payloads if cloudtrail_record(p).get("additionalEventData", {}).get("MFAUsed") == "No"
        )
        other = next(p for p in payloads if cloudtrail_record(p)["eventName"] != "ConsoleLogin")
        event = make_samples.kinesis_event([matching, other, b'{"Records": [{"eventName": '], compress=True)

        response = handler(event, None)

        assert response == {"batchItemFailures": []}
        alerts = alert_sink.receive()
        assert len(alerts) == 1
        alert = alerts[0]
        assert alert["rule_id"] == fake_rules.RULE_ID
        assert alert["title"] == fake_rules.RULE_TITLE
        assert alert["log_type"] == "cloudtrail"
        assert alert["record"] == cloudtrail_record(matching)
        assert alert["source"] == make_samples.STREAM_ARN
        assert len(alert["alert_id"]) == 64

    def test_retry_gives_same_alert_ids(self, handwritten_rules: Path, alert_sink: AlertSink) -> None:
        """The sample event processed again after a cold start publishes the same alert ids (deduplicable)."""
        event = json.loads(SAMPLE.read_text())
        handler(event, None)
        first = sorted(alert["alert_id"] for alert in alert_sink.receive())
        dispatch.reset_default()
        handler(event, None)
        second = sorted(alert["alert_id"] for alert in alert_sink.receive())
        assert first and first == second

    def test_retry_in_the_same_container_sends_nothing_twice(
        self, handwritten_rules: Path, alert_sink: AlertSink
    ) -> None:
        """A batch retried in the same process succeeds without publishing its already delivered alerts again."""
        event = json.loads(SAMPLE.read_text())
        assert handler(event, None) == {"batchItemFailures": []}
        assert alert_sink.receive()
        assert handler(event, None) == {"batchItemFailures": []}
        assert alert_sink.receive() == []

    def test_unreachable_topic_is_a_batch_item_failure(
        self, handwritten_rules: Path, alert_sink: AlertSink, monkeypatch: Any
    ) -> None:
        """Alerts that SNS refuses are reported by sequence number for Lambda to retry."""
        monkeypatch.setenv("SIGIL_ALERTS_TOPIC_ARN", alert_sink.topic_arn + "-missing")
        event = json.loads(SAMPLE.read_text())
        response = handler(event, None)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        matching = {
            record["kinesis"]["sequenceNumber"]
            for record, payload in zip(event["Records"], sample_payloads(), strict=True)
            if fake_rules.RULE_ID in _match(cloudtrail_record(payload))
        }
        assert failed == matching and matching

    def test_unreachable_topic_with_dead_letter_queue(
        self, handwritten_rules: Path, alert_sink: AlertSink, aws_env: str, monkeypatch: Any
    ) -> None:
        """With a dead-letter queue, alerts SNS refuses are dead-lettered with the error and no item retries."""
        dlq = Queue.create(aws_env)
        monkeypatch.setenv("SIGIL_DLQ_URL", dlq.url)
        monkeypatch.setenv("SIGIL_ALERTS_TOPIC_ARN", alert_sink.topic_arn + "-missing")
        event = json.loads(SAMPLE.read_text())
        assert handler(event, None) == {"batchItemFailures": []}
        letters = read_dead_letters(dlq.bodies())
        expected = [cloudtrail_record(p) for p in sample_payloads() if fake_rules.RULE_ID in _match(cloudtrail_record(p))]
        assert sorted(json.dumps(letter["alert"]["record"], sort_keys=True) for letter in letters) == sorted(
            json.dumps(record, sort_keys=True) for record in expected
        )
        assert {(letter["output"], letter["reason"]) for letter in letters} == {("aws-sns:alerts", "permanent")}
        assert all("NotFound" in letter["error"] for letter in letters)

    def test_alert_with_nowhere_to_go_is_dead_lettered(
        self, handwritten_rules: Path, aws_env: str, monkeypatch: Any
    ) -> None:
        """With only a dead-letter queue configured, the rule's unconfigured output dead-letters its alerts."""
        dlq = Queue.create(aws_env)
        monkeypatch.delenv("SIGIL_ALERTS_TOPIC_ARN", raising=False)
        monkeypatch.setenv("SIGIL_DLQ_URL", dlq.url)
        event = json.loads(SAMPLE.read_text())
        assert handler(event, None) == {"batchItemFailures": []}
        letters = read_dead_letters(dlq.bodies())
        assert letters and {letter["alert"]["rule_id"] for letter in letters} == {fake_rules.RULE_ID}
        assert all("topic_arn" in letter["error"] for letter in letters)


def _match(record: dict[str, Any]) -> list[str]:
    """Run the handwritten matcher directly."""
    from runtime.rules import rule_set

    return rule_set().matcher("cloudtrail")(record)


def test_sample_event_is_up_to_date() -> None:
    """samples/kinesis/*.json is what scripts/make_samples.py generates from samples/records/*.jsonl."""
    assert make_samples.main(["--check"]) == 0


class TestCompiledRulesOnMoto:
    def test_retried_s3_batch_gives_same_alert_ids(
        self, compiled_rules: Path, alert_sink: AlertSink, runtime_aws: str
    ) -> None:
        """An SQS batch of S3 notifications processed again after a cold start publishes the same alert ids."""
        import gzip

        from moto_process import Queue, create_bucket, notify_queue
        from test_runtime_sources import console_login, put

        bucket = create_bucket(runtime_aws)
        queue = Queue.create(runtime_aws)
        notify_queue(runtime_aws, bucket, queue)
        trail = {"Records": [console_login("a"), console_login("b"), console_login("c", "Yes")]}
        put(runtime_aws, bucket, "trail.json.gz", gzip.compress(json.dumps(trail).encode()))
        event = queue.lambda_event()
        assert handler(event, None) == {"batchItemFailures": []}
        first = sorted(alert["alert_id"] for alert in alert_sink.receive())
        dispatch.reset_default()
        assert handler(event, None) == {"batchItemFailures": []}
        second = sorted(alert["alert_id"] for alert in alert_sink.receive())
        assert len(first) == 2 and first == second
