"""Bad input and failing dependencies: each bad record quarantined with a reason, nothing lost, batches clean."""

from __future__ import annotations

import base64
import gzip
import json
import time
from pathlib import Path
from typing import Any

import moto_process as mp
import pytest
from moto_process import AlertSink, Queue, client
from test_runtime_sources import FIREWALL_RULE, FIREWALL_SCHEMA, console_login, put

from runtime import handler as handler_module
from runtime.outputs.sns import SnsOutput
from runtime.sources import s3

pytestmark = pytest.mark.slow


@pytest.fixture
def quarantine_bucket(runtime_aws: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A bucket receiving the quarantine under ``quarantine/``."""
    bucket = mp.create_bucket(runtime_aws)
    monkeypatch.setenv("SIGIL_QUARANTINE_URL", f"s3://{bucket}/quarantine")
    return bucket


def quarantined(endpoint: str, bucket: str) -> list[dict[str, Any]]:
    """The quarantine entries written so far."""
    return mp.s3_jsonl(endpoint, bucket, "quarantine/")


def kinesis_event(*payloads: bytes) -> dict[str, Any]:
    """A Lambda Kinesis event carrying the payloads (base64, as Lambda delivers them)."""
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/faults",
                "kinesis": {"sequenceNumber": str(index), "data": base64.b64encode(data).decode()},
            }
            for index, data in enumerate(payloads, 1)
        ]
    }


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


class TestBadInput:
    @pytest.mark.parametrize(
        ("payload", "stage", "reason"),
        [
            (b'{"Records": [{"eventName": ', "parse", "invalid JSON"),
            (b'{"eventName": "\xff\xfe"}', "parse", "not UTF-8"),
            (gzip.compress(json.dumps({"Records": [console_login("x")]}).encode())[:30], "decode", "truncated gzip"),
            (gzip.compress(b"\0" * 40_000_000), "decode", "exceeds"),
            (gzip.compress(b'{"pad": "' + b"x" * 10_000_000 + b'"}'), "decode", "exceeds the limit"),
            (nested(10_000), "parse", "nested too deeply"),
        ],
        ids=["malformed-json", "invalid-utf8", "truncated-gzip", "gzip-bomb", "10mb-record", "deep-json"],
    )
    def test_kinesis_payload(
        self, cloudtrail_rules: Path, alert_sink: AlertSink, quarantine_bucket: str, runtime_aws: str,
        payload: bytes, stage: str, reason: str,
    ) -> None:
        """A bad Kinesis payload beside a good one: the good one alerts, the bad one is quarantined, no failure."""
        good = json.dumps({"Records": [console_login("ok")]}).encode()
        response = handler_module.handler(kinesis_event(good, payload), None)
        assert response == {"batchItemFailures": []}
        assert [a["record"]["userIdentity"]["userName"] for a in alert_sink.receive()] == ["ok"]
        (entry,) = quarantined(runtime_aws, quarantine_bucket)
        assert (entry["stage"], entry["item_id"], entry["source"]) == (stage, "2", "kinesis:faults")
        assert reason in entry["reason"]

    def test_s3_object_faults(self, cloudtrail_rules: Path, alert_sink: AlertSink, quarantine_bucket: str, runtime_aws: str) -> None:
        """Empty, truncated, bomb and oversize-line objects are quarantined; lines before a fault still count."""
        bucket = mp.create_bucket(runtime_aws)
        good = json.dumps(console_login("before-cut")).encode() + b"\n"
        objects = {
            "empty.json": b"",
            "cut.json.gz": gzip.compress(good + b'{"x": 1}\n' * 20_000)[:-200],
            "bomb.json.gz": gzip.compress(b"\0" * 200_000_000),
            "huge-line.json": b'{"pad": "' + b"y" * 10_000_000 + b'"}\n' + json.dumps(console_login("after")).encode(),
        }
        for key, body in objects.items():
            put(runtime_aws, bucket, key, body)
        event = {"Records": [r for key in objects for r in mp.s3_notification_event(runtime_aws, bucket, key)["Records"]]}
        assert handler_module.handler(event, None) == {"batchItemFailures": []}
        assert sorted(a["record"]["userIdentity"]["userName"] for a in alert_sink.receive()) == ["after", "before-cut"]
        reasons = {e["origin"]["key"]: e["reason"] for e in quarantined(runtime_aws, quarantine_bucket) if e["stage"] == "decode"}
        assert reasons["empty.json"] == "empty object"
        assert reasons["cut.json.gz"].startswith("truncated gzip stream")
        assert reasons["bomb.json.gz"].startswith("gzip bomb")
        assert reasons["huge-line.json"] == "record of 10000011 bytes exceeds the limit of 8388608"

    def test_oversize_entry_keeps_its_head(self, cloudtrail_rules: Path, alert_sink: AlertSink, quarantine_bucket: str, runtime_aws: str) -> None:
        """The quarantine keeps the start of an oversize record, flagged by its full size."""
        bucket = mp.create_bucket(runtime_aws)
        put(runtime_aws, bucket, "huge.json", b'{"pad": "' + b"z" * 9_000_000 + b'"}')
        handler_module.handler(mp.s3_notification_event(runtime_aws, bucket, "huge.json"), None)
        (entry,) = quarantined(runtime_aws, quarantine_bucket)
        assert len(entry["payload"]) == 64 * 1024 and entry["payload"].startswith('{"pad": "zzz')
        assert (entry["payload_bytes"], entry["truncated"]) == (9_000_011, True)

    def test_csv_row_with_wrong_column_count(
        self, compile_package: Any, alert_sink: AlertSink, quarantine_bucket: str, runtime_aws: str
    ) -> None:
        """A CSV line with a missing column is quarantined; the object's other lines are matched."""
        compile_package(
            {"fw.yml": FIREWALL_RULE},
            {"fw.yml": FIREWALL_SCHEMA},
            view={"firewall": {"parser": {"type": "csv", "header": True}, "fields": {"src": "ip", "dst": "ip", "port": "integer"}}},
        )
        bucket = mp.create_bucket(runtime_aws)
        put(runtime_aws, bucket, "fw.csv", b"time,action,src,dst,port\nt1,deny,10.0.0.1,10.0.0.2\nt2,deny,10.0.0.3,10.0.0.4,445\n")
        assert handler_module.handler(mp.s3_notification_event(runtime_aws, bucket, "fw.csv"), None) == {"batchItemFailures": []}
        assert [a["record"]["time"] for a in alert_sink.receive()] == ["t2"]
        (entry,) = quarantined(runtime_aws, quarantine_bucket)
        assert (entry["origin"]["line"], entry["payload"]) == (2, "t1,deny,10.0.0.1,10.0.0.2")
        assert entry["candidates"] == {"firewall": "firewall: CSV row 1 has 4 columns, expected 5"}

    def test_deep_json_in_sqs(self, cloudtrail_rules: Path, alert_sink: AlertSink, quarantine_bucket: str, runtime_aws: str) -> None:
        """JSON nested 10,000 deep in an SQS message is quarantined, and the batch is clean."""
        queue = Queue.create(runtime_aws)
        queue.send(nested(10_000).decode())
        assert handler_module.handler(queue.lambda_event(), None) == {"batchItemFailures": []}
        (entry,) = quarantined(runtime_aws, quarantine_bucket)
        assert "nested too deeply" in entry["reason"]

    def test_unknown_event_shape(self, cloudtrail_rules: Path, alert_sink: AlertSink, quarantine_bucket: str, runtime_aws: str, capsys: Any) -> None:
        """An event of unknown shape is logged as an error with its keys and quarantined whole."""
        event = {"version": "1", "mystery": {"payload": 1}}
        assert handler_module.handler(event, None) == {"batchItemFailures": []}
        logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        (error,) = [log for log in logs if log.get("event") == "unknown_event"]
        assert error["level"] == "error" and "['mystery', 'version']" in error["reason"]
        (entry,) = quarantined(runtime_aws, quarantine_bucket)
        assert (entry["stage"], json.loads(entry["payload"])) == ("shape", event)


class TestFailingDependencies:
    def test_object_deleted_before_read(self, cloudtrail_rules: Path, alert_sink: AlertSink, quarantine_bucket: str, runtime_aws: str) -> None:
        """A notification for an object deleted since is quarantined as not found (a retry cannot help)."""
        bucket = mp.create_bucket(runtime_aws)
        put(runtime_aws, bucket, "gone.json", json.dumps(console_login("ghost")).encode())
        queue = Queue.create(runtime_aws)
        queue.send(json.dumps(mp.s3_notification_event(runtime_aws, bucket, "gone.json")))
        client("s3", runtime_aws).delete_object(Bucket=bucket, Key="gone.json")
        assert handler_module.handler(queue.lambda_event(), None) == {"batchItemFailures": []}
        (entry,) = quarantined(runtime_aws, quarantine_bucket)
        assert (entry["stage"], entry["reason"]) == ("source", f"object not found: s3://{bucket}/gone.json")

    def test_unreachable_s3_retries_the_message(
        self, cloudtrail_rules: Path, alert_sink: AlertSink, runtime_aws: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When S3 cannot be reached the SQS message is reported as failed, to be retried, not quarantined."""
        queue = Queue.create(runtime_aws)
        bucket = mp.create_bucket(runtime_aws)
        put(runtime_aws, bucket, "x.json", json.dumps(console_login("later")).encode())
        queue.send(json.dumps(mp.s3_notification_event(runtime_aws, bucket, "x.json")), json.dumps(console_login("direct")))
        event = queue.lambda_event()
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{mp.free_port()}")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        s3.client.cache_clear()
        response = handler_module.handler(event, None)
        assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
        assert [a["record"]["userIdentity"]["userName"] for a in alert_sink.receive()] == ["direct"]

    def test_quarantine_unwritable_fails_the_item(
        self, cloudtrail_rules: Path, alert_sink: AlertSink, runtime_aws: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A quarantine that cannot be written makes its item fail, so the bad record is not lost."""
        monkeypatch.setenv("SIGIL_QUARANTINE_URL", "s3://no-such-quarantine-bucket/q")
        event = kinesis_event(json.dumps({"Records": [console_login("fine")]}).encode(), b"{broken")
        response = handler_module.handler(event, None)
        assert response == {"batchItemFailures": [{"itemIdentifier": "2"}]}
        assert [a["record"]["userIdentity"]["userName"] for a in alert_sink.receive()] == ["fine"]

    def test_sqs_quarantine(self, cloudtrail_rules: Path, alert_sink: AlertSink, runtime_aws: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """Quarantine to an SQS queue: one message per entry; a large payload is cut to fit and flagged."""
        queue = Queue.create(runtime_aws)
        monkeypatch.setenv("SIGIL_QUARANTINE_URL", queue.url)
        big = b'{"broken": "' + b"\\u00e9" * 100_000
        handler_module.handler(kinesis_event(b"{broken", big), None)
        entries = sorted((json.loads(body) for body in queue.bodies()), key=lambda e: e["item_id"])
        assert [(e["item_id"], e["stage"], e["truncated"]) for e in entries] == [("1", "parse", False), ("2", "parse", True)]
        assert entries[1]["payload_bytes"] == len(big) and big.decode().startswith(entries[1]["payload"])

    def test_retried_batch_overwrites_its_quarantine(
        self, cloudtrail_rules: Path, alert_sink: AlertSink, quarantine_bucket: str, runtime_aws: str
    ) -> None:
        """The S3 quarantine key is a hash of the entries: a retried batch does not duplicate them."""
        event = kinesis_event(b"{broken", b"not json either")
        handler_module.handler(event, None)
        handler_module.handler(event, None)
        assert len(quarantined(runtime_aws, quarantine_bucket)) == 2


class FakeContext:
    """A Lambda context whose deadline is ``budget_ms`` from its creation."""

    aws_request_id = "req-1"

    def __init__(self, budget_ms: int) -> None:
        self.deadline = time.monotonic() + budget_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - time.monotonic()) * 1000)


class TestDeadline:
    @pytest.fixture
    def slow_delivery(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """Publishing takes 1.2 s (an output that is slow to answer); yields the users published."""
        published: list[str] = []

        def send(output: SnsOutput, alert: dict[str, Any]) -> None:
            time.sleep(1.2)
            published.append(alert["record"]["userIdentity"]["userName"])

        monkeypatch.setattr(SnsOutput, "send", send)
        monkeypatch.setenv("SIGIL_DEADLINE_MARGIN_MS", "2000")
        return published

    def test_unfinished_kinesis_records_fail(self, cloudtrail_rules: Path, alert_sink: AlertSink, slow_delivery: list[str], capsys: Any) -> None:
        """Records not reached before the deadline margin are reported as batch item failures."""
        event = kinesis_event(*(json.dumps({"Records": [console_login(f"u{i}")]}).encode() for i in range(4)))
        response = handler_module.handler(event, FakeContext(3000))
        assert slow_delivery == ["u0"]
        assert response == {"batchItemFailures": [{"itemIdentifier": seq} for seq in ("2", "3", "4")]}
        summary = json.loads(capsys.readouterr().out.splitlines()[-1])
        assert (summary["unfinished_items"], summary["failed_items"], summary["request_id"]) == (3, 3, "req-1")

    def test_unfinished_s3_event_raises(
        self, cloudtrail_rules: Path, alert_sink: AlertSink, slow_delivery: list[str], runtime_aws: str
    ) -> None:
        """An S3 notification (no partial batches) that runs out of time raises so Lambda retries it."""
        bucket = mp.create_bucket(runtime_aws)
        put(runtime_aws, bucket, "many.json", b"\n".join(json.dumps(console_login(f"s{i}")).encode() for i in range(5)))
        with pytest.raises(handler_module.IncompleteBatch, match="1 of 1 items failed"):
            handler_module.handler(mp.s3_notification_event(runtime_aws, bucket, "many.json"), FakeContext(3000))
        assert slow_delivery == ["s0"]
