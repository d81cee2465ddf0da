"""Firehose data-transformation invocations: each record's base64 data is a payload, as a Kinesis record's is.

The data is gunzipped when it is gzip and a CloudWatch Logs subscription envelope is unwrapped (a log
group subscribed to a delivery stream). Sigil is a transformation that does not transform: detection is a
side effect, so the response (``response``) returns every record ``Ok`` with its data unchanged and the
delivery stream delivers exactly what it received. A record whose item failed (an alert neither delivered
nor dead-lettered, a quarantine write failed, the deadline) is not marked ``ProcessingFailed``, which would
keep it from the destination and never retry it: the handler raises instead, as for the other triggers
without partial batch responses, so Firehose invokes the function again with the batch (and, once its
retries are spent, writes the records to its ``processing-failed/`` S3 prefix, where they can be replayed).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from runtime.sources import Item, Payload, cloudwatch, failed
from runtime.sources.compression import DecodeError
from runtime.sources.kinesis import decode_data
from runtime.sources.limits import Limits

OK = "Ok"


def is_event(event: Mapping[str, Any]) -> bool:
    """Is ``event`` a Firehose transformation invocation (``invocationId``, ``deliveryStreamArn``, ``records``)?"""
    return (
        isinstance(event.get("deliveryStreamArn"), str)
        and "invocationId" in event
        and isinstance(event.get("records"), list)
    )


def stream_name(arn: str) -> str:
    """Return the delivery stream name of its ARN (``...:deliverystream/<name>``)."""
    return arn.rsplit("deliverystream/", 1)[-1]


def items(event: Mapping[str, Any], limits: Limits) -> list[Item]:
    """Return one item per record (Firehose has no partial batch response: no item identifiers)."""
    arn = str(event["deliveryStreamArn"])
    return [Item(None, f"firehose {_record_id(record)}", _reader(record, arn, limits)) for record in event["records"]]


def response(event: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Return the transformation result: every record ``Ok``, its data as it came."""
    return {
        "records": [
            {"recordId": _record_id(record), "result": OK, "data": record.get("data") if isinstance(record, Mapping) else None}
            for record in event["records"]
        ]
    }


def _record_id(record: Any) -> Any:
    return record.get("recordId") if isinstance(record, Mapping) else None


def _reader(record: Any, arn: str, limits: Limits) -> Any:
    def read() -> Iterator[Payload]:
        source = f"firehose:{stream_name(arn)}"
        origin = {"record_id": _record_id(record)}
        data = record.get("data") if isinstance(record, Mapping) else None
        if not isinstance(data, str):
            yield failed(b"", source, arn, "Firehose record without a data string", **origin)
            return
        try:
            raw = decode_data(data, limits.max_inflated_bytes)
        except DecodeError as exc:
            yield failed(data.encode(), source, arn, str(exc), **origin)
            return
        if cloudwatch.looks_like_envelope(raw):
            yield from cloudwatch.envelope_payloads(raw, source, arn, origin)
            return
        yield Payload(raw, source, arn, origin)

    return read
