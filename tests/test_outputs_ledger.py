"""The DynamoDB delivery ledger on the moto server: a retry on a new container does not resend, and a broken
ledger never loses an alert (at-least-once wins over exactly-once)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from moto_process import AlertSink, client
from support.delivery import create_queue, drain, sample_alert, unique

from runtime.outputs import dispatch
from runtime.outputs.dlq import read_dead_letters
from runtime.outputs.ledger import DURABLE_TTL, TABLE_ENV, DynamoLedger, LayeredLedger, MemoryLedger

SNS_OUTPUT = "aws-sns:alerts"


def create_table(endpoint: str) -> str:
    """Create the ledger table as the Terraform module would: keys alert_id/output, TTL on expires_at."""
    name = unique("sigil-ledger")
    dynamodb = client("dynamodb", endpoint)
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "alert_id", "AttributeType": "S"},
            {"AttributeName": "output", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "alert_id", "KeyType": "HASH"},
            {"AttributeName": "output", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )
    return name


@pytest.fixture
def table(aws_env: str) -> str:
    """A fresh ledger table on the moto server."""
    return create_table(aws_env)


@pytest.fixture
def with_ledger(table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Enable the DynamoDB ledger for the default dispatcher; yield the table name."""
    monkeypatch.setenv(TABLE_ENV, table)
    dispatch.reset_default()
    yield table
    dispatch.reset_default()


def deliver_in_two_containers(
    alert: dict[str, Any],
) -> tuple[dispatch.DeliveryReport, dispatch.DeliveryReport]:
    """Deliver ``alert`` with the default dispatcher, start a new cold start, and deliver it again."""
    first = dispatch.deliver([alert])
    dispatch.reset_default()
    second = dispatch.deliver([alert])
    return first, second


def ids(alerts: list[dict[str, Any]]) -> list[str]:
    """Return the alert ids of alert documents read back from a target."""
    return [alert["alert_id"] for alert in alerts]


def log_lines(text: str) -> list[dict[str, Any]]:
    """Return the JSON log lines of captured stdout."""
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def get_item(endpoint: str, table: str, alert_id: str, output: str) -> dict[str, Any]:
    """Read one ledger item back from the table."""
    key = {"alert_id": {"S": alert_id}, "output": {"S": output}}
    return dict(client("dynamodb", endpoint).get_item(TableName=table, Key=key, ConsistentRead=True)["Item"])


class TestAcrossContainers:
    def test_ledger_stops_the_resend(self, with_ledger: str, alert_sink: AlertSink) -> None:
        """With the ledger, a retry on a new container skips the output: the topic receives the alert once."""
        alert = sample_alert()
        first, second = deliver_in_two_containers(alert)
        assert first.delivered == second.delivered == (alert["alert_id"],)
        assert first.outputs[SNS_OUTPUT].delivered == 1
        assert second.outputs[SNS_OUTPUT].skipped == 1 and second.outputs[SNS_OUTPUT].delivered == 0
        assert ids(alert_sink.receive()) == [alert["alert_id"]]

    def test_without_ledger_the_new_container_resends(
        self, aws_env: str, alert_sink: AlertSink, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without SIGIL_LEDGER_TABLE the in-memory ledger dies with the container: the topic gets the alert twice."""
        monkeypatch.delenv(TABLE_ENV, raising=False)
        alert = sample_alert()
        deliver_in_two_containers(alert)
        assert ids(alert_sink.receive()) == [alert["alert_id"]] * 2

    def test_item_written_with_outcome_and_ttl(self, with_ledger: str, alert_sink: AlertSink) -> None:
        """The delivered pair is one item keyed (alert_id, output) with its outcome and a 7-day expires_at."""
        alert = sample_alert()
        before = time.time()
        dispatch.deliver([alert])
        item = get_item(alert_sink.endpoint_url, with_ledger, alert["alert_id"], SNS_OUTPUT)
        assert item["outcome"] == {"S": dispatch.DELIVERED}
        assert before + DURABLE_TTL - 2 <= float(item["expires_at"]["N"]) <= time.time() + DURABLE_TTL + 1

    def test_dead_lettered_pair_not_dead_lettered_again(
        self, with_ledger: str, alert_sink: AlertSink, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An output that dead-lettered the alert is skipped on the new container too: one letter, one SNS send."""
        dlq = create_queue(alert_sink.endpoint_url)
        monkeypatch.setenv("SIGIL_DLQ_URL", dlq)
        monkeypatch.setenv("SIGIL_SECRETS_PREFIX", f"/{unique('no-secrets')}")
        dispatch.reset_default()
        alert = sample_alert(outputs=["webhook:gone"])  # its secret does not exist: a permanent error
        first, second = deliver_in_two_containers(alert)
        assert first.dead_lettered == second.dead_lettered == (alert["alert_id"],)
        letters = read_dead_letters([message.body for message in drain(alert_sink.endpoint_url, dlq)])
        assert [(letter["alert_id"], letter["output"]) for letter in letters] == [
            (alert["alert_id"], "webhook:gone")
        ]
        assert ids(alert_sink.receive()) == [alert["alert_id"]]


class TestLedgerFailures:
    def test_missing_table_still_delivers_and_logs(
        self,
        aws_env: str,
        alert_sink: AlertSink,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """A ledger table that does not exist loses nothing: every delivery goes out and the failures are logged."""
        missing = unique("sigil-no-such-table")
        monkeypatch.setenv(TABLE_ENV, missing)
        dispatch.reset_default()
        alert = sample_alert()
        first, second = deliver_in_two_containers(alert)
        assert first.delivered == second.delivered == (alert["alert_id"],)
        assert ids(alert_sink.receive()) == [alert["alert_id"]] * 2  # at-least-once: a resend, never a loss
        events = [line for line in log_lines(capsys.readouterr().out) if line["event"].startswith("ledger_")]
        assert {line["event"] for line in events} == {"ledger_read_failed", "ledger_write_failed"}
        assert all(line["table"] == missing and line["alert_id"] == alert["alert_id"] for line in events)
        assert all("ResourceNotFoundException" in line["error"] for line in events)

    def test_unreachable_dynamodb_is_not_seen(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A DynamoDB endpoint that refuses connections reads as 'not seen' and a write is only logged."""
        import boto3
        from botocore.config import Config
        from moto_process import free_port

        dead = boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{free_port()}",
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
        )
        ledger = DynamoLedger("t", dead)
        assert ledger.seen("a1", SNS_OUTPUT) is False
        ledger.record("a1", SNS_OUTPUT, dispatch.DELIVERED)
        events = [line["event"] for line in log_lines(capsys.readouterr().out)]
        assert events == ["ledger_read_failed", "ledger_write_failed"]


class TestDynamoLedger:
    def test_first_outcome_wins(self, aws_env: str, table: str) -> None:
        """The conditional put keeps the first outcome: a second record of the pair changes nothing."""
        ledger = DynamoLedger(table, client("dynamodb", aws_env))
        assert not ledger.seen("a1", SNS_OUTPUT)
        ledger.record("a1", SNS_OUTPUT, dispatch.DELIVERED)
        ledger.record("a1", SNS_OUTPUT, dispatch.DEAD_LETTERED)
        assert ledger.seen("a1", SNS_OUTPUT)
        assert ledger.outcome("a1", SNS_OUTPUT) == dispatch.DELIVERED
        assert not ledger.seen("a1", "slack:secops")

    def test_expired_item_is_absent_and_replaced(self, aws_env: str, table: str) -> None:
        """An item past expires_at (TTL deletion is lazy) reads as absent, and a new record replaces it."""
        now = [1_000_000.0]
        ledger = DynamoLedger(table, client("dynamodb", aws_env), ttl=60, clock=lambda: now[0])
        ledger.record("a1", SNS_OUTPUT, dispatch.DEAD_LETTERED)
        now[0] += 61
        assert not ledger.seen("a1", SNS_OUTPUT)
        ledger.record("a1", SNS_OUTPUT, dispatch.DELIVERED)
        assert ledger.outcome("a1", SNS_OUTPUT) == dispatch.DELIVERED
        assert get_item(aws_env, table, "a1", SNS_OUTPUT)["expires_at"] == {"N": str(int(now[0] + 60))}

    def test_layered_reads_durable_once(self, aws_env: str, table: str) -> None:
        """The memory ledger answers repeats, so a pair found in DynamoDB costs one GetItem per container."""
        from support.delivery import Counting

        DynamoLedger(table, client("dynamodb", aws_env)).record("a1", SNS_OUTPUT, dispatch.DELIVERED)
        counted = Counting(client("dynamodb", aws_env))
        ledger = LayeredLedger(MemoryLedger(), DynamoLedger(table, counted))
        assert [ledger.get(("a1", SNS_OUTPUT)) for _ in range(3)] == [dispatch.DELIVERED] * 3
        assert counted.calls == {"get_item": 1}
