"""Tell the trigger from the shape of a Lambda event and turn the event into batch items."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from runtime.sources import Item, Payload, cloudwatch, eventbridge, failed, firehose, kinesis, s3, sns, sqs
from runtime.sources.limits import Limits

PARTIAL_BATCH_KINDS = frozenset({"kinesis", "sqs"})
MAX_UNKNOWN_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Batch:
    """The items of one invocation; ``partial`` when Lambda accepts ``batchItemFailures`` for this trigger."""

    kind: str
    items: list[Item]

    @property
    def partial(self) -> bool:
        return self.kind in PARTIAL_BATCH_KINDS


def batch(event: Any, limits: Limits) -> Batch:
    """Return the items of ``event``; an unknown shape gives one item that yields a failed payload."""
    if not isinstance(event, Mapping):
        return Batch("unknown", [_unknown(event, f"event is a {type(event).__name__}, not an object")])
    records = event.get("Records")
    if isinstance(records, list) and all(isinstance(r, Mapping) for r in records):
        return _records(event, records, limits)
    if firehose.is_event(event):
        return Batch("firehose", firehose.items(event, limits))
    if cloudwatch.is_event(event):
        return Batch("cloudwatch", cloudwatch.items(event, limits))
    if eventbridge.is_event(event):
        return Batch("eventbridge", eventbridge.items(event, limits))
    return Batch("unknown", [_unknown(event, f"unknown event shape with keys {sorted(map(str, event))}")])


def _records(event: Mapping[str, Any], records: list[Mapping[str, Any]], limits: Limits) -> Batch:
    """Dispatch a ``Records`` event on the source of its records (all records of one event share it)."""
    if not records:
        return Batch("empty", [])
    first = records[0]
    if first.get("eventSource") == "aws:kinesis":
        return Batch("kinesis", kinesis.items(records, limits))
    if sqs.is_record(first):
        return Batch("sqs", sqs.items(records, limits))
    if sns.is_record(first):
        return Batch("sns", sns.items(records, limits))
    if s3.is_notification(event):
        return Batch("s3", s3.items(s3.notification_refs(event), limits))
    keys = sorted({str(key) for record in records for key in record})
    return Batch("unknown", [_unknown(event, f"unknown record shape with keys {keys}")])


def _unknown(event: Any, reason: str) -> Item:
    """An item whose only payload is the event itself, failed with ``reason``."""

    def read() -> Iterator[Payload]:
        text = json.dumps(event, default=str)[:MAX_UNKNOWN_BYTES]
        yield failed(text.encode(), "unknown:event", "unknown", reason, stage="shape")

    return Item(None, "unknown event", read)
