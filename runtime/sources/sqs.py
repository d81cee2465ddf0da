"""SQS-triggered invocations: each message (a partial-batch item) is a payload or names S3 objects."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from runtime.sources import Item, Payload, failed, messages
from runtime.sources.limits import Limits


def is_record(record: Mapping[str, Any]) -> bool:
    return record.get("eventSource") == "aws:sqs"


def queue_name(arn: str) -> str:
    """Return the queue name of a queue ARN."""
    return arn.rsplit(":", 1)[-1]


def items(records: list[Mapping[str, Any]], limits: Limits) -> list[Item]:
    """Return one item per message, identified by its message id."""
    return [Item(str(r.get("messageId", "")), f"sqs {r.get('messageId')}", _reader(r, limits), r) for r in records]


def _reader(record: Mapping[str, Any], limits: Limits) -> Any:
    def read() -> Iterator[Payload]:
        arn = str(record.get("eventSourceARN") or "sqs")
        source = f"sqs:{queue_name(arn)}"
        origin: dict[str, Any] = {"message_id": record.get("messageId")}
        body = record.get("body")
        if not isinstance(body, str):
            yield failed(b"", source, arn, "SQS message without a body", **origin)
            return
        yield from messages.payloads(body.encode("utf-8", "surrogatepass"), source, arn, origin, limits)

    return read
