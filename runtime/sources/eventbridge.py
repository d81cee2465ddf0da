"""EventBridge invocations: S3 ``Object Created`` events name an object; any other event is itself a record."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from runtime.sources import Item, Payload, s3
from runtime.sources.limits import Limits


def is_event(event: Mapping[str, Any]) -> bool:
    """Is ``event`` an EventBridge event (``detail-type``, ``source`` and ``detail``)?"""
    return isinstance(event.get("detail-type"), str) and isinstance(event.get("source"), str) and "detail" in event


def items(event: Mapping[str, Any], limits: Limits) -> list[Item]:
    """Return the one item of an EventBridge invocation."""

    def read() -> Iterator[Payload]:
        if s3.is_eventbridge_object(event):
            ref = s3.eventbridge_ref(event)
            if ref is not None:
                yield from s3.stream(ref, limits)
                return
        source = f"eventbridge:{event['source']}"
        arn = str((event.get("resources") or [source])[0])
        yield Payload(json.dumps(event).encode(), source, arn, {"event_id": event.get("id")})

    return [Item(None, f"eventbridge {event.get('id')}", read, event)]
