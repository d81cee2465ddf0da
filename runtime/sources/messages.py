"""Message bodies (SNS messages, SQS bodies): an envelope naming S3 objects, an SNS envelope, or a log payload."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from runtime.sources import Payload, s3
from runtime.sources.limits import Limits

MARKERS = (b'"aws:s3"', b"s3:TestEvent", b'"TopicArn"', b'"detail-type"')


def payloads(
    body: bytes, source: str, source_arn: str, origin: Mapping[str, Any], limits: Limits
) -> Iterator[Payload]:
    """Yield the payloads a message body stands for.

    An S3 notification or an EventBridge ``Object Created`` event yields the lines of its objects, an
    SNS notification envelope (SNS to SQS without raw delivery) is unwrapped, an ``s3:TestEvent``
    yields nothing, and anything else is itself one payload.
    """
    doc = _envelope(body)
    if doc is None:
        yield Payload(body, source, source_arn, origin)
    elif s3.is_test_event(doc):
        return
    elif s3.is_notification(doc):
        for ref in s3.notification_refs(doc):
            yield from s3.stream(ref, limits)
    elif s3.is_eventbridge_object(doc):
        named = s3.eventbridge_ref(doc)
        if named is not None:
            yield from s3.stream(named, limits)
    elif _is_sns_envelope(doc):
        topic = str(doc["TopicArn"])
        inner = {**origin, "sns_message_id": doc.get("MessageId")}
        yield from payloads(doc["Message"].encode("utf-8", "surrogatepass"), sns_source(topic), topic, inner, limits)
    else:
        yield Payload(body, source, source_arn, origin)


def sns_source(topic_arn: str) -> str:
    """Return ``sns:<topic name>`` for a topic ARN."""
    return f"sns:{topic_arn.rsplit(':', 1)[-1]}"


def _envelope(body: bytes) -> dict[str, Any] | None:
    """Return the body as a JSON object when it may be an envelope (cheap marker test first), else None."""
    if body[:1] != b"{" or not any(marker in body for marker in MARKERS):
        return None
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def _is_sns_envelope(doc: Mapping[str, Any]) -> bool:
    return doc.get("Type") == "Notification" and isinstance(doc.get("Message"), str) and "TopicArn" in doc
