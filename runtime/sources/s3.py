"""S3 objects named by notifications (direct, via SNS, via SQS, via EventBridge), streamed line by line."""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from runtime.sources import Item, Payload, SourceError, failed
from runtime.sources.limits import Limits
from runtime.sources.stream import line_payloads

GONE = frozenset({"NoSuchKey", "NoSuchBucket", "404", "NotFound"})


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """An object to read: bucket, key (decoded), and the version the notification named, if any."""

    bucket: str
    key: str
    version_id: str | None = None

    @property
    def source(self) -> str:
        return f"s3:{self.bucket}"

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}/{self.key}"


@functools.cache
def client() -> Any:
    """Return the S3 client, created once per cold start (``client.cache_clear()`` recreates it)."""
    return boto3.client("s3")


def is_notification(doc: Any) -> bool:
    """Is ``doc`` an S3 event notification (``Records`` with ``eventSource`` ``aws:s3``)?"""
    records = doc.get("Records") if isinstance(doc, Mapping) else None
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, Mapping) and r.get("eventSource") == "aws:s3" for r in records)
    )


def is_test_event(doc: Any) -> bool:
    """Is ``doc`` the ``s3:TestEvent`` S3 sends when notifications are configured?"""
    return isinstance(doc, Mapping) and doc.get("Event") == "s3:TestEvent"


def notification_refs(doc: Mapping[str, Any]) -> list[ObjectRef]:
    """Return the objects of an S3 notification; keys arrive URL-encoded (spaces as ``+``)."""
    refs = []
    for record in doc["Records"]:
        s3 = record.get("s3") or {}
        bucket = (s3.get("bucket") or {}).get("name")
        obj = s3.get("object") or {}
        if isinstance(bucket, str) and isinstance(obj.get("key"), str):
            refs.append(ObjectRef(bucket, urllib.parse.unquote_plus(obj["key"]), obj.get("versionId")))
    return refs


def is_eventbridge_object(doc: Any) -> bool:
    """Is ``doc`` an EventBridge ``Object Created`` event from S3?"""
    return (
        isinstance(doc, Mapping)
        and doc.get("source") == "aws.s3"
        and doc.get("detail-type") == "Object Created"
        and isinstance(doc.get("detail"), Mapping)
    )


def eventbridge_ref(doc: Mapping[str, Any]) -> ObjectRef | None:
    """Return the object of an EventBridge ``Object Created`` event (its key is not URL-encoded)."""
    detail = doc["detail"]
    bucket = (detail.get("bucket") or {}).get("name")
    obj = detail.get("object") or {}
    if not isinstance(bucket, str) or not isinstance(obj.get("key"), str):
        return None
    return ObjectRef(bucket, obj["key"], obj.get("version-id"))


def items(refs: list[ObjectRef], limits: Limits) -> list[Item]:
    """Return one item per object, for triggers without partial batch responses."""
    return [Item(None, f"s3://{ref.bucket}/{ref.key}", functools.partial(stream, ref, limits)) for ref in refs]


def stream(ref: ObjectRef, limits: Limits) -> Iterator[Payload]:
    """Yield the non-blank lines of the object, gunzipped when it is gzip, without loading it whole.

    A missing object, an empty one, undecodable gzip and oversize lines become failed payloads (to be
    quarantined); throttling and network errors raise SourceError so the item is retried.
    """
    body = _open(ref)
    if body is None:
        yield failed(
            b"", ref.source, ref.arn, f"object not found: s3://{ref.bucket}/{ref.key}", stage="source", **_where(ref)
        )
        return
    try:
        yield from line_payloads(body, ref.source, ref.arn, _where(ref), limits)
    except (BotoCoreError, OSError) as exc:
        raise SourceError(f"reading s3://{ref.bucket}/{ref.key}: {exc}") from exc
    finally:
        body.close()


def _open(ref: ObjectRef) -> Any:
    """Return the streaming body of the object, or None when it no longer exists."""
    arguments = {"Bucket": ref.bucket, "Key": ref.key}
    if ref.version_id:
        arguments["VersionId"] = ref.version_id
    try:
        return client().get_object(**arguments)["Body"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in GONE:
            return None
        raise SourceError(f"get s3://{ref.bucket}/{ref.key}: {exc}") from exc
    except BotoCoreError as exc:
        raise SourceError(f"get s3://{ref.bucket}/{ref.key}: {exc}") from exc


def _where(ref: ObjectRef, **more: Any) -> dict[str, Any]:
    return {"bucket": ref.bucket, "key": ref.key, **more}
