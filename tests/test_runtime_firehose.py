"""Firehose data-transformation invocations: records read like Kinesis data, returned to Firehose unchanged."""

from __future__ import annotations

import base64
import copy
import gzip
import json
from pathlib import Path
from typing import Any

import event_samples
import make_samples
import pytest
from moto_process import AlertSink, cloudwatch_logs_envelope

from runtime import handler as handler_module
from runtime.sources import detect, firehose
from runtime.sources.limits import Limits

RECORDS = make_samples.read_records(make_samples.EVENT_RECORDS)


def sample() -> dict[str, Any]:
    return copy.deepcopy(event_samples.firehose(RECORDS))


def with_record(event: dict[str, Any], record_id: str, data: str) -> dict[str, Any]:
    event["records"].append({"recordId": record_id, "approximateArrivalTimestamp": 1715678700000, "data": data})
    return event


class TestDetect:
    def test_one_item_per_record(self) -> None:
        """A transformation event is a firehose batch of one item per record, without partial batch responses."""
        batch = detect.batch(sample(), Limits())
        assert (batch.kind, len(batch.items), batch.partial) == ("firehose", 5, False)
        payload = next(batch.items[0].read())
        assert json.loads(payload.data) == {"Records": [RECORDS[0]]}
        assert (payload.source, payload.source_arn) == ("firehose:sigil-cloudtrail", event_samples.DELIVERY_STREAM_ARN)
        assert payload.origin == {"record_id": sample()["records"][0]["recordId"]}

    def test_cloudwatch_logs_envelope_unwrapped(self) -> None:
        """A CloudWatch Logs subscription's gzip envelope in a record gives one payload per log event."""
        envelope = cloudwatch_logs_envelope("/trail", [json.dumps(RECORDS[0]), json.dumps(RECORDS[1])])
        event = with_record({**sample(), "records": []}, "r1", base64.b64encode(envelope).decode())
        payloads = list(detect.batch(event, Limits()).items[0].read())
        assert [json.loads(p.data)["eventID"] for p in payloads] == [RECORDS[0]["eventID"], RECORDS[1]["eventID"]]

    @pytest.mark.parametrize(("data", "reason"), [("%%%", "invalid base64"), (None, "without a data string")])
    def test_undecodable_record_fails_its_payload(self, data: Any, reason: str) -> None:
        """A record whose data cannot be decoded is a failed payload (quarantined), not an exception."""
        event = {**sample(), "records": [{"recordId": "bad", "data": data}]}
        [payload] = detect.batch(event, Limits()).items[0].read()
        assert payload.error is not None and reason in payload.error

    def test_not_firehose(self) -> None:
        """A document without deliveryStreamArn is not a transformation event."""
        event = sample()
        del event["deliveryStreamArn"]
        assert not firehose.is_event(event)
        assert detect.batch(event, Limits()).kind == "unknown"


class TestHandler:
    def test_records_returned_unchanged(
        self, compiled_rules: Path, alert_sink: AlertSink, runtime_aws: str
    ) -> None:
        """Every record comes back Ok with its data as it came, quarantined ones too; the alerts are delivered."""
        event = with_record(sample(), "garbage", base64.b64encode(b"not a log line").decode())
        event = with_record(event, "gzip", base64.b64encode(gzip.compress(json.dumps(RECORDS[0]).encode())).decode())
        response = handler_module.handler(event, None)
        assert response == {
            "records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in event["records"]]
        }
        alerts = alert_sink.receive()  # the gzip record repeats alice's login: the same alert, sent once
        assert sorted(a["record"]["eventID"] for a in alerts) == sorted(r["eventID"] for r in RECORDS[:3])
        assert {a["source"] for a in alerts} == {event_samples.DELIVERY_STREAM_ARN}

    def test_failed_item_makes_firehose_retry(
        self, compiled_rules: Path, runtime_aws: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An alert neither delivered nor dead-lettered raises, so Firehose invokes again (no ProcessingFailed)."""
        monkeypatch.setenv("SIGIL_ALERTS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:missing-topic")
        with pytest.raises(handler_module.IncompleteBatch, match="3 of 5 items failed"):
            handler_module.handler(sample(), None)
