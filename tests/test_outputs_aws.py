"""Every AWS output against a moto server: create the resources, deliver, read back what arrived; plus config."""

from __future__ import annotations

import io
import json
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto_process import MotoServer, client
from support.delivery import (
    FIXED_NOW,
    RECORD,
    Counting,
    big_record,
    clients_with,
    create_queue,
    dispatcher,
    drain,
    sample_alert,
    unique,
)

from runtime.alerts import canonical_json
from runtime.outputs import OutputConfigError, dispatch, sns
from runtime.outputs.config import apply_environment, load_config, parse_config
from runtime.outputs.parts import join

SNS_MESSAGE_LIMIT = 256 * 1024


def subscribed_queue(endpoint: str, topic_arn: str) -> str:
    """Create a queue subscribed to the topic with raw delivery; return its URL."""
    queue_url = create_queue(endpoint)
    arn = client("sqs", endpoint).get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    client("sns", endpoint).subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    return queue_url


@pytest.fixture
def topic(aws_env: str) -> tuple[str, str]:
    """An SNS topic and the queue that receives its messages raw."""
    topic_arn = client("sns", aws_env).create_topic(Name=unique("sigil-topic"))["TopicArn"]
    return topic_arn, subscribed_queue(aws_env, topic_arn)


class TestSns:
    def test_alert_arrives_as_sent(self, aws_env: str, topic: tuple[str, str]) -> None:
        """The alert published to the topic arrives unchanged, with its routing attributes."""
        topic_arn, queue_url = topic
        alert = sample_alert()
        dispatcher_, _ = dispatcher(aws_env, {"aws-sns:alerts": {"topic_arn": topic_arn}})
        report = dispatcher_.deliver([{**alert, "outputs": ["aws-sns:alerts"]}])
        assert report.delivered == (alert["alert_id"],)
        [message] = drain(aws_env, queue_url)
        assert message.json() == {**alert, "outputs": ["aws-sns:alerts"]}
        assert message.attributes["alert_id"] == alert["alert_id"]
        assert message.attributes["rule_id"] == "rule-1"

    def test_oversized_alert_split_and_rejoined(self, aws_env: str, topic: tuple[str, str]) -> None:
        """An alert over 256 KiB arrives as parts within SNS's limit that join back into the exact alert."""
        topic_arn, queue_url = topic
        alert = {**sample_alert(big_record(700_000)), "outputs": ["aws-sns:alerts"]}
        dispatcher_, _ = dispatcher(aws_env, {"aws-sns:alerts": {"topic_arn": topic_arn}})
        assert dispatcher_.deliver([alert]).delivered == (alert["alert_id"],)
        messages = drain(aws_env, queue_url)
        count = int(messages[0].attributes["parts"])
        assert count > 1
        assert sorted(int(m.attributes["part"]) for m in messages) == list(range(1, count + 1))
        sizes = sorted((len(m.body.encode()) for m in messages), reverse=True)
        assert sizes[0] <= SNS_MESSAGE_LIMIT
        assert sizes[-2] > 0.95 * (SNS_MESSAGE_LIMIT - 4096)  # parts are packed, only the last is short
        assert join(m.body for m in reversed(messages)) == [alert]

    def test_ocsf_format(self, aws_env: str, topic: tuple[str, str]) -> None:
        """With format ocsf the topic receives the Detection Finding of the alert."""
        topic_arn, queue_url = topic
        alert = sample_alert()
        dispatcher_, _ = dispatcher(aws_env, {"aws-sns:ocsf": {"topic_arn": topic_arn, "format": "ocsf"}})
        dispatcher_.deliver([{**alert, "outputs": ["sns:ocsf"]}])
        [message] = drain(aws_env, queue_url)
        finding = message.json()
        assert finding["class_uid"] == 2004
        assert finding["finding_info"]["uid"] == alert["alert_id"]
        assert finding["time"] == int(FIXED_NOW * 1000)
        assert finding["evidences"] == [{"data": RECORD}]

    def test_legacy_publish_splits_too(self, aws_env: str, topic: tuple[str, str]) -> None:
        """The handler's publish(alert, topic_arn) also splits an oversized alert instead of failing."""
        topic_arn, queue_url = topic
        alert = sample_alert(big_record(300_000))
        assert sns.publish(alert, topic_arn)
        assert join(m.body for m in drain(aws_env, queue_url)) == [alert]


class TestSqs:
    def test_alert_arrives_with_attributes(self, aws_env: str) -> None:
        """The queue receives the alert's canonical JSON with rule id, level and alert id attributes."""
        queue_url = create_queue(aws_env)
        alert = sample_alert()
        dispatcher_, _ = dispatcher(
            aws_env, {"aws-sqs:triage": {"queue_url": queue_url}}, default_outputs=("sqs:triage",)
        )
        dispatcher_.deliver([alert])
        [message] = drain(aws_env, queue_url)
        assert message.body == canonical_json(alert)
        assert message.attributes == {
            "alert_id": alert["alert_id"],
            "rule_id": "rule-1",
            "level": "high",
            "log_type": "cloudtrail",
        }

    def test_oversized_alert_split(self, aws_env: str) -> None:
        """An alert over SQS's 256 KiB arrives in parts that join back."""
        queue_url = create_queue(aws_env)
        alert = sample_alert(big_record(400_000))
        dispatcher_, _ = dispatcher(
            aws_env, {"aws-sqs:triage": {"queue_url": queue_url}}, default_outputs=("sqs:triage",)
        )
        dispatcher_.deliver([alert])
        assert join(m.body for m in drain(aws_env, queue_url)) == [alert]

    def test_fifo_queue_deduplicates_on_alert_id(self, aws_env: str) -> None:
        """A FIFO queue gets the rule id as group and the alert id as deduplication id."""
        queue_url = client("sqs", aws_env).create_queue(
            QueueName=unique("sigil") + ".fifo", Attributes={"FifoQueue": "true"}
        )["QueueUrl"]
        alert = sample_alert()
        for _ in range(2):  # two cold starts sending the same alert
            dispatcher_, _ = dispatcher(
                aws_env, {"aws-sqs:fifo": {"queue_url": queue_url}}, default_outputs=("sqs:fifo",)
            )
            dispatcher_.deliver([alert])
        assert [m.json() for m in drain(aws_env, queue_url)] == [alert]


class TestS3:
    def test_object_per_alert(self, aws_env: str) -> None:
        """Each alert becomes one JSON object under prefix/dt=day/rule/alert_id.json."""
        bucket = unique("sigil-bucket")
        s3 = client("s3", aws_env)
        s3.create_bucket(Bucket=bucket)
        alerts = [sample_alert(), sample_alert({**RECORD, "eventName": "Other"})]
        dispatcher_, _ = dispatcher(
            aws_env,
            {"aws-s3:archive": {"bucket": bucket, "prefix": "sigil/"}},
            default_outputs=("s3:archive",),
        )
        dispatcher_.deliver(alerts)
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
        assert keys == sorted(f"sigil/dt=2023-11-14/rule-1/{a['alert_id']}.json" for a in alerts)
        for alert in alerts:
            key = f"sigil/dt=2023-11-14/rule-1/{alert['alert_id']}.json"
            obj = s3.get_object(Bucket=bucket, Key=key)
            assert json.loads(obj["Body"].read()) == alert
            assert obj["ContentType"] == "application/json"

    def test_redelivery_overwrites(self, aws_env: str) -> None:
        """Delivering the same alert from a new process overwrites its object instead of adding one."""
        bucket = unique("sigil-bucket")
        client("s3", aws_env).create_bucket(Bucket=bucket)
        for _ in range(2):
            dispatcher_, _ = dispatcher(
                aws_env, {"aws-s3:archive": {"bucket": bucket}}, default_outputs=("s3:archive",)
            )
            dispatcher_.deliver([sample_alert()])
        assert client("s3", aws_env).list_objects_v2(Bucket=bucket)["KeyCount"] == 1


class TestFirehose:
    def test_json_lines_reach_the_destination(self, aws_env: str) -> None:
        """Alerts put on a delivery stream land in its S3 destination as JSON lines."""
        bucket, stream = unique("sigil-fh"), unique("sigil-stream")
        client("s3", aws_env).create_bucket(Bucket=bucket)
        client("firehose", aws_env).create_delivery_stream(
            DeliveryStreamName=stream,
            ExtendedS3DestinationConfiguration={
                "RoleARN": "arn:aws:iam::123456789012:role/firehose",
                "BucketARN": f"arn:aws:s3:::{bucket}",
                "Prefix": "alerts/",
            },
        )
        alerts = [sample_alert(), sample_alert({**RECORD, "eventName": "Second"})]
        dispatcher_, _ = dispatcher(
            aws_env, {"aws-firehose:alerts": {"stream": stream}}, default_outputs=("firehose:alerts",)
        )
        assert len(dispatcher_.deliver(alerts).delivered) == 2
        s3 = client("s3", aws_env)
        lines = []
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix="alerts/")["Contents"]:
            lines += s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode().splitlines()
        assert sorted(lines) == sorted(canonical_json(a) for a in alerts)


class TestCloudWatchLogs:
    def test_events_in_the_stream(self, aws_env: str) -> None:
        """Alerts become events of the configured stream, which is created on first use."""
        group = "/sigil/" + unique("alerts")
        logs = client("logs", aws_env)
        logs.create_log_group(logGroupName=group)
        alerts = [sample_alert(), sample_alert({**RECORD, "eventName": "Second"})]
        now = time.time()
        dispatcher_, _ = dispatcher(
            aws_env,
            {"aws-cloudwatch-log:alerts": {"log_group": group, "log_stream": "s1"}},
            default_outputs=("cloudwatch-log:alerts",),
            now=lambda: now,
        )
        assert len(dispatcher_.deliver(alerts).delivered) == 2
        events = logs.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True)["events"]
        assert [json.loads(e["message"]) for e in events] == alerts
        assert {e["timestamp"] for e in events} == {int(now * 1000)}

    def test_rejected_event_is_dead_lettered(self, aws_env: str) -> None:
        """An event CloudWatch rejects (timestamp weeks old) is not counted as delivered but dead-lettered."""
        group = "/sigil/" + unique("alerts")
        client("logs", aws_env).create_log_group(logGroupName=group)
        dlq = create_queue(aws_env)
        dispatcher_, _ = dispatcher(
            aws_env,
            {"aws-cloudwatch-log:alerts": {"log_group": group}},
            default_outputs=("cloudwatch-log:alerts",),
            dlq_url=dlq,
        )
        alert = sample_alert()
        assert dispatcher_.deliver([alert]).dead_lettered == (alert["alert_id"],)
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert "rejected" in letter["error"]

    def test_missing_group_is_dead_lettered(self, aws_env: str) -> None:
        """A log group that does not exist is a permanent error: one attempt, then the dead-letter queue."""
        dlq = create_queue(aws_env)
        dispatcher_, sleeps = dispatcher(
            aws_env,
            {"aws-cloudwatch-log:gone": {"log_group": "/sigil/" + unique("none")}},
            default_outputs=("cloudwatch-log:gone",),
            dlq_url=dlq,
        )
        alert = sample_alert()
        assert dispatcher_.deliver([alert]).dead_lettered == (alert["alert_id"],)
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert letter["output"] == "aws-cloudwatch-log:gone"
        assert "ResourceNotFoundException" in letter["error"]
        assert sleeps.delays == []


@pytest.fixture(scope="module")
def lambda_server() -> Iterator[str]:
    """A dedicated moto server whose Lambda runs without Docker and echoes each invocation's payload."""
    with MotoServer() as server:
        request = urllib.request.Request(
            f"{server.url}/moto-api/config",
            data=json.dumps({"lambda": {"use_docker": False}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass
        yield server.url


def create_function(endpoint: str) -> str:
    """Create a function (and its role) on the moto server; return its name."""
    role = client("iam", endpoint).create_role(
        RoleName=unique("sigil-role"),
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    name = unique("sigil-responder")
    client("lambda", endpoint).create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": code.getvalue()},
    )
    return name


class TestLambda:
    def test_invocation_receives_the_alert(self, lambda_server: str) -> None:
        """The function is invoked with the alert as its event (moto's docker-less Lambda echoes it back)."""
        function = create_function(lambda_server)
        counting = Counting(client("lambda", lambda_server))
        echoed: list[Any] = []
        original = counting.invoke

        def invoke(**kwargs: Any) -> Any:
            response = original(**kwargs)
            echoed.append(json.loads(response["Payload"].read()))
            return {**response, "Payload": io.BytesIO(b"")}

        counting.invoke = invoke  # type: ignore[method-assign]
        alert = sample_alert()
        dispatcher_, _ = dispatcher(
            lambda_server,
            {"aws-lambda:responder": {"function": function, "invocation_type": "RequestResponse"}},
            default_outputs=("lambda:responder",),
            clients=clients_with(lambda_server, {"lambda": counting}),
        )
        assert dispatcher_.deliver([alert]).delivered == (alert["alert_id"],)
        assert echoed == [alert]

    def test_default_is_async_invocation(self, lambda_server: str) -> None:
        """By default the function is invoked asynchronously (Event) and moto's 202 counts as delivered."""
        function = create_function(lambda_server)
        lambda_client = client("lambda", lambda_server)
        calls: list[tuple[dict[str, Any], int]] = []

        class Recording:
            def invoke(self, **kwargs: Any) -> Any:
                response = lambda_client.invoke(**kwargs)
                calls.append((kwargs, response["StatusCode"]))
                return response

        dispatcher_, _ = dispatcher(
            lambda_server,
            {"aws-lambda:ok": {"function": function, "qualifier": "$LATEST"}},
            clients=clients_with(lambda_server, {"lambda": Recording()}),
        )
        alert = sample_alert(outputs=["lambda:ok"])
        assert dispatcher_.deliver([alert]).delivered == (alert["alert_id"],)
        [(kwargs, status)] = calls
        assert (kwargs["InvocationType"], kwargs["Qualifier"], status) == ("Event", "$LATEST", 202)
        assert json.loads(kwargs["Payload"]) == alert


class TestConfig:
    def test_env_points_the_default_dispatcher(
        self, aws_env: str, topic: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """outputs.json plus environment overrides configure the cold-start dispatcher used by deliver()."""
        topic_arn, topic_queue = topic
        triage = create_queue(aws_env)
        config_file = tmp_path / "outputs.json"
        config_file.write_text(json.dumps({"outputs": {"aws-sqs:triage": {"queue_url": "replaced-by-env"}}}))
        monkeypatch.setenv("SIGIL_OUTPUTS_FILE", str(config_file))
        monkeypatch.setenv("SIGIL_OUTPUTS_OVERRIDE", json.dumps({"aws-sqs:triage": {"queue_url": triage}}))
        monkeypatch.setenv("SIGIL_ALERTS_TOPIC_ARN", topic_arn)
        dispatch.reset_default()
        try:
            alert = sample_alert(outputs=["sqs:triage"])
            report = dispatch.deliver([alert])
        finally:
            dispatch.reset_default()
        assert report.delivered == (alert["alert_id"],)
        assert set(report.outputs) == {"aws-sns:alerts", "aws-sqs:triage"}
        assert [m.json() for m in drain(aws_env, topic_queue)] == [alert]
        assert [m.json() for m in drain(aws_env, triage)] == [alert]

    def test_environment_overrides(self) -> None:
        """DLQ URL, secrets prefix and backend come from the environment when set."""
        env = {
            "SIGIL_DLQ_URL": "https://sqs/dlq",
            "SIGIL_SECRETS_PREFIX": "/x/y",
            "SIGIL_SECRETS_BACKEND": "ssm",
        }
        config = load_config(env, path=None)
        assert (config.dead_letter_queue_url, config.secrets_prefix, config.secrets_backend) == (
            "https://sqs/dlq",
            "/x/y",
            "ssm",
        )

    def test_override_merges_with_the_file_entry_in_any_spelling(self) -> None:
        """An override for `aws-sqs:triage` merges into the file's `sqs:triage` (keeping its other settings),
        and the alerts topic from the environment into the file's `sns:alerts`."""
        document = {
            "outputs": {
                "sqs:triage": {"queue_url": "from-file", "format": "ocsf"},
                "sns:alerts": {"topic_arn": "from-file", "format": "ocsf"},
            }
        }
        env = {
            "SIGIL_OUTPUTS_OVERRIDE": json.dumps({"aws-sqs:triage": {"queue_url": "from-env"}}),
            "SIGIL_ALERTS_TOPIC_ARN": "topic-from-env",
        }
        config = parse_config(apply_environment(document, env))
        assert config.outputs == {
            "aws-sqs:triage": {"queue_url": "from-env", "format": "ocsf"},
            "aws-sns:alerts": {"topic_arn": "topic-from-env", "format": "ocsf"},
        }

    def test_one_output_named_twice_is_refused(self) -> None:
        """Two spellings of one output in a file would silently drop one entry's settings: an error instead."""
        with pytest.raises(OutputConfigError, match="names 'aws-sqs:triage' again"):
            parse_config({"outputs": {"sqs:triage": {"queue_url": "a"}, "aws-sqs:triage": {"queue_url": "b"}}})

    def test_routing_required_then_rule_outputs(self) -> None:
        """An alert goes to the required outputs plus its rule's outputs (or the defaults), each once."""
        config = parse_config(
            {
                "required_outputs": ["sns:alerts"],
                "default_outputs": ["slack:secops"],
                "outputs": {"aws-sns:alerts": {"topic_arn": "t"}},
            }
        )
        assert config.targets({"outputs": ["aws-sns:alerts", "pagerduty:oncall"]}) == [
            "aws-sns:alerts",
            "pagerduty:oncall",
        ]
        assert config.targets({}) == ["aws-sns:alerts", "slack:secops"]

    @pytest.mark.parametrize(
        "document",
        [
            {"outputs": {"nosuch:x": {}}},
            {"outputs": {"aws-sqs:q": {}}},
            {"outputs": {"slack:secops": {"url": "https://hooks.slack.com/services/T/B/X"}}},
            {"outputs": {"aws-sns:a": {"topic_arn": "t", "format": "xml"}}},
            {"secrets": {"backend": "vault"}},
            {"retry": {"tries": 3}},
            {"outptus": {}},
        ],
    )
    def test_invalid_config_rejected(self, document: dict) -> None:
        """Unknown services, missing or unknown settings (a webhook URL is not a setting), bad keys are errors."""
        with pytest.raises(OutputConfigError):
            parse_config(document)

    def test_shipped_file_in_rules_package(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without SIGIL_OUTPUTS_FILE the configuration is read from sigil_rules/outputs.json."""
        package = tmp_path / "sigil_rules"
        package.mkdir()
        (package / "__init__.py").write_text("")
        (package / "outputs.json").write_text(json.dumps({"default_outputs": ["slack:secops"]}))
        monkeypatch.syspath_prepend(str(tmp_path))
        previous = sys.modules.pop("sigil_rules", None)
        try:
            assert load_config({}).default_outputs == ("slack:secops",)
        finally:
            sys.modules.pop("sigil_rules", None)
            if previous is not None:
                sys.modules["sigil_rules"] = previous
