"""Every trigger end to end against the moto server: events in, alerts read back from SNS, with compiled rules."""

from __future__ import annotations

import base64
import gzip
import io
import json
import tracemalloc
from pathlib import Path
from typing import Any

import moto_process as mp
import pytest
from moto_process import AlertSink, Queue, Topic, client

from runtime import handler as handler_module
from runtime.outputs import dispatch
from runtime.sources import Payload, detect, s3
from runtime.sources.compression import CountingReader, DecodeError, GzipStream
from runtime.sources.limits import Limits
from runtime.sources.lines import read_lines

pytestmark = pytest.mark.slow

NO_MFA_TITLE = "AWS Console Login Without MFA"


def console_login(user: str, mfa: str = "No") -> dict[str, Any]:
    """A CloudTrail ConsoleLogin event; without MFA it fires the shipped rule."""
    return {
        "eventVersion": "1.08",
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "userIdentity": {"type": "IAMUser", "userName": user},
        "additionalEventData": {"MFAUsed": mfa},
        "responseElements": {"ConsoleLogin": "Success"},
    }


def cloudtrail_file(*records: dict[str, Any]) -> bytes:
    """A CloudTrail log file as delivered to S3: one JSON document, gzipped."""
    return gzip.compress(json.dumps({"Records": list(records)}).encode(), mtime=0)


def users(alerts: list[dict[str, Any]]) -> list[str]:
    """The user names of the alerts' records, sorted."""
    return sorted(alert["record"]["userIdentity"]["userName"] for alert in alerts)


def run(event: dict[str, Any]) -> dict[str, Any]:
    """Invoke the handler without a Lambda context."""
    return handler_module.handler(event, None)


@pytest.fixture
def bucket(runtime_aws: str) -> str:
    return mp.create_bucket(runtime_aws)


def put(endpoint: str, bucket: str, key: str, body: bytes) -> None:
    client("s3", endpoint).put_object(Bucket=bucket, Key=key, Body=body)


class TestKinesis:
    def test_plain_and_gzip_records(self, compiled_rules: Path, alert_sink: AlertSink, runtime_aws: str) -> None:
        """Plain and gzip payloads put into a Kinesis stream produce the alerts of their records."""
        stream = mp.kinesis_stream(runtime_aws)
        payloads = [
            json.dumps({"Records": [console_login("plain")]}).encode(),
            gzip.compress(json.dumps({"Records": [console_login("zipped")]}).encode()),
            json.dumps({"Records": [console_login("with-mfa", mfa="Yes")]}).encode(),
        ]
        response = run(mp.kinesis_lambda_event(runtime_aws, stream, payloads))
        assert response == {"batchItemFailures": []}
        alerts = alert_sink.receive()
        assert users(alerts) == ["plain", "zipped"]
        assert {alert["title"] for alert in alerts} == {NO_MFA_TITLE}
        assert all(alert["source"].endswith(f"stream/{stream}") for alert in alerts)

    def test_cloudwatch_logs_envelope_in_kinesis(
        self, compiled_rules: Path, alert_sink: AlertSink, runtime_aws: str
    ) -> None:
        """A CloudWatch Logs subscription writing to Kinesis is unwrapped; its control message is skipped."""
        stream = mp.kinesis_stream(runtime_aws)
        data = mp.cloudwatch_logs_envelope("/aws/cloudtrail", [json.dumps(console_login("cwl"))])
        control = mp.cloudwatch_logs_envelope("/aws/cloudtrail", ["CWL CONTROL MESSAGE"], "CONTROL_MESSAGE")
        response = run(mp.kinesis_lambda_event(runtime_aws, stream, [control, data]))
        assert response == {"batchItemFailures": []}
        assert users(alert_sink.receive()) == ["cwl"]


class TestS3:
    def test_direct_notification_gzip_object(
        self, compiled_rules: Path, alert_sink: AlertSink, bucket: str, runtime_aws: str
    ) -> None:
        """A direct notification streams the named gzip object; its URL-encoded key is decoded."""
        key = "AWSLogs/123456789012/CloudTrail/us-east-1/2024/01/01/trail file+1.json.gz"
        put(runtime_aws, bucket, key, cloudtrail_file(console_login("alice"), console_login("bob", "Yes")))
        response = run(mp.s3_notification_event(runtime_aws, bucket, key))
        assert response == {"batchItemFailures": []}
        alerts = alert_sink.receive()
        assert users(alerts) == ["alice"]
        assert alerts[0]["source"] == f"arn:aws:s3:::{bucket}/{key}"

    def test_via_sqs(self, compiled_rules: Path, alert_sink: AlertSink, bucket: str, runtime_aws: str) -> None:
        """S3 notifications delivered by SQS (the test event included) stream each object named."""
        queue = Queue.create(runtime_aws)
        mp.notify_queue(runtime_aws, bucket, queue)
        put(runtime_aws, bucket, "a.json", json.dumps(console_login("carol")).encode() + b"\n")
        put(runtime_aws, bucket, "b.json.gz", cloudtrail_file(console_login("dave")))
        event = queue.lambda_event()
        assert any("s3:TestEvent" in record["body"] for record in event["Records"])
        response = run(event)
        assert response == {"batchItemFailures": []}
        assert users(alert_sink.receive()) == ["carol", "dave"]

    def test_via_sns(self, compiled_rules: Path, alert_sink: AlertSink, bucket: str, runtime_aws: str) -> None:
        """S3 notifications published to SNS reach the handler as SNS events and as SNS envelopes in SQS."""
        topic = Topic.create(runtime_aws)
        mp.notify_topic(runtime_aws, bucket, topic)
        put(runtime_aws, bucket, "c.json", json.dumps({"Records": [console_login("erin")]}).encode())
        envelopes = topic.envelopes()
        assert run(mp.sns_lambda_event(envelopes)) == {"batchItemFailures": []}
        assert users(alert_sink.receive()) == ["erin"]

        dispatch.reset_default()  # as another container would: this one's dispatcher skips what it delivered
        queue = Queue.create(runtime_aws)
        queue.send(*(json.dumps(envelope) for envelope in envelopes))
        assert run(queue.lambda_event()) == {"batchItemFailures": []}
        assert users(alert_sink.receive()) == ["erin"]

    def test_via_eventbridge(self, compiled_rules: Path, alert_sink: AlertSink, bucket: str, runtime_aws: str) -> None:
        """An EventBridge ``Object Created`` event streams the object, directly or through SQS."""
        key = "logs/with space.json"
        put(runtime_aws, bucket, key, json.dumps(console_login("frank")).encode())
        event = mp.eventbridge_s3_event(bucket, key)
        assert run(event) == {"batchItemFailures": []}
        assert users(alert_sink.receive()) == ["frank"]
        dispatch.reset_default()  # as another container would: this one's dispatcher skips what it delivered
        queue = Queue.create(runtime_aws)
        queue.send(json.dumps(event))
        assert run(queue.lambda_event()) == {"batchItemFailures": []}
        assert users(alert_sink.receive()) == ["frank"]

    def test_streams_in_constant_memory(self, bucket: str, runtime_aws: str) -> None:
        """A 20 MB gzip object is read line by line: every line arrives, and memory stays far below its size."""
        lines = 200_000
        body = io.BytesIO()
        inflated = 0
        with gzip.GzipFile(fileobj=body, mode="wb", mtime=0) as archive:
            for index in range(lines):
                inflated += archive.write(b'{"n": %d, "pad": "%s"}\n' % (index, b"%x" % (index * 7919) * 10))
        assert inflated > 20_000_000
        put(runtime_aws, bucket, "big.json.gz", body.getvalue())
        tracemalloc.start()
        try:
            count = last = 0
            for payload in s3.stream(s3.ObjectRef(bucket, "big.json.gz"), Limits()):
                assert payload.error is None
                count, last = count + 1, json.loads(payload.data)["n"]
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert (count, last) == (lines, lines - 1)
        assert peak < 8_000_000, f"peak {peak} bytes while streaming {inflated} bytes"


class TestMessages:
    def test_sqs_messages_are_payloads(self, compiled_rules: Path, alert_sink: AlertSink, runtime_aws: str) -> None:
        """SQS message bodies that name no object are log payloads themselves."""
        queue = Queue.create(runtime_aws)
        queue.send(json.dumps(console_login("gina")), json.dumps({"Records": [console_login("hank", "Yes")]}))
        assert run(queue.lambda_event()) == {"batchItemFailures": []}
        assert users(alert_sink.receive()) == ["gina"]

    def test_sns_messages_are_payloads(self, compiled_rules: Path, alert_sink: AlertSink, runtime_aws: str) -> None:
        """SNS messages that name no object are log payloads themselves."""
        topic = Topic.create(runtime_aws)
        topic.publish(json.dumps({"Records": [console_login("ivy")]}))
        assert run(topic.lambda_event()) == {"batchItemFailures": []}
        alerts = alert_sink.receive()
        assert users(alerts) == ["ivy"]
        assert alerts[0]["source"] == topic.arn

    def test_cloudwatch_logs_subscription(self, compiled_rules: Path, alert_sink: AlertSink, runtime_aws: str) -> None:
        """A subscription event is base64 gzip JSON; each log event's message is a payload."""
        messages = [json.dumps(console_login("jack")), json.dumps(console_login("kim", "Yes"))]
        assert run(mp.cloudwatch_logs_event("/aws/trail", messages)) == {"batchItemFailures": []}
        assert users(alert_sink.receive()) == ["jack"]

    def test_cloudwatch_control_message(self, compiled_rules: Path, alert_sink: AlertSink, capsys: Any) -> None:
        """A control message is skipped: no record, no quarantine."""
        assert run(mp.cloudwatch_logs_event("/aws/trail", ["CWL CONTROL MESSAGE"], "CONTROL_MESSAGE")) == {
            "batchItemFailures": []
        }
        summary = json.loads(capsys.readouterr().out.splitlines()[-1])
        assert (summary["kind"], summary["records"], summary["quarantined"]) == ("cloudwatch", 0, 0)


SSHD_SCHEMA = """\
name: linux_sshd
description: sshd messages from syslog
parser: {type: json}
classify: {required: [application, message], priority: 40}
logsources:
  - {product: linux, service: sshd}
fields:
  timestamp: string
  host: string
  application: string
  pid: string
  message: string
  priority: integer
  facility: integer
  severity: integer
"""

FIREWALL_SCHEMA = """\
name: firewall
description: firewall decisions as CSV with a header row
parser: {type: json}
classify: {required: [action, src, dst], priority: 50}
logsources:
  - {product: firewall}
fields:
  time: string
  action: string
  src: ip
  dst: ip
  port: integer
"""

SSHD_RULE = """\
title: SSH Root Password Failure
id: 3d4c2b1a-0000-4000-8000-000000000001
status: test
description: A failed password for root over SSH.
logsource: {product: linux, service: sshd}
detection:
  selection:
    application: sshd
    message|contains: Failed password for root
  condition: selection
level: high
"""

FIREWALL_RULE = """\
title: Denied SMB To Internal Host
id: 3d4c2b1a-0000-4000-8000-000000000002
status: test
description: SMB connections denied by the firewall.
logsource: {product: firewall}
detection:
  selection:
    action: deny
    port: 445
  condition: selection
level: medium
"""


@pytest.fixture
def text_rules(compile_package: Any) -> Path:
    """Compiled rules for syslog and CSV log types (the view gives them their parsers)."""
    return compile_package(
        {"sshd.yml": SSHD_RULE, "firewall.yml": FIREWALL_RULE},
        {"sshd.yml": SSHD_SCHEMA, "firewall.yml": FIREWALL_SCHEMA},
        view={
            "linux_sshd": {"parser": {"type": "syslog"}, "hints": {"application": ["sshd"]}},
            "firewall": {
                "parser": {"type": "csv", "header": True},
                "fields": {"src": "ip", "dst": "ip", "port": "integer"},
            },
        },
    )


class TestTextLogs:
    def test_syslog_over_sqs(self, text_rules: Path, alert_sink: AlertSink, runtime_aws: str) -> None:
        """Syslog lines sent as SQS messages are parsed, classified and matched."""
        queue = Queue.create(runtime_aws)
        queue.send(
            "<38>Jan  5 14:03:01 web-1 sshd[4242]: Failed password for root from 10.0.0.9 port 22 ssh2",
            "<38>Jan  5 14:03:02 web-1 sshd[4243]: Accepted publickey for deploy",
        )
        assert run(queue.lambda_event()) == {"batchItemFailures": []}
        (alert,) = alert_sink.receive()
        assert (alert["log_type"], alert["record"]["pid"], alert["record"]["priority"]) == ("linux_sshd", "4242", 38)

    def test_csv_object_with_header(self, text_rules: Path, alert_sink: AlertSink, bucket: str, runtime_aws: str) -> None:
        """A CSV object's first line names the columns of every later line; values take the schema's types."""
        body = b"time,action,src,dst,port\n" + b"t1,allow,10.0.0.1,10.0.0.2,445\n" + b"t2,deny,10.0.0.3,10.0.0.4,445\n"
        put(runtime_aws, bucket, "fw.csv", body)
        assert run(mp.s3_notification_event(runtime_aws, bucket, "fw.csv")) == {"batchItemFailures": []}
        (alert,) = alert_sink.receive()
        assert alert["record"] == {"time": "t2", "action": "deny", "src": "10.0.0.3", "dst": "10.0.0.4", "port": 445}


class TestSourceMap:
    def test_source_map_restricts_log_types(
        self, compiled_rules: Path, alert_sink: AlertSink, bucket: str, runtime_aws: str, monkeypatch: Any, capsys: Any
    ) -> None:
        """A bucket allowed only Windows logs quarantines CloudTrail files with each candidate's reason."""
        monkeypatch.setenv("SIGIL_SOURCES", json.dumps({"s3": {bucket: ["windows"]}}))
        put(runtime_aws, bucket, "ct.json", json.dumps({"Records": [console_login("lee")]}).encode())
        assert run(mp.s3_notification_event(runtime_aws, bucket, "ct.json")) == {"batchItemFailures": []}
        assert alert_sink.receive() == []
        logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        (quarantined,) = [log for log in logs if log.get("event") == "record_quarantined"]
        assert quarantined["reason"] == "no log type fits: windows lacks EventID, Channel"
        assert quarantined["source"] == f"s3:{bucket}"

    def test_package_source_map(
        self, compile_package: Any, alert_sink: AlertSink, runtime_aws: str, capsys: Any
    ) -> None:
        """The package's ``sources.json`` applies when SIGIL_SOURCES is unset."""
        compile_package(
            {"sshd.yml": SSHD_RULE},
            {"sshd.yml": SSHD_SCHEMA, "firewall.yml": FIREWALL_SCHEMA},
            view={"linux_sshd": {"parser": {"type": "syslog"}}, "firewall": {"parser": {"type": "csv", "header": True}}},
            sources={"sqs": {"fw-*": ["firewall"]}},
        )
        queue = Queue.create(runtime_aws, "fw-ingest")
        queue.send("<38>Jan  5 14:03:01 web-1 sshd[4242]: Failed password for root from 10.0.0.9")
        assert run(queue.lambda_event()) == {"batchItemFailures": []}
        assert alert_sink.receive() == []
        summary = json.loads(capsys.readouterr().out.splitlines()[-1])
        assert (summary["records"], summary["quarantined"]) == (1, 1)


class TestShapes:
    @pytest.mark.parametrize(
        ("event", "kind"),
        [
            ({"Records": [{"eventSource": "aws:kinesis", "kinesis": {"data": ""}}]}, "kinesis"),
            ({"Records": [{"eventSource": "aws:sqs", "body": ""}]}, "sqs"),
            ({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": ""}}]}, "sns"),
            ({"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]}, "s3"),
            ({"awslogs": {"data": ""}}, "cloudwatch"),
            ({"detail-type": "x", "source": "aws.guardduty", "detail": {}}, "eventbridge"),
            ({"Records": []}, "empty"),
            ({"Records": [{"eventSource": "aws:dynamodb"}]}, "unknown"),
            ({"hello": "world"}, "unknown"),
            (["not", "an", "object"], "unknown"),
        ],
    )
    def test_kind_from_shape(self, event: Any, kind: str) -> None:
        """The trigger is told from the event's shape."""
        assert detect.batch(event, Limits()).kind == kind

    def test_unknown_shape_names_the_keys(self) -> None:
        """An unknown event yields one failed payload whose reason lists the event's keys."""
        (item,) = detect.batch({"foo": 1, "bar": 2}, Limits()).items
        (payload,) = list(item.read())
        assert isinstance(payload, Payload)
        assert payload.error == "unknown event shape with keys ['bar', 'foo']"

    def test_eventbridge_event_is_a_record(self) -> None:
        """An EventBridge event that names no S3 object is itself the payload."""
        event = {"id": "1", "detail-type": "GuardDuty Finding", "source": "aws.guardduty", "detail": {"type": "x"}}
        (item,) = detect.batch(event, Limits()).items
        (payload,) = list(item.read())
        assert (json.loads(payload.data), payload.source) == (event, "eventbridge:aws.guardduty")


class TestStreamingPieces:
    def test_lines_bounded(self) -> None:
        """Lines longer than the bound are cut to their head and reported with their full size."""
        stream = io.BufferedReader(io.BytesIO(b"short\n" + b"x" * 5000 + b"\n\nafter\r\nlast"))
        lines = list(read_lines(stream, 100))
        assert [(line.number, line.size, line.oversize) for line in lines] == [
            (1, 5, False),
            (2, 5000, True),
            (4, 5, False),
            (5, 4, False),
        ]
        assert lines[3].data == b"last"

    def test_gzip_stream_refuses_bombs(self) -> None:
        """A stream inflating beyond the ratio (past the grace bytes) raises instead of inflating on."""
        raw = gzip.compress(b"\0" * 10_000_000)
        compressed = CountingReader(io.BytesIO(raw))
        stream = io.BufferedReader(GzipStream(compressed, compressed, max_ratio=100, grace_bytes=1_000_000))
        with pytest.raises(DecodeError, match="gzip bomb"):
            while stream.read(65536):
                pass

    def test_gzip_stream_multi_member_and_truncation(self) -> None:
        """Every member of a multi-member stream is read; a cut stream is reported as truncated."""
        raw = gzip.compress(b"one\n") + gzip.compress(b"two\n")
        compressed = CountingReader(io.BytesIO(raw))
        assert io.BufferedReader(GzipStream(compressed, compressed, 100, 1000)).read() == b"one\ntwo\n"
        cut = CountingReader(io.BytesIO(gzip.compress(b"x" * 1000)[:20]))
        with pytest.raises(DecodeError, match="truncated"):
            io.BufferedReader(GzipStream(cut, cut, 100, 1000)).read()


def test_kinesis_data_is_base64() -> None:
    """A Kinesis record's data is base64 of the payload (a guard on the event builders used above)."""
    record = {"eventSource": "aws:kinesis", "kinesis": {"sequenceNumber": "1", "data": base64.b64encode(b"x").decode()}}
    (item,) = detect.batch({"Records": [record]}, Limits()).items
    assert [payload.data for payload in item.read()] == [b"x"]


def test_cloudwatch_envelope_kept_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    """With SIGIL_CLOUDWATCH_ENVELOPE=keep the decoded envelope is one payload for envelope-aware log types."""
    from runtime.classifier import Classifier

    event = mp.cloudwatch_logs_event("/aws/app", [json.dumps({"user": "a"}), json.dumps({"user": "b"})])
    (item,) = detect.batch(event, Limits()).items
    assert [payload.data for payload in item.read()] == [b'{"user": "a"}', b'{"user": "b"}']
    monkeypatch.setenv("SIGIL_CLOUDWATCH_ENVELOPE", "keep")
    (payload,) = list(item.read())
    parser = {"type": "json", "records": "logEvents[*].message", "embedded_json": True, "envelope_keys": ["logGroup"]}
    classifier = Classifier({"log_types": {"app": {"parser": parser, "required": ["user", "envelope.logGroup"]}}})
    outcome = classifier.classify_payload(payload.data)
    assert [(record["user"], result.log_type) for record, result in outcome.records] == [("a", "app"), ("b", "app")]
    assert outcome.records[0][0]["envelope"] == {"logGroup": "/aws/app"}
    control = mp.cloudwatch_logs_event("/aws/app", ["CWL CONTROL MESSAGE"], "CONTROL_MESSAGE")
    assert [list(i.read()) for i in detect.batch(control, Limits()).items] == [[]]
