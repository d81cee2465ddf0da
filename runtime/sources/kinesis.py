"""Kinesis records: base64 data, gunzipped when it is gzip; CloudWatch Logs envelopes are unwrapped."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping
from typing import Any

from runtime.sources import Item, Payload, cloudwatch, failed
from runtime.sources.compression import GZIP_MAGIC, DecodeError, gunzip, is_gzip
from runtime.sources.limits import Limits

__all__ = ["GZIP_MAGIC", "DecodeError", "decode_data", "decode_record", "gunzip", "items", "sequence_number"]

MAX_DECOMPRESSED_BYTES = Limits().max_inflated_bytes


def sequence_number(record: Mapping[str, Any]) -> str:
    """Return the record's Kinesis sequence number (the batch item identifier), or "" if absent."""
    kinesis = record.get("kinesis")
    if isinstance(kinesis, Mapping):
        return str(kinesis.get("sequenceNumber", ""))
    return ""


def decode_record(record: Mapping[str, Any], max_bytes: int = MAX_DECOMPRESSED_BYTES) -> tuple[str, bytes]:
    """Return ``(sequence_number, raw_bytes)`` for one record of ``event["Records"]``; raise DecodeError."""
    kinesis = record.get("kinesis")
    if not isinstance(kinesis, Mapping) or not isinstance(kinesis.get("data"), str):
        raise DecodeError("record has no kinesis.data string")
    return sequence_number(record), decode_data(kinesis["data"], max_bytes)


def decode_data(data: str, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Base64-decode ``data`` and gunzip it when it starts with the gzip magic bytes."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(f"invalid base64: {exc}") from None
    if is_gzip(raw):
        return gunzip(raw, max_bytes)
    return raw


def stream_name(arn: str) -> str:
    """Return the stream name of a Kinesis stream ARN (the ARN itself when it has no ``stream/`` part)."""
    return arn.rsplit("stream/", 1)[-1] if "stream/" in arn else arn


def items(records: list[Mapping[str, Any]], limits: Limits) -> list[Item]:
    """Return one item per Kinesis record, identified by its sequence number."""
    return [
        Item(sequence_number(record), f"kinesis {sequence_number(record)}", _reader(record, limits), record)
        for record in records
    ]


def _reader(record: Mapping[str, Any], limits: Limits) -> Any:
    def read() -> Iterator[Payload]:
        arn = str(record.get("eventSourceARN") or "kinesis")
        source = f"kinesis:{stream_name(arn)}"
        origin: dict[str, Any] = {"sequence_number": sequence_number(record)}
        try:
            _, raw = decode_record(record, limits.max_inflated_bytes)
        except DecodeError as exc:
            data = record.get("kinesis", {}).get("data", "") if isinstance(record.get("kinesis"), Mapping) else ""
            yield failed(str(data).encode(), source, arn, str(exc), **origin)
            return
        if cloudwatch.looks_like_envelope(raw):
            yield from cloudwatch.envelope_payloads(raw, source, arn, origin)
            return
        yield Payload(raw, source, arn, origin)

    return read
