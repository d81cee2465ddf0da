"""Quarantine: keep what could not be decoded, parsed, classified or matched, with the reason, for replay.

``SIGIL_QUARANTINE_URL`` picks the destination: ``s3://bucket/prefix`` writes one JSON-lines object per
flush (its key is a hash of the entries, so a retried batch overwrites instead of duplicating), an
``https://`` SQS queue URL sends one message per entry (the payload cut to fit SQS's 256 KiB). Unset,
entries are only logged, which loses the payloads: set it in production.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any, Protocol

import boto3

from runtime.logs import emit, preview

SQS_MAX_BYTES = 256 * 1024
SQS_BATCH = 10
SQS_HEADROOM = 2048  # JSON escaping and message attributes


class QuarantineError(RuntimeError):
    """Entries that could not be written: the items they came from must be retried."""


class Quarantine(Protocol):
    """Where quarantined entries go."""

    description: str

    def put(self, entries: list[dict[str, Any]]) -> None: ...


def entry(
    *,
    reason: str,
    stage: str,
    data: bytes,
    source: str,
    source_arn: str,
    item_id: str | None,
    origin: Mapping[str, Any],
    candidates: Mapping[str, str] | None = None,
    size: int | None = None,
) -> dict[str, Any]:
    """Return a quarantine entry: why, where from, and the payload (text, or base64 when not UTF-8).

    ``size`` is the original size when ``data`` is only the head of the payload (``truncated`` then).
    """
    try:
        payload, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        payload, encoding = base64.b64encode(data).decode("ascii"), "base64"
    return {
        "reason": reason,
        "stage": stage,
        "source": source,
        "source_arn": source_arn,
        "item_id": item_id,
        "origin": dict(origin),
        "candidates": dict(candidates or {}),
        "payload": payload,
        "payload_encoding": encoding,
        "payload_bytes": len(data) if size is None else size,
        "truncated": size is not None and size > len(data),
    }


class LogQuarantine:
    """No destination configured: say that the entries are dropped (the pipeline logged each record already)."""

    description = "log"

    def put(self, entries: list[dict[str, Any]]) -> None:
        first = entries[0] if entries else {}
        emit(
            "quarantine_not_stored",
            "warning",
            count=len(entries),
            reason="SIGIL_QUARANTINE_URL is not set",
            first_reason=first.get("reason"),
            first_preview=preview(first.get("payload", "")),
        )


class S3Quarantine:
    """Write entries as JSON lines to ``s3://bucket/prefix/YYYY/MM/DD/<sha256>.jsonl``."""

    def __init__(self, bucket: str, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.description = f"s3://{bucket}/{self.prefix}"

    def put(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        body = "".join(json.dumps(item, sort_keys=True, separators=(",", ":")) + "\n" for item in entries).encode()
        day = time.strftime("%Y/%m/%d", time.gmtime())
        key = "/".join(part for part in (self.prefix, day, hashlib.sha256(body).hexdigest() + ".jsonl") if part)
        try:
            _client("s3").put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson")
        except Exception as exc:
            raise QuarantineError(f"writing {len(entries)} entries to s3://{self.bucket}/{key}: {exc}") from exc


class SQSQuarantine:
    """Send each entry as one SQS message, batched by ten and by size."""

    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url
        self.description = queue_url

    def put(self, entries: list[dict[str, Any]]) -> None:
        bodies = [_fit(item, SQS_MAX_BYTES - SQS_HEADROOM) for item in entries]
        for batch in _batches(bodies):
            try:
                response = _client("sqs").send_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(index), "MessageBody": body} for index, body in enumerate(batch)],
                )
            except Exception as exc:
                raise QuarantineError(f"sending {len(batch)} entries to {self.queue_url}: {exc}") from exc
            if response.get("Failed"):
                raise QuarantineError(f"{self.queue_url} refused {len(response['Failed'])} entries: {response['Failed']}")


def _fit(item: dict[str, Any], limit: int) -> str:
    """Serialize ``item``, cutting its payload so the message fits in ``limit`` bytes."""
    body = json.dumps(item, sort_keys=True, separators=(",", ":"))
    if len(body.encode()) <= limit:
        return body
    overhead = len(json.dumps({**item, "payload": ""}, sort_keys=True, separators=(",", ":")).encode())
    room = max(limit - overhead - 64, 0)
    payload = item["payload"]
    while payload and (size := len(json.dumps(payload).encode())) > room:  # escapes grow text: shrink in proportion
        payload = payload[: len(payload) * room // size]
    return json.dumps({**item, "payload": payload, "truncated": True}, sort_keys=True, separators=(",", ":"))


def _batches(bodies: list[str]) -> list[list[str]]:
    """Group message bodies by at most ten and at most 256 KiB per call."""
    batches: list[list[str]] = []
    size = 0
    for body in bodies:
        length = len(body.encode())
        if not batches or len(batches[-1]) == SQS_BATCH or size + length > SQS_MAX_BYTES - SQS_HEADROOM:
            batches.append([])
            size = 0
        batches[-1].append(body)
        size += length
    return batches


@functools.cache
def _client(service: str) -> Any:
    return boto3.client(service)


def clear_clients() -> None:
    """Forget the cached boto3 clients (tests point them at a new endpoint)."""
    _client.cache_clear()


@functools.cache
def from_url(url: str | None) -> Quarantine:
    """Return the quarantine for ``SIGIL_QUARANTINE_URL`` (cached per cold start); raise ValueError if unusable."""
    if not url:
        return LogQuarantine()
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "s3" and parsed.netloc:
        return S3Quarantine(parsed.netloc, parsed.path)
    if parsed.scheme in ("https", "http") and parsed.netloc and parsed.path.strip("/"):
        return SQSQuarantine(url)
    raise ValueError(f"SIGIL_QUARANTINE_URL must be s3://bucket/prefix or an SQS queue URL, not {url!r}")
