"""Unit tests of the runtime path: Kinesis decoding, JSON parsing, classification, alerts, batch processing."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from make_samples import cloudtrail_payload, kinesis_event
from support import fake_rules

from runtime import handler as handler_module
from runtime.alerts import alert_id, build_alert
from runtime.classifier import Classifier
from runtime.contract import CONTRACT, ContractError
from runtime.outputs import OutputConfigError, dispatch
from runtime.outputs.sns import SnsOutput
from runtime.parsers import ParseError, json_parser, parse
from runtime.pipeline import Runtime, deliver_each, process_batch
from runtime.rules import load_rules, rule_set
from runtime.sources import kinesis

CONSOLE_LOGIN = {
    "eventVersion": "1.08",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "additionalEventData": {"MFAUsed": "No"},
    "userIdentity": {"type": "IAMUser", "userName": "alice"},
}
CREATE_BUCKET = {**CONSOLE_LOGIN, "eventSource": "s3.amazonaws.com", "eventName": "CreateBucket"}
del CREATE_BUCKET["additionalEventData"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kinesis_item(data: str, seq: str = "1") -> dict[str, Any]:
    return {"kinesis": {"sequenceNumber": seq, "data": data}, "eventSource": "aws:kinesis"}


class TestKinesis:
    def test_plain_payload(self) -> None:
        """A plain base64 payload decodes to its bytes, paired with the sequence number."""
        assert kinesis.decode_record(kinesis_item(b64(b'{"a": 1}'), "42")) == ("42", b'{"a": 1}')

    def test_gzip_payload(self) -> None:
        """A payload starting with the gzip magic bytes is gunzipped."""
        assert kinesis.decode_record(kinesis_item(b64(gzip.compress(b'{"a": 1}'))))[1] == b'{"a": 1}'

    def test_concatenated_gzip_members(self) -> None:
        """Every member of a multi-member gzip stream is decompressed."""
        data = gzip.compress(b"one\n") + gzip.compress(b"two\n")
        assert kinesis.decode_data(b64(data)) == b"one\ntwo\n"

    def test_gzip_size_is_bounded(self) -> None:
        """A gzip payload that inflates past the bound is refused, not decompressed."""
        with pytest.raises(kinesis.DecodeError, match="exceeds 1000 bytes"):
            kinesis.decode_data(b64(gzip.compress(b"x" * 5000)), max_bytes=1000)

    def test_truncated_gzip(self) -> None:
        """A truncated gzip payload is a decode error."""
        with pytest.raises(kinesis.DecodeError, match="truncated"):
            kinesis.decode_data(b64(gzip.compress(b"x" * 5000)[:20]))

    def test_invalid_base64(self) -> None:
        """Data that is not base64 is a decode error."""
        with pytest.raises(kinesis.DecodeError, match="base64"):
            kinesis.decode_record(kinesis_item("not base64!"))

    def test_missing_data(self) -> None:
        """A record without kinesis.data is a decode error."""
        with pytest.raises(kinesis.DecodeError):
            kinesis.decode_record({"kinesis": {"sequenceNumber": "1"}})


class TestJsonParser:
    def test_one_object(self) -> None:
        """One JSON object is one record."""
        assert json_parser.parse(b'{"a": 1}', {}) == [{"a": 1}]

    def test_newline_delimited(self) -> None:
        """Newline-delimited objects are one record each; blank lines are skipped."""
        assert json_parser.parse(b'{"a": 1}\n\n{"a": 2}\n', {}) == [{"a": 1}, {"a": 2}]

    def test_records_path(self) -> None:
        """``records: Records[*]`` extracts the nested records of each object."""
        raw = json.dumps({"Records": [CONSOLE_LOGIN, CREATE_BUCKET]}).encode()
        assert json_parser.parse(raw, {"records": "Records[*]"}) == [CONSOLE_LOGIN, CREATE_BUCKET]

    def test_nested_records_path(self) -> None:
        """The records path may be dotted."""
        assert json_parser.parse(b'{"a": {"b": [{"c": 1}]}}', {"records": "a.b[*]"}) == [{"c": 1}]

    def test_records_path_missing(self) -> None:
        """An object without the records path is itself one record (one event per message)."""
        assert json_parser.parse(b'{"a": 1}', {"records": "Records[*]"}) == [{"a": 1}]

    def test_records_path_not_a_list(self) -> None:
        """A records path that holds something other than a list of objects is a parse error."""
        with pytest.raises(ParseError, match="not a list of objects"):
            json_parser.parse(b'{"Records": {"a": 1}}', {"records": "Records[*]"})

    @pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b'{"a": 1}\n[2]'])
    def test_malformed(self, raw: bytes) -> None:
        """Invalid JSON, non-objects and non-UTF-8 are parse errors."""
        with pytest.raises(ParseError):
            json_parser.parse(raw, {})

    def test_registry_dispatch(self) -> None:
        """``parse`` dispatches on the config's type and rejects unknown types."""
        assert parse(b'{"a": 1}', {"type": "json"}) == [{"a": 1}]
        assert parse(b"a,b", {"type": "csv", "columns": ["x", "y"]}) == [{"x": "a", "y": "b"}]
        with pytest.raises(ParseError, match="unknown parser type"):
            parse(b"<a/>", {"type": "xml"})


class TestClassifier:
    classifier = Classifier(fake_rules.SCHEMAS)

    def test_match(self) -> None:
        """A record with every required field is classified."""
        assert self.classifier.classify(CONSOLE_LOGIN).log_type == "cloudtrail"

    def test_no_match_has_reason(self) -> None:
        """A record missing required fields gets None and a reason naming them."""
        result = self.classifier.classify({"eventName": "ConsoleLogin"})
        assert result.log_type is None
        assert result.reason == "no log type fits: cloudtrail lacks eventSource, eventVersion"

    def test_priority_then_name(self) -> None:
        """Among fitting log types the lowest priority number wins, then the name."""
        json_type = {"parser": {"type": "json"}, "required": ["a"]}
        schemas = {
            "log_types": {
                "zeta": {**json_type, "priority": 1},
                "beta": {**json_type, "priority": 2},
                "alpha": {**json_type, "priority": 2},
                "unprioritized": json_type,
            }
        }
        assert Classifier(schemas).classify({"a": 1}).log_type == "zeta"
        del schemas["log_types"]["zeta"]
        assert Classifier(schemas).classify({"a": 1}).log_type == "alpha"

    def test_payload_with_records_path(self) -> None:
        """A payload is parsed with the log type's parser options, then each record is classified."""
        payload = self.classifier.classify_payload(cloudtrail_payload(CONSOLE_LOGIN))
        assert payload.error is None
        assert [(record, result.log_type) for record, result in payload.records] == [
            (CONSOLE_LOGIN, "cloudtrail")
        ]

    def test_bare_record_payload(self) -> None:
        """A payload holding one bare CloudTrail record (no Records envelope) is classified too."""
        payload = self.classifier.classify_payload(json.dumps(CONSOLE_LOGIN).encode())
        assert [result.log_type for _, result in payload.records] == ["cloudtrail"]

    def test_malformed_payload(self) -> None:
        """A payload no parser accepts gives an error naming the log types tried."""
        payload = self.classifier.classify_payload(b"{truncated")
        assert payload.records == []
        assert payload.error is not None and payload.error.startswith("cloudtrail: invalid JSON")


class TestAlerts:
    def test_id_is_stable(self) -> None:
        """The same rule and record give the same id, whatever the key order."""
        reordered = dict(reversed(list(CONSOLE_LOGIN.items())))
        assert alert_id("r1", CONSOLE_LOGIN) == alert_id("r1", reordered)

    def test_id_follows_the_contract(self) -> None:
        """The id is the sha256 of the rule id, a newline and the canonical JSON of the record."""
        canonical = json.dumps(CONSOLE_LOGIN, sort_keys=True, separators=(",", ":"))
        assert alert_id("r1", CONSOLE_LOGIN) == hashlib.sha256(f"r1\n{canonical}".encode()).hexdigest()

    def test_id_differs(self) -> None:
        """A different record or a different rule gives a different id."""
        assert alert_id("r1", CONSOLE_LOGIN) != alert_id("r1", CREATE_BUCKET)
        assert alert_id("r1", CONSOLE_LOGIN) != alert_id("r2", CONSOLE_LOGIN)

    def test_document(self) -> None:
        """The alert carries exactly the contract's fields."""
        alert = build_alert("r1", {"title": "T", "level": "high"}, "cloudtrail", "arn:stream", CONSOLE_LOGIN)
        assert alert == {
            "alert_id": alert_id("r1", CONSOLE_LOGIN),
            "rule_id": "r1",
            "title": "T",
            "level": "high",
            "log_type": "cloudtrail",
            "source": "arn:stream",
            "record": CONSOLE_LOGIN,
        }


class TestRules:
    def test_load(self, handwritten_rules: object) -> None:
        """The package's modules, schemas and classifier are loaded."""
        rules = load_rules()
        assert set(rules.modules) == {"cloudtrail"}
        assert rules.matcher("cloudtrail")(CONSOLE_LOGIN) == [fake_rules.RULE_ID]
        assert rules.rule("cloudtrail", fake_rules.RULE_ID)["level"] == "medium"
        assert rules.matcher("unknown") is None

    def test_cached(self, handwritten_rules: object) -> None:
        """``rule_set`` loads once."""
        assert rule_set() is rule_set()

    @pytest.mark.parametrize(
        ("init", "message"),
        [
            ("LOG_TYPES = {}\nCONTRACT = 0\n", "generated for contract version 0, this runtime reads version"),
            ('LOG_TYPES = {}\nSCHEMAS_FILE = "schemas.json"\n', "generated for contract version none"),
            (f"CONTRACT = {CONTRACT}\n", "lacks LOG_TYPES"),
        ],
        ids=["another version", "before versions", "no log types"],
    )
    def test_a_package_of_another_contract_is_refused(
        self, init: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A package generated for another contract version (or none) is refused at load, naming both versions."""
        name = "sigil_rules_" + hashlib.sha256(init.encode()).hexdigest()[:12]
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(init)
        (tmp_path / name / "schemas.json").write_text(json.dumps(fake_rules.SCHEMAS))
        monkeypatch.syspath_prepend(str(tmp_path))
        with pytest.raises(ContractError, match=message):
            load_rules(name)

    def test_a_module_without_its_parts_is_refused(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A log type's module must have LOG_TYPE, RULES and match, and its log type an entry in schemas.json."""
        package = tmp_path / "sigil_rules_parts"
        package.mkdir()
        (package / "__init__.py").write_text(f"LOG_TYPES = {{'cloudtrail': 'cloudtrail'}}\nCONTRACT = {CONTRACT}\n")
        (package / "cloudtrail.py").write_text("LOG_TYPE = 'cloudtrail'\nRULES = {}\n")
        (package / "schemas.json").write_text(json.dumps(fake_rules.SCHEMAS))
        monkeypatch.syspath_prepend(str(tmp_path))
        with pytest.raises(ContractError, match="lacks match"):
            load_rules("sigil_rules_parts")


class TestProcessBatch:
    @pytest.fixture
    def published(self) -> list[dict[str, Any]]:
        return []

    def test_alerts_and_quarantines(
        self, handwritten_rules: object, published: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Matching records produce alerts; bad payloads are counted and quarantined (logged), not raised."""
        event = kinesis_event(
            [
                cloudtrail_payload(CONSOLE_LOGIN),
                cloudtrail_payload(CREATE_BUCKET),
                b"{bad",
                b'{"Records": [{"eventName": "x"}]}',
            ]
        )
        event["Records"].append(kinesis_item("%%%", "9"))
        result = process_batch(event, Runtime(rule_set(), deliver_each(published.append)))
        assert [alert["rule_id"] for alert in published] == [fake_rules.RULE_ID]
        assert result.failures == []
        summary = result.summary()
        assert {key: summary[key] for key in ("items", "records", "matched", "clean", "quarantined")} == {
            "items": 5,
            "records": 5,
            "matched": 1,
            "clean": 1,
            "quarantined": 3,
        }
        assert (summary["parse_failures"], summary["alerts"], summary["delivered"]) == (1, 1, 1)
        assert result.stats.violations() == []
        logs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert [(log["event"], log["stage"]) for log in logs if log["event"] == "record_quarantined"] == [
            ("record_quarantined", "parse"),
            ("record_quarantined", "classify"),
            ("record_quarantined", "decode"),
        ]

    def test_publish_failure_is_a_batch_item_failure(self, handwritten_rules: object) -> None:
        """A record whose alert cannot be published is reported by sequence number."""

        def publish(alert: dict[str, Any]) -> None:
            raise ConnectionError("SNS down")

        event = kinesis_event([cloudtrail_payload(CREATE_BUCKET), cloudtrail_payload(CONSOLE_LOGIN)])
        result = process_batch(event, Runtime(rule_set(), deliver_each(publish)))
        assert result.failures == [event["Records"][1]["kinesis"]["sequenceNumber"]]
        assert (result.stats.alerts, result.stats.undelivered) == (1, 1)

    def test_matcher_error_is_quarantined(
        self, handwritten_rules: object, published: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A matcher that raises quarantines the record and counts the error instead of failing the batch."""
        rules = rule_set()
        monkeypatch.setattr(rules.modules["cloudtrail"], "match", lambda record, errors: 1 / 0)
        result = process_batch(
            kinesis_event([cloudtrail_payload(CONSOLE_LOGIN)]), Runtime(rules, deliver_each(published.append))
        )
        assert (result.failures, result.stats.quarantined, result.stats.rule_errors, published) == ([], 1, 1, [])
        assert result.rule_errors == {"cloudtrail:*": 1}


class TestHandler:
    @pytest.fixture
    def sent(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[dict[str, Any], str]]]:
        """Replace SNS publishing by the dispatcher with a recorder of (alert, topic ARN); yield the record."""
        sent: list[tuple[dict[str, Any], str]] = []

        def send(output: SnsOutput, alert: dict[str, Any]) -> None:
            sent.append((alert, str(output.settings["topic_arn"])))

        monkeypatch.setattr(SnsOutput, "send", send)
        for name in ("SIGIL_OUTPUTS_FILE", "SIGIL_OUTPUTS_OVERRIDE", "SIGIL_DLQ_URL"):
            monkeypatch.delenv(name, raising=False)
        dispatch.reset_default()
        yield sent
        dispatch.reset_default()

    def test_refuses_to_run_without_any_destination(
        self, handwritten_rules: object, sent: list[Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With no topic, no configured output and no dead-letter queue the handler fails loudly, reading nothing."""
        monkeypatch.delenv("SIGIL_ALERTS_TOPIC_ARN", raising=False)
        with pytest.raises(RuntimeError, match="SIGIL_ALERTS_TOPIC_ARN"):
            handler_module.handler(kinesis_event([cloudtrail_payload(CONSOLE_LOGIN)]), None)
        assert sent == []

    def test_invalid_outputs_configuration_fails_before_reading(
        self, handwritten_rules: object, sent: list[Any], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An output configuration naming an unknown service stops the handler before any alert is sent."""
        monkeypatch.setenv("SIGIL_ALERTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts")
        monkeypatch.setenv("SIGIL_OUTPUTS_OVERRIDE", json.dumps({"carrier-pigeon:loft": {}}))
        with pytest.raises(OutputConfigError, match="carrier-pigeon"):
            handler_module.handler(kinesis_event([cloudtrail_payload(CONSOLE_LOGIN)]), None)
        assert sent == []

    def test_configured_outputs_replace_the_topic(
        self, handwritten_rules: object, sent: list[tuple[dict[str, Any], str]], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without SIGIL_ALERTS_TOPIC_ARN, an output set by SIGIL_OUTPUTS_OVERRIDE receives the rule's alerts."""
        monkeypatch.delenv("SIGIL_ALERTS_TOPIC_ARN", raising=False)
        arn = "arn:aws:sns:us-east-1:123456789012:from-override"
        monkeypatch.setenv("SIGIL_OUTPUTS_OVERRIDE", json.dumps({"sns:alerts": {"topic_arn": arn}}))
        response = handler_module.handler(kinesis_event([cloudtrail_payload(CONSOLE_LOGIN)]), None)
        assert response == {"batchItemFailures": []}
        assert [(alert["rule_id"], topic) for alert, topic in sent] == [(fake_rules.RULE_ID, arn)]

    def test_response_and_summary(
        self,
        handwritten_rules: object,
        sent: list[tuple[dict[str, Any], str]],
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """The handler returns Lambda's partial-batch response and logs one summary line last."""
        monkeypatch.setenv("SIGIL_ALERTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:alerts")
        response = handler_module.handler(kinesis_event([cloudtrail_payload(CONSOLE_LOGIN)]), None)
        assert response == {"batchItemFailures": []}
        assert [topic for _, topic in sent] == ["arn:aws:sns:us-east-1:123456789012:alerts"]
        summary = json.loads(capsys.readouterr().out.splitlines()[-1])
        assert summary["event"] == "batch_summary"
        assert {key: summary[key] for key in ("kind", "items", "records", "matched", "alerts", "delivered")} == {
            "kind": "kinesis",
            "items": 1,
            "records": 1,
            "matched": 1,
            "alerts": 1,
            "delivered": 1,
        }
