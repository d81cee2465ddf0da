"""Batches: partial batch responses, the count invariants, delivery reports, rule isolation, metrics and logs."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto_process import AlertSink, Queue
from support import fake_rules
from test_runtime_sources import console_login

from runtime import handler as handler_module
from runtime import metrics
from runtime.contract import CONTRACT
from runtime.outputs import dispatch
from runtime.outputs.sns import SnsOutput
from runtime.pipeline import DeliveryReport, Runtime, deliver_each, process_batch
from runtime.rules import load_rules, rule_set


class ListQuarantine:
    """An in-memory quarantine."""

    description = "memory"

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put(self, entries: list[dict[str, Any]]) -> None:
        self.entries.extend(entries)


def kinesis_event(*payloads: bytes) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/batches",
                "kinesis": {"sequenceNumber": str(index), "data": base64.b64encode(data).decode()},
            }
            for index, data in enumerate(payloads)
        ]
    }


def user_of(alert: dict[str, Any]) -> str:
    return str(alert["record"]["userIdentity"]["userName"])


class TestPartialBatches:
    @pytest.mark.slow
    def test_sqs_only_failed_messages_retry(
        self, cloudtrail_rules: Path, alert_sink: AlertSink, runtime_aws: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Of good, bad and undeliverable SQS messages only the undeliverable one is reported for retry."""
        real_send = SnsOutput.send

        def send(output: SnsOutput, alert: dict[str, Any]) -> None:
            if user_of(alert) == "unlucky":
                raise ConnectionError("output down")
            real_send(output, alert)

        monkeypatch.setattr(SnsOutput, "send", send)
        queue = Queue.create(runtime_aws)
        queue.send(json.dumps(console_login("lucky")), "{not json", json.dumps(console_login("unlucky")))
        event = queue.lambda_event()
        failing = [r["messageId"] for r in event["Records"] if "unlucky" in r["body"]]
        response = handler_module.handler(event, None)
        assert response == {"batchItemFailures": [{"itemIdentifier": failing[0]}]}
        assert [user_of(alert) for alert in alert_sink.receive()] == ["lucky"]

    def test_dead_lettered_alerts_do_not_retry(self, handwritten_rules: Path) -> None:
        """Alerts the deliver function dead-lettered count as such and do not fail their item."""

        def deliver(alerts: list[dict[str, Any]]) -> DeliveryReport:
            return DeliveryReport(dead_lettered=tuple(alert["alert_id"] for alert in alerts))

        event = kinesis_event(json.dumps(fake_rules_record("dl")).encode())
        result = process_batch(event, Runtime(rule_set(), deliver))
        assert (result.failures, result.stats.dead_lettered, result.stats.delivered) == ([], 1, 0)
        assert result.stats.violations() == []

    def test_deliver_that_raises_fails_the_item(self, handwritten_rules: Path) -> None:
        """A deliver function that raises leaves its alerts undelivered and the item to retry."""

        def deliver(alerts: list[dict[str, Any]]) -> DeliveryReport:
            raise RuntimeError("dispatcher bug")

        event = kinesis_event(json.dumps(fake_rules_record("x")).encode())
        result = process_batch(event, Runtime(rule_set(), deliver))
        assert (result.failures, result.stats.undelivered) == (["0"], 1)

    def test_report_that_loses_alerts_fails_the_item(self, handwritten_rules: Path) -> None:
        """Alerts a report does not account for are treated as undelivered."""
        event = kinesis_event(json.dumps(fake_rules_record("x")).encode())
        result = process_batch(event, Runtime(rule_set(), lambda alerts: DeliveryReport()))
        assert (result.failures, result.stats.undelivered, result.stats.violations()) == (["0"], 1, [])


def fake_rules_record(user: str, mfa: str = "No") -> dict[str, Any]:
    """A record the handwritten rule fires on (unless ``mfa`` is Yes)."""
    return {
        "eventVersion": "1.08",
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "additionalEventData": {"MFAUsed": mfa},
        "userIdentity": {"type": "IAMUser", "userName": user},
    }


RECORD = st.sampled_from(["match", "clean", "unclassified"])
PAYLOAD = st.one_of(
    st.tuples(st.just("records"), st.lists(RECORD, max_size=4), st.booleans()),
    st.tuples(st.just("malformed"), st.just([]), st.just(False)),
    st.tuples(st.just("truncated"), st.just([]), st.just(False)),
)


class TestCountInvariant:
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        payloads=st.lists(PAYLOAD, max_size=8),
        outcomes=st.lists(st.sampled_from(["delivered", "dead_lettered", "failed"]), min_size=40, max_size=40),
    )
    def test_every_record_and_alert_is_accounted_for(
        self, handwritten_rules: Path, payloads: list[tuple[str, list[str], bool]], outcomes: list[str]
    ) -> None:
        """records = matched + clean + quarantined and alerts = delivered + dead-lettered + undelivered, always;
        exactly the items holding an undelivered alert are retried."""
        raw: list[bytes] = []
        expected = {"records": 0, "matched": 0, "clean": 0, "quarantined": 0}
        alert_outcome: dict[str, str] = {}
        failing_items: set[str] = set()
        for index, (kind, records, compress) in enumerate(payloads):
            if kind == "malformed":
                raw.append(b'{"Records": [')
                expected["records"] += 1
                expected["quarantined"] += 1
                continue
            if kind == "truncated":
                raw.append(gzip.compress(b'{"Records": []}')[:12])
                expected["records"] += 1
                expected["quarantined"] += 1
                continue
            docs = []
            for number, record_kind in enumerate(records):
                user = f"u{index}-{number}"
                if record_kind == "unclassified":
                    docs.append({"eventName": "ConsoleLogin", "userIdentity": {"userName": user}})
                    expected["quarantined"] += 1
                else:
                    docs.append(fake_rules_record(user, "No" if record_kind == "match" else "Yes"))
                    expected["matched" if record_kind == "match" else "clean"] += 1
                if record_kind == "match":
                    outcome = outcomes[len(alert_outcome) % len(outcomes)]
                    alert_outcome[user] = outcome
                    if outcome == "failed":
                        failing_items.add(str(index))
            expected["records"] += len(records)
            data = json.dumps({"Records": docs}).encode()
            raw.append(gzip.compress(data) if compress else data)

        def deliver(alerts: list[dict[str, Any]]) -> DeliveryReport:
            by: dict[str, list[str]] = {"delivered": [], "dead_lettered": [], "failed": []}
            for alert in alerts:
                by[alert_outcome[user_of(alert)]].append(alert["alert_id"])
            return DeliveryReport(**{name: tuple(ids) for name, ids in by.items()})

        quarantine = ListQuarantine()
        result = process_batch(kinesis_event(*raw), Runtime(load_rules(), deliver, quarantine))
        stats = result.stats
        assert stats.violations() == []
        assert {name: getattr(stats, name) for name in expected} == expected
        assert len(quarantine.entries) == stats.quarantined
        assert stats.alerts == len(alert_outcome)
        assert stats.undelivered == sum(outcome == "failed" for outcome in alert_outcome.values())
        assert set(result.failures) == failing_items


MODULE_WITH_FRAGILE_RULE = '''\
"""A matcher module keeping the generated contract: `match(record, errors)` isolates a raising rule."""
LOG_TYPE = "cloudtrail"
RULES = {
    "fragile": {"title": "Fragile", "level": "low"},
    "sturdy": {"title": "Sturdy", "level": "high"},
}


def _fragile(record):
    return record["userIdentity"]["arn"].endswith(":root")  # raises when there is no arn


def _sturdy(record):
    return record.get("eventName") == "ConsoleLogin"


CHECKS = {"fragile": _fragile, "sturdy": _sturdy}


def match(record, errors=None):
    matched = []
    for rule_id, test in CHECKS.items():
        try:
            if test(record):
                matched.append(rule_id)
        except Exception as exc:
            if errors is None:
                raise
            errors.append((rule_id, exc))
    return matched
'''


@pytest.fixture
def isolated_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A package whose cloudtrail module has a rule that raises on records without ``userIdentity.arn``."""
    package = tmp_path / "sigil_rules"
    package.mkdir()
    (package / "__init__.py").write_text(f'LOG_TYPES = {{"cloudtrail": "cloudtrail"}}\nCONTRACT = {CONTRACT}\n')
    (package / "cloudtrail.py").write_text(textwrap.dedent(MODULE_WITH_FRAGILE_RULE))
    (package / "schemas.json").write_text(json.dumps(fake_rules.SCHEMAS))
    _forget()
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    _forget()


def _forget() -> None:
    for name in [name for name in sys.modules if name == "sigil_rules" or name.startswith("sigil_rules.")]:
        del sys.modules[name]
    rule_set.cache_clear()


class TestRuleIsolation:
    def test_one_failing_rule_does_not_stop_the_others(self, isolated_rules: None, capsys: pytest.CaptureFixture[str]) -> None:
        """When one rule raises, it is recorded as a rule error and the others still alert."""
        published: list[dict[str, Any]] = []
        event = kinesis_event(json.dumps(fake_rules_record("no-arn")).encode())
        result = process_batch(event, Runtime(rule_set(), deliver_each(published.append)))
        assert [alert["rule_id"] for alert in published] == ["sturdy"]
        assert (result.stats.matched, result.stats.rule_errors, result.stats.quarantined) == (1, 1, 0)
        assert result.rule_errors == {"fragile": 1}
        logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        (error,) = [log for log in logs if log["event"] == "rule_error"]
        assert (error["rule_id"], error["log_type"], error["level"]) == ("fragile", "cloudtrail", "error")
        assert "KeyError" in error["error"]

    def test_rules_that_do_not_raise_run_once(self, isolated_rules: None) -> None:
        """A record every rule can evaluate goes through ``match`` alone and gives each matching rule."""
        record = {**fake_rules_record("root"), "userIdentity": {"arn": "arn:aws:iam::1:root"}}
        assert rule_set().evaluate("cloudtrail", record).rule_ids == ["fragile", "sturdy"]



# Really compiled rules (`sigil compile` output, not a handwritten module): the generated `match` and
# `runtime.helpers.run_rules` are what isolate one raising rule from the others.
FRAGILE_HOOK = """\
def arn_is_root(record):
    return record["userIdentity"]["arn"].endswith(":root")
"""
FRAGILE_RULE = """\
title: Fragile
id: 0e6a3a52-1b7e-4d0b-9a51-8f7c1f7f00f1
logsource: {product: aws, service: cloudtrail}
python:
  conditions:
    is_root: rules/fragile.py:arn_is_root
detection:
  selection:
    eventName: ConsoleLogin
  condition: selection and is_root
level: low
"""
FRAGILE, STURDY = "0e6a3a52-1b7e-4d0b-9a51-8f7c1f7f00f1", "0e6a3a52-1b7e-4d0b-9a51-8f7c1f7f00f2"
STURDY_RULE = """\
title: Sturdy
id: 0e6a3a52-1b7e-4d0b-9a51-8f7c1f7f00f2
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: ConsoleLogin
  condition: selection
level: low
"""


class TestGeneratedRuleIsolation:
    @pytest.fixture
    def generated_rules(self, compile_package: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
        from conftest import CLOUDTRAIL_SCHEMA_YAML

        monkeypatch.chdir(tmp_path)  # hook paths resolve from the working directory
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "fragile.py").write_text(FRAGILE_HOOK)
        return compile_package({"fragile.yml": FRAGILE_RULE, "sturdy.yml": STURDY_RULE}, {"cloudtrail.yml": CLOUDTRAIL_SCHEMA_YAML})

    def test_a_raising_hook_is_a_rule_error_and_the_other_rules_still_alert(
        self, generated_rules: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The hook raises KeyError on a record without userIdentity.arn: a rule_error log line, the RuleErrors
        metric for that rule and log type, and the sturdy rule's alert all the same."""
        source = (generated_rules / "sigil_rules" / "cloudtrail.py").read_text()
        assert "run_rules(" in source and "_hooks" in source  # the module under test is the generated one
        published: list[dict[str, Any]] = []
        event = kinesis_event(json.dumps(fake_rules_record("no-arn")).encode())
        result = process_batch(event, Runtime(rule_set(), deliver_each(published.append)))
        assert [alert["rule_id"] for alert in published] == [STURDY]
        assert (result.stats.matched, result.stats.clean, result.stats.rule_errors) == (1, 0, 1)
        assert result.rule_errors == {FRAGILE: 1}
        (error,) = [log for log in map(json.loads, capsys.readouterr().out.splitlines()) if log["event"] == "rule_error"]
        assert (error["rule_id"], error["log_type"]) == (FRAGILE, "cloudtrail") and "KeyError" in error["error"]
        docs = metrics.documents(dataclasses.asdict(result.stats), result.log_types, result.rule_errors, namespace="T", function="f", timestamp_ms=1)
        assert [(d.get("LogType"), d.get("RuleId"), d["RuleErrors"]) for d in docs if d.get("RuleErrors")] == [
            (None, None, 1), ("cloudtrail", None, 1), (None, FRAGILE, 1),
        ]

    def test_a_record_every_rule_can_read_fires_both(self, generated_rules: Path) -> None:
        """The same package on a record with an arn: both rules, no error (the hook does run)."""
        record = {**fake_rules_record("root"), "userIdentity": {"arn": "arn:aws:iam::1:root"}}
        evaluation = rule_set().evaluate("cloudtrail", record)
        assert (evaluation.rule_ids, evaluation.errors) == ([FRAGILE, STURDY], [])


class TestObservability:
    def test_emf_documents(self) -> None:
        """Each EMF document declares metrics whose values sit at the top level with its dimensions."""
        counts = {"records": 10, "alerts": 2, "parse_failures": 1, "quarantined": 3, "rule_errors": 1}
        per_type = {"cloudtrail": metrics.LogTypeCounts(records=7, alerts=2, rule_errors=1, seconds=0.0125)}
        outputs = {"slack:secops": {"delivered": 4, "dead_lettered": 1, "retries": 3}}
        docs = metrics.documents(counts, per_type, {"fragile": 1}, namespace="Test", function="fn", timestamp_ms=1, outputs=outputs)
        assert len(docs) == 4
        for doc in docs:
            (directive,) = doc["_aws"]["CloudWatchMetrics"]
            assert doc["_aws"]["Timestamp"] == 1 and directive["Namespace"] == "Test"
            for dimension in directive["Dimensions"][0]:
                assert isinstance(doc[dimension], str)
            for metric in directive["Metrics"]:
                assert isinstance(doc[metric["Name"]], int | float)
        assert (docs[0]["Records"], docs[0]["ParseFailures"], docs[0]["Quarantined"]) == (10, 1, 3)
        assert (docs[1]["LogType"], docs[1]["MatchTime"], docs[1]["RuleErrors"]) == ("cloudtrail", 12.5, 1)
        assert (docs[2]["RuleId"], docs[2]["RuleErrors"]) == ("fragile", 1)
        assert {k: docs[3][k] for k in ("Output", "AlertsDelivered", "AlertsDeadLettered", "AlertsFailed", "Retries")} == {
            "Output": "slack:secops", "AlertsDelivered": 4, "AlertsDeadLettered": 1, "AlertsFailed": 0, "Retries": 3,
        }

    def test_handler_writes_only_json_lines(
        self, handwritten_rules: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Every line the handler writes is JSON: a structured log line or an EMF document with its metrics."""
        monkeypatch.setenv("SIGIL_ALERTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts")
        monkeypatch.setattr(SnsOutput, "send", lambda output, alert: None)
        monkeypatch.delenv("SIGIL_DLQ_URL", raising=False)
        dispatch.reset_default()
        event = kinesis_event(json.dumps({"Records": [fake_rules_record("a")]}).encode(), b"{bad")
        handler_module.handler(event, None)
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        emf = [line for line in lines if "_aws" in line]
        structured = [line for line in lines if "_aws" not in line]
        assert {line["LogType"] for line in emf if "LogType" in line} == {"cloudtrail"}
        batch = [line for line in emf if "LogType" not in line and "Output" not in line]
        assert [(line["Records"], line["Alerts"], line["Quarantined"]) for line in batch] == [(2, 1, 1)]
        # one line per output the dispatcher reported on: alarm on dead letters per output
        assert [(line["Output"], line["AlertsDelivered"], line["AlertsDeadLettered"]) for line in emf if "Output" in line] == [
            ("aws-sns:alerts", 1, 0)
        ]
        assert all({"level", "event"} <= set(line) for line in structured)
        assert [line["event"] for line in structured] == ["record_quarantined", "quarantine_not_stored", "batch_summary"]
