"""Decode the records of a Lambda Kinesis event: base64, then gunzip when the payload is gzip."""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"
MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024  # a Kinesis record holds at most 1 MiB before compression


class DecodeError(ValueError):
    """A Kinesis record whose data cannot be turned into a payload."""


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
    if raw.startswith(GZIP_MAGIC):
        return gunzip(raw, max_bytes)
    return raw


def gunzip(raw: bytes, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Decompress every gzip member of ``raw``, refusing output larger than ``max_bytes``."""
    out: list[bytes] = []
    size = 0
    while raw:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(raw, max_bytes - size + 1)
        except zlib.error as exc:
            raise DecodeError(f"invalid gzip: {exc}") from None
        size += len(chunk)
        if size > max_bytes:
            raise DecodeError(f"gzip payload exceeds {max_bytes} bytes")
        if not inflater.eof:
            raise DecodeError("truncated gzip payload")
        out.append(chunk)
        raw = inflater.unused_data
    return b"".join(out)
