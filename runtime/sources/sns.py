"""SNS-triggered invocations: each record's message is a payload or names S3 objects."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from runtime.sources import Item, Payload, failed, messages
from runtime.sources.limits import Limits


def is_record(record: Mapping[str, Any]) -> bool:
    return record.get("EventSource") == "aws:sns" and isinstance(record.get("Sns"), Mapping)


def items(records: list[Mapping[str, Any]], limits: Limits) -> list[Item]:
    """Return one item per SNS record (SNS invocations have no partial batch response)."""
    return [Item(None, f"sns {_message_id(r)}", _reader(r, limits), r) for r in records]


def _message_id(record: Mapping[str, Any]) -> str:
    return str(record["Sns"].get("MessageId", ""))


def _reader(record: Mapping[str, Any], limits: Limits) -> Any:
    def read() -> Iterator[Payload]:
        sns = record["Sns"]
        topic = str(sns.get("TopicArn") or record.get("EventSubscriptionArn") or "sns")
        source = messages.sns_source(topic)
        origin = {"sns_message_id": sns.get("MessageId")}
        message = sns.get("Message")
        if not isinstance(message, str):
            yield failed(b"", source, topic, "SNS record without a message", **origin)
            return
        yield from messages.payloads(message.encode("utf-8", "surrogatepass"), source, topic, origin, limits)

    return read
