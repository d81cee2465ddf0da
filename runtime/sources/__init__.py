"""Event sources: turn a Lambda trigger event into batch items, each yielding raw payloads.

Every source module builds `Item`s; an item is what Lambda retries as a unit (a Kinesis record, an
SQS message, an S3 object of a direct notification...). Reading an item yields `Payload`s: the bytes of
one log line or message, where they came from, and, when they could not be decoded, why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class SourceError(Exception):
    """A transient failure reading an item (throttling, network): the item must be retried, not quarantined."""


@dataclass(frozen=True, slots=True)
class Payload:
    """One raw payload: ``data`` to parse, or ``error`` saying why the bytes in ``data`` could not be decoded.

    ``source`` is ``service:resource`` (the key of the source map), ``source_arn`` what alerts name as
    their source, ``origin`` where the payload sits (line number, log event id...), and ``header`` the
    first line of the enclosing object when an object is streamed line by line (CSV header rows).
    """

    data: bytes
    source: str
    source_arn: str
    origin: Mapping[str, Any] = field(default_factory=dict)
    header: bytes | None = None
    error: str | None = None
    stage: str = "decode"
    size: int | None = None  # the original size when ``data`` is only the head of an oversize payload


@dataclass(frozen=True, slots=True)
class Item:
    """One unit of a batch: ``item_id`` for ``batchItemFailures`` (None when the trigger has no partial batches).

    ``event`` is the part of the Lambda event the item stands for, quarantined if reading it raises.
    """

    item_id: str | None
    label: str
    read: Callable[[], Iterator[Payload]]
    event: Any = None


def failed(
    data: bytes,
    source: str,
    source_arn: str,
    error: str,
    *,
    stage: str = "decode",
    size: int | None = None,
    **origin: Any,
) -> Payload:
    """Return a payload that could not be read or decoded, to be quarantined with ``error`` as the reason."""
    return Payload(data, source, source_arn, origin, error=error, stage=stage, size=size)
