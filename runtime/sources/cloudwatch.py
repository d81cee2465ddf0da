"""CloudWatch Logs subscription data: a base64, gzip JSON envelope of log events; control messages skipped.

Each log event's message is a payload of its own, so log types describe the messages. With
``SIGIL_CLOUDWATCH_ENVELOPE=keep`` the decoded envelope is one payload instead, for log types that
describe the envelope (``records: logEvents[*].message`` with ``envelope_keys``, as imported from
StreamAlert).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from runtime.sources import Item, Payload, failed
from runtime.sources.compression import DecodeError, gunzip
from runtime.sources.limits import Limits

ENVELOPE_ENV = "SIGIL_CLOUDWATCH_ENVELOPE"
CONTROL = "CONTROL_MESSAGE"
DATA = "DATA_MESSAGE"


def is_event(event: Mapping[str, Any]) -> bool:
    """Is ``event`` a CloudWatch Logs subscription invocation (``{"awslogs": {"data": ...}}``)?"""
    awslogs = event.get("awslogs")
    return isinstance(awslogs, Mapping) and isinstance(awslogs.get("data"), str)


def looks_like_envelope(raw: bytes) -> bool:
    """Cheaply tell whether a decoded payload is a subscription envelope (as CloudWatch Logs writes to Kinesis)."""
    return raw[:1] == b"{" and b'"messageType"' in raw[:64] and b'"logEvents"' in raw


def items(event: Mapping[str, Any], limits: Limits) -> list[Item]:
    """Return the one item of a direct subscription invocation."""

    def read() -> Iterator[Payload]:
        data = event["awslogs"]["data"]
        try:
            raw = gunzip(base64.b64decode(data, validate=True), limits.max_inflated_bytes)
        except (binascii.Error, ValueError) as exc:
            reason = str(exc) if isinstance(exc, DecodeError) else f"invalid base64: {exc}"
            yield failed(data.encode(), "cloudwatch:unknown", "cloudwatch", reason)
            return
        yield from envelope_payloads(raw, None, None, {})

    return [Item(None, "cloudwatch logs", read, event)]


def envelope_payloads(
    raw: bytes, source: str | None, source_arn: str | None, origin: Mapping[str, Any]
) -> Iterator[Payload]:
    """Yield one payload per log event of a DATA_MESSAGE envelope, none for a CONTROL_MESSAGE.

    Without ``source``, payloads are attributed to ``cloudwatch:<log group>``.
    """
    try:
        envelope = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        yield failed(raw, source or "cloudwatch:unknown", source_arn or "cloudwatch", f"invalid envelope: {exc}")
        return
    if not isinstance(envelope, dict) or envelope.get("messageType") == CONTROL:
        return
    group = str(envelope.get("logGroup", ""))
    source = source or f"cloudwatch:{group}"
    source_arn = source_arn or group
    if os.environ.get(ENVELOPE_ENV) == "keep":
        yield Payload(raw, source, source_arn, {**origin, "log_group": group, "log_stream": envelope.get("logStream")})
        return
    events = envelope.get("logEvents")
    if envelope.get("messageType") != DATA or not isinstance(events, list):
        yield failed(raw, source, source_arn, "envelope is not a DATA_MESSAGE with logEvents", **origin)
        return
    for event in events:
        where = {**origin, "log_group": group, "log_stream": envelope.get("logStream")}
        if not isinstance(event, dict) or not isinstance(event.get("message"), str):
            yield failed(json.dumps(event).encode(), source, source_arn, "log event without a message", **where)
            continue
        where["log_event_id"] = event.get("id")
        yield Payload(event["message"].encode("utf-8", "surrogatepass"), source, source_arn, where)
