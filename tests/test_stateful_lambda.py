"""Correlations and dedup on the Lambda path, with their state in DynamoDB on the moto server: event time
across batches, retries that count nothing twice, throttling that retries the item, concurrent invocations,
agreement with `sigil replay`, and the docs' dedup example with a scheduled flush."""

from __future__ import annotations

import json
import re
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto_process import client
from support.stateful import compiled, kinesis_event, replay, write_tree
from test_correlations import BASE, COUNT, event, numeric, sent
from test_dedup import DEDUP_RULE, denied

from runtime.pipeline import Runtime, deliver_each, process_batch
from runtime.state.dynamodb import DynamoStore
from runtime.stateful import Stateful, flush_dedup, stateful_from_env

pytestmark = pytest.mark.slow


def create_state_table(endpoint: str) -> str:
    """A state table as Terraform creates it (partition key `key`)."""
    name = f"sigil-state-{uuid.uuid4().hex[:8]}"
    client("dynamodb", endpoint).create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Throttling:
    """A DynamoDB client whose writes are throttled while ``on`` is set."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.on = inner, True

    def __getattr__(self, name: str) -> Any:
        if name == "put_item" and self.on:
            def throttled(**_: Any) -> None:
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "PutItem")
            return throttled
        return getattr(self.inner, name)


class Counting:
    """A DynamoDB client that counts the writes (put_item, delete_item) per state key."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.writes = inner, []

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.inner, name)
        if name not in ("put_item", "delete_item"):
            return call

        def counted(**kwargs: Any) -> Any:
            self.writes.append((kwargs.get("Item") or kwargs["Key"])["key"]["S"])
            return call(**kwargs)

        return counted


@pytest.fixture
def state(aws_env: str) -> tuple[str, str]:
    return aws_env, create_state_table(aws_env)


@pytest.fixture
def correlation_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path, {"rules/r.yml": BASE + "---\n" + COUNT})
    with compiled(tmp_path) as rules:
        yield rules


def invoke(rules: Any, store: Any, *records: dict, clock: Clock | None = None, sent: list | None = None):
    """One Lambda invocation on a Kinesis batch of ``records``: (result, alerts sent)."""
    sent = [] if sent is None else sent
    stateful = Stateful.from_rules(rules, store, clock or Clock(1_704_067_200))
    result = process_batch(kinesis_event(*records), Runtime(rules, deliver_each(sent.append), stateful=stateful))
    assert result.stats.violations() == []
    return result, sent


class TestCorrelationsOnDynamoDB:
    def test_counts_across_batches_in_event_time(self, state, correlation_rules) -> None:
        """Alice's three failures arriving over two batches, out of order, alert once; the failures alone do not."""
        endpoint, table = state
        store = DynamoStore(table, client("dynamodb", endpoint))
        _, first = invoke(correlation_rules, store, event("alice", 2), event("bob", 0))
        _, second = invoke(correlation_rules, store, event("alice", 0), event("alice", 1))
        assert first == []
        (alert,) = second
        assert alert["title"] == "Brute force against alice" and alert["record"]["correlation"]["count"] == 3

    def test_a_retried_batch_counts_nothing_twice(self, state, correlation_rules) -> None:
        """The same batch twice (a Lambda retry) leaves two failures counted: no alert; a third then alerts."""
        endpoint, table = state
        store = DynamoStore(table, client("dynamodb", endpoint))
        batch = (event("alice", 0), event("alice", 1))
        assert invoke(correlation_rules, store, *batch)[1] == []
        assert invoke(correlation_rules, store, *batch)[1] == []
        (alert,) = invoke(correlation_rules, store, event("alice", 2))[1]
        assert alert["record"]["correlation"]["events"] == 3

    def test_throttling_retries_the_item_and_never_double_counts(self, state, correlation_rules) -> None:
        """Throttled writes fail the items of the group (partial batch response); the retry counts each event once."""
        endpoint, table = state
        throttled = Throttling(client("dynamodb", endpoint))
        store = DynamoStore(table, throttled)
        result, sent = invoke(correlation_rules, store, event("bob", 0), event("alice", 0), event("alice", 1))
        assert sorted(result.failures) == ["0", "1", "2"] and sent == []
        throttled.on = False
        result, sent = invoke(correlation_rules, store, event("bob", 0), event("alice", 0), event("alice", 1))
        assert result.failures == [] and sent == []
        (alert,) = invoke(correlation_rules, store, event("alice", 2))[1]
        assert alert["record"]["correlation"]["events"] == 3

    def test_undelivered_correlation_alert_is_sent_again_by_the_retry(self, state, correlation_rules) -> None:
        """When the correlation alert cannot be delivered, its items fail; the retry sends the same alert."""
        endpoint, table = state
        store = DynamoStore(table, client("dynamodb", endpoint))
        batch = [event("alice", m) for m in (0, 1, 2)]

        def refuse(alert: dict) -> None:
            raise RuntimeError("output down")

        stateful = Stateful.from_rules(correlation_rules, store)
        result = process_batch(kinesis_event(*batch), Runtime(correlation_rules, deliver_each(refuse), stateful=stateful))
        assert sorted(result.failures) == ["0", "1", "2"]
        (alert,) = invoke(correlation_rules, store, *batch)[1]
        assert invoke(correlation_rules, store, *batch)[1] == []  # confirmed: not again
        assert alert["record"]["correlation"]["count"] == 3

    def test_concurrent_invocations_count_every_event_once(self, state, correlation_rules) -> None:
        """Six invocations at once, each with one failure of alice, make two windows of three: two alerts."""
        endpoint, table = state
        sent: list[dict] = []
        barrier = threading.Barrier(6)
        errors: list[BaseException] = []

        def one(minute: float) -> None:
            try:
                store = DynamoStore(table, client("dynamodb", endpoint))
                barrier.wait()
                invoke(correlation_rules, store, event("alice", minute), sent=sent)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(m / 10,)) for m in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        windows = [a["record"]["correlation"]["event_ids"] for a in sent]
        assert sum(len(w) for w in windows) <= 6 and all(len(w) == 3 for w in windows)
        assert len({i for w in windows for i in w}) == sum(len(w) for w in windows)
        assert len(windows) >= 1

    def test_dropped_and_late_events_are_metrics(self, state, correlation_rules) -> None:
        """A failure without a usable eventTime is CorrelationEventsDropped, one older than alice's newest by more
        than the timespan CorrelationEventsLate, in the batch's metric line; neither fails the batch."""
        from runtime.metrics import documents

        endpoint, table = state
        store = DynamoStore(table, client("dynamodb", endpoint))
        invoke(correlation_rules, store, event("alice", 20))
        result, _ = invoke(correlation_rules, store, {**event("bob", 1), "eventTime": "yesterday"}, event("alice", 0), event("alice", 19))
        assert result.failures == []
        (line, *_) = documents(result.summary(), result.log_types, result.rule_errors, namespace="N", function="f", timestamp_ms=0)
        assert (line["CorrelationEventsDropped"], line["CorrelationEventsLate"]) == (1.0, 1.0)
        names = [m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
        assert {"CorrelationEventsDropped", "CorrelationEventsLate"} <= set(names)

    def test_replay_and_the_lambda_agree(self, state, correlation_rules, tmp_path: Path) -> None:
        """The same events, batch for file, give the same correlation alerts in `sigil replay` and the Lambda."""
        endpoint, table = state
        store = DynamoStore(table, client("dynamodb", endpoint))
        batches = [[event("alice", 3), event("bob", 0)], [event("alice", 0), event("bob", 1), event("alice", 4)], [event("bob", 2), event("alice", 9)]]
        lambda_alerts = [a for batch in batches for a in invoke(correlation_rules, store, *batch)[1]]
        paths = []
        for index, batch in enumerate(batches):
            path = tmp_path / f"batch{index}.jsonl"
            path.write_text("".join(json.dumps(e) + "\n" for e in batch))
            paths.append(str(path))
        _, replayed, _ = replay(["--rules", str(tmp_path / "rules"), "--lambda-alerts", *paths])
        assert len(lambda_alerts) == 2
        assert [a["alert_id"] for a in replayed] == [a["alert_id"] for a in lambda_alerts]
        assert [a["record"] for a in replayed] == [a["record"] for a in lambda_alerts]


class TestNumericTypesOnDynamoDB:
    """value_sum, value_avg, value_percentile and value_median with their state in DynamoDB, as in replay."""

    BATCHES = (
        (sent("alice", 3, 400), sent("bob", 0, 10)),
        (sent("alice", 0, 300), sent("bob", 1, "20"), sent("alice", 4, "x")),
        (sent("bob", 2, 5000), sent("alice", 9, 700), sent("alice", 9.5, 200)),
    )

    @pytest.mark.parametrize(
        "correlation",
        [numeric("value_sum", "gte: 700"), numeric("value_avg", "gt: 300"), numeric("value_percentile", "percentile: 90, gte: 390"), numeric("value_median", "gte: 350")],
        ids=["sum", "avg", "percentile", "median"],
    )
    def test_replay_and_the_lambda_agree(self, state, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, correlation: str) -> None:
        """The same batches, file for batch, give the same alerts (ids, values, event ids) in both engines."""
        endpoint, table = state
        monkeypatch.chdir(tmp_path)
        write_tree(tmp_path, {"rules/r.yml": BASE + "---\n" + correlation})
        store = DynamoStore(table, client("dynamodb", endpoint))
        with compiled(tmp_path) as rules:
            lambda_alerts = [a for batch in self.BATCHES for a in invoke(rules, store, *batch)[1]]
        paths = []
        for index, batch in enumerate(self.BATCHES):
            path = tmp_path / f"batch{index}.jsonl"
            path.write_text("".join(json.dumps(e) + "\n" for e in batch))
            paths.append(str(path))
        _, replayed, _ = replay(["--rules", str(tmp_path / "rules"), "--lambda-alerts", *paths])
        assert len(lambda_alerts) >= 2
        assert [a["alert_id"] for a in replayed] == [a["alert_id"] for a in lambda_alerts]
        assert [a["record"] for a in replayed] == [a["record"] for a in lambda_alerts]

    def test_sum_counts_across_batches_and_a_retry_adds_nothing(self, state, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A sum reaching 1000 bytes over two batches alerts once with 1000; the first batch retried first adds nothing."""
        endpoint, table = state
        monkeypatch.chdir(tmp_path)
        write_tree(tmp_path, {"rules/r.yml": BASE + "---\n" + numeric("value_sum", "gte: 1000")})
        store = DynamoStore(table, client("dynamodb", endpoint))
        first = (sent("alice", 0, 600),)
        with compiled(tmp_path) as rules:
            assert invoke(rules, store, *first)[1] == []
            assert invoke(rules, store, *first)[1] == []  # the retry: still 600
            assert invoke(rules, store, sent("alice", 1, 300))[1] == []
            (alert,) = invoke(rules, store, sent("alice", 2, 100))[1]
        assert (alert["record"]["correlation"]["count"], alert["record"]["correlation"]["events"]) == (1000, 3)


class TestDedupOnTheLambda:
    def test_docs_example_first_at_once_follow_up_at_the_scheduled_flush(self, state, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """The extensions page's dedup rule: alice's first denial is sent at once, her next three are merged; a
        flush before the window ends sends nothing, the one after sends the follow-up once."""
        endpoint, table = state
        monkeypatch.chdir(tmp_path)
        write_tree(tmp_path, {"rules/r.yml": DEDUP_RULE})
        store = DynamoStore(table, client("dynamodb", endpoint))
        clock = Clock(1_704_067_200)
        with compiled(tmp_path) as rules:
            _, sent = invoke(rules, store, denied("alice", 0), denied("alice", 5), denied("bob", 6), clock=clock)
            _, more = invoke(rules, store, denied("alice", 9), denied("alice", 14), clock=clock)
            flushed: list[dict] = []
            stateful = Stateful.from_rules(rules, store, clock)
            clock.now += 10 * 60
            assert flush_dedup(stateful, deliver_each(flushed.append))["follow_ups"] == 0 and flushed == []
            clock.now += 20 * 60  # past both windows (alice's ends at 00:15, bob's at 00:21)
            counts = flush_dedup(stateful, deliver_each(flushed.append))
            assert flush_dedup(stateful, deliver_each(flushed.append))["windows"] == 0
        assert [a["record"]["userIdentity"]["arn"] for a in sent] == ["alice", "bob"] and more == []
        (follow_up,) = flushed
        assert follow_up["record"]["dedup"]["count"] == 3 and counts["closed"] == 2
        assert follow_up["record"]["dedup"]["first_alert_id"] == sent[0]["alert_id"]

    def test_one_state_write_per_window_per_batch(self, state, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Eight denials of three users in one batch write each user's window once (three writes); the same batch
        again (a retry) writes nothing and merges nothing twice: the follow-up counts alice's three and bob's two."""
        endpoint, table = state
        monkeypatch.chdir(tmp_path)
        write_tree(tmp_path, {"rules/r.yml": DEDUP_RULE})
        counting = Counting(client("dynamodb", endpoint))
        store = DynamoStore(table, counting)
        batch = [denied(u, m) for u, m in (("alice", 0), ("bob", 1), ("alice", 2), ("carol", 3), ("bob", 4), ("alice", 5), ("alice", 6), ("bob", 7))]
        clock = Clock(1_704_067_200)
        with compiled(tmp_path) as rules:
            result, sent = invoke(rules, store, *batch, clock=clock)
            assert result.failures == [] and len(counting.writes) == len(set(counting.writes)) == 3
            assert [(a["record"]["userIdentity"]["arn"], a["record"]["eventTime"][-6:-4]) for a in sent] == [("alice", "00"), ("bob", "01"), ("carol", "03")]
            counting.writes.clear()
            _, again = invoke(rules, store, *batch, clock=clock)
            assert counting.writes == [] and [a["alert_id"] for a in again] == [a["alert_id"] for a in sent]
            clock.now += 3600
            flushed: list[dict] = []
            flush_dedup(Stateful.from_rules(rules, store, clock), deliver_each(flushed.append))
        assert sorted((a["record"]["userIdentity.arn"], a["record"]["dedup"]["count"]) for a in flushed) == [("alice", 3), ("bob", 2)]

    def test_a_throttled_write_retries_the_items_and_never_double_counts(self, state, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """While writes are throttled, the dedup rule's items fail (partial batch response) and nothing is sent;
        the retry sends alice's first alert once and merges the other two once."""
        endpoint, table = state
        monkeypatch.chdir(tmp_path)
        write_tree(tmp_path, {"rules/r.yml": DEDUP_RULE})
        throttled = Throttling(client("dynamodb", endpoint))
        store = DynamoStore(table, throttled)
        batch = [denied("alice", m) for m in (0, 1, 2)]
        clock = Clock(1_704_067_200)
        with compiled(tmp_path) as rules:
            result, sent = invoke(rules, store, *batch, clock=clock)
            assert sorted(result.failures) == ["0", "1", "2"] and sent == []
            throttled.on = False
            result, sent = invoke(rules, store, *batch, clock=clock)
            assert result.failures == [] and len(sent) == 1
            clock.now += 3600
            flushed: list[dict] = []
            flush_dedup(Stateful.from_rules(rules, store, clock), deliver_each(flushed.append))
        (follow_up,) = flushed
        assert follow_up["record"]["dedup"]["count"] == 2

    def test_an_undelivered_follow_up_is_sent_again_by_the_retry(self, state, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A denial past alice's window closes it: its follow-up and the new first alert go out at the end of the
        batch. When the follow-up cannot be delivered, that denial's item fails, and its retry sends both again."""
        endpoint, table = state
        monkeypatch.chdir(tmp_path)
        write_tree(tmp_path, {"rules/r.yml": DEDUP_RULE})
        store = DynamoStore(table, client("dynamodb", endpoint))
        clock = Clock(1_704_067_200)
        with compiled(tmp_path) as rules:
            invoke(rules, store, denied("alice", 0), denied("alice", 1), clock=clock)

            def refuse_follow_ups(alert: dict) -> None:
                if "dedup" in alert["record"]:
                    raise RuntimeError("output down")
                delivered.append(alert)

            delivered: list[dict] = []
            stateful = Stateful.from_rules(rules, store, clock)
            result = process_batch(kinesis_event(denied("bob", 29), denied("alice", 30)), Runtime(rules, deliver_each(refuse_follow_ups), stateful=stateful))
            assert result.failures == ["1"] and [a["record"]["userIdentity"]["arn"] for a in delivered] == ["bob", "alice"]
            _, sent = invoke(rules, store, denied("alice", 30), clock=clock)
        follow_up, first = sent
        assert follow_up["record"]["dedup"]["count"] == 1 and first["alert_id"] == delivered[1]["alert_id"]

    def test_rules_with_state_refuse_to_run_without_a_table(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A package with dedup rules and no SIGIL_STATE_TABLE is refused, not run without dedup."""
        monkeypatch.chdir(tmp_path)
        write_tree(tmp_path, {"rules/r.yml": DEDUP_RULE})
        with compiled(tmp_path) as rules, pytest.raises(RuntimeError, match="SIGIL_STATE_TABLE"):
            stateful_from_env(rules, {})


def test_docs_dedup_rule_is_the_one_tested() -> None:
    """The dedup rule these tests run is the extensions page's example."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "extensions.md").read_text(encoding="utf-8")
    assert DEDUP_RULE in re.findall(r"```yaml\n(.*?)```", page, re.S)


class TestHandler:
    def test_handler_applies_dedup_and_answers_the_flush_event(self, state, compile_package, alert_sink, monkeypatch: pytest.MonkeyPatch) -> None:
        """Through `runtime.handler.handler` with SIGIL_STATE_TABLE: two denials of alice send one alert to the
        alerts topic; the scheduled flush event finds her window open and sends nothing yet."""
        from conftest import CLOUDTRAIL_SCHEMA_YAML

        from runtime.handler import handler

        _, table = state
        monkeypatch.setenv("SIGIL_STATE_TABLE", table)
        schema = CLOUDTRAIL_SCHEMA_YAML.replace("  responseElements: any\n", "  responseElements: any\n  errorCode: string\n")
        compile_package({"dedup.yml": DEDUP_RULE}, {"cloudtrail.yml": schema})
        records = [{**denied("alice", m), "eventSource": "s3.amazonaws.com"} for m in (0, 1)]
        assert handler(kinesis_event(*records), None) == {"batchItemFailures": []}
        (alert,) = alert_sink.receive()
        assert alert["rule_id"] and alert["record"]["userIdentity"]["arn"] == "alice"
        assert handler({"sigil": "flush"}, None) == {"windows": 0, "follow_ups": 0, "closed": 0, "failed": 0}

    def test_handler_refuses_stateful_rules_without_a_table(self, compile_package, alert_sink, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without SIGIL_STATE_TABLE a package with dedup rules is refused at the first invocation."""
        from conftest import CLOUDTRAIL_SCHEMA_YAML

        from runtime.handler import handler

        monkeypatch.delenv("SIGIL_STATE_TABLE", raising=False)
        schema = CLOUDTRAIL_SCHEMA_YAML.replace("  responseElements: any\n", "  responseElements: any\n  errorCode: string\n")
        compile_package({"dedup.yml": DEDUP_RULE}, {"cloudtrail.yml": schema})
        with pytest.raises(RuntimeError, match="SIGIL_STATE_TABLE"):
            handler(kinesis_event(denied("alice", 0)), None)
