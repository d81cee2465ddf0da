"""State documents in DynamoDB: one item per key, changed by optimistic, conditional writes.

Item: ``key`` (partition key, S), ``doc`` (the document as JSON, S), ``version`` (N) and ``expires_at``
(N, the table's TTL attribute). ``update`` reads the item with a consistent read, applies the change
and writes the new version only if the stored version is still the one read; when another invocation
wrote first, it reads again and re-applies the change (changes are pure functions of the document).
A throttled, missing or forbidden table raises `StateError`: the caller fails the batch item, which
Lambda retries, and the state's own idempotency (per event id) keeps the retry from counting twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from runtime.state import Change, StateError

T = TypeVar("T")
CONDITION_FAILED = "ConditionalCheckFailedException"
MIN_TTL = 24 * 3600.0  # an item lives at least this long after its last write (events may be old)
ATTEMPTS = 8


def default_client() -> Any:
    """The Lambda's DynamoDB client: one attempt per call (a throttled write fails the item, which is
    retried with its batch) and the outputs' longest timeouts."""
    from runtime.outputs.base import AWS_TIMEOUTS, _boto3_client

    return _boto3_client("dynamodb", *AWS_TIMEOUTS[0])


class DynamoStore:
    """`runtime.state.StateStore` over a DynamoDB table (see the module docstring)."""

    def __init__(self, table_name: str, client: Any, clock: Callable[[], float] = time.time, attempts: int = ATTEMPTS) -> None:
        self.table_name, self._client, self._clock, self._attempts = table_name, client, clock, attempts

    def update(self, key: str, change: Change[T]) -> T:
        for _ in range(self._attempts):
            item = self._call(lambda: self._client.get_item(TableName=self.table_name, Key={"key": {"S": key}}, ConsistentRead=True)).get("Item")
            live = item is not None and float(item.get("expires_at", {}).get("N", "inf")) > self._clock()
            doc = json.loads(item["doc"]["S"]) if item is not None and live else None
            version = int(item["version"]["N"]) if item is not None else 0
            new, result = change(doc)
            if new == doc:
                return result  # nothing changed: no write
            try:
                self._write(key, new, version, exists=item is not None)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == CONDITION_FAILED:
                    continue  # another invocation wrote first: read again
                raise StateError(f"{self.table_name}: {_describe(exc)}") from exc
            except BotoCoreError as exc:
                raise StateError(f"{self.table_name}: {_describe(exc)}") from exc
            return result
        raise StateError(f"{self.table_name}: {key} kept changing under {self._attempts} attempts")

    def _write(self, key: str, new: dict[str, Any] | None, version: int, exists: bool) -> None:
        condition = "#version = :version" if exists else "attribute_not_exists(#key)"
        names = {"#version": "version"} if exists else {"#key": "key"}
        values = {":version": {"N": str(version)}} if exists else None
        extra = {"ExpressionAttributeValues": values} if values else {}
        if new is None:
            self._client.delete_item(TableName=self.table_name, Key={"key": {"S": key}}, ConditionExpression=condition, ExpressionAttributeNames=names, **extra)
            return
        expires = max(float(new.get("expires") or 0), self._clock() + MIN_TTL)
        item = {
            "key": {"S": key},
            "doc": {"S": json.dumps(new, separators=(",", ":"), sort_keys=True)},
            "version": {"N": str(version + 1)},
            "expires_at": {"N": str(int(expires))},
        }
        self._client.put_item(TableName=self.table_name, Item=item, ConditionExpression=condition, ExpressionAttributeNames=names, **extra)

    def scan(self, prefix: str) -> list[str]:
        keys: list[str] = []
        start: dict[str, Any] | None = None
        while True:
            arguments = {
                "TableName": self.table_name,
                "ProjectionExpression": "#key",
                "FilterExpression": "begins_with(#key, :prefix)",
                "ExpressionAttributeNames": {"#key": "key"},
                "ExpressionAttributeValues": {":prefix": {"S": prefix}},
                **({"ExclusiveStartKey": start} if start else {}),
            }

            def scan(arguments: dict[str, Any] = arguments) -> dict[str, Any]:
                return self._client.scan(**arguments)

            page = self._call(scan)
            keys += [item["key"]["S"] for item in page.get("Items", ())]
            start = page.get("LastEvaluatedKey")
            if not start:
                return sorted(keys)

    def _call(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Make one call; a botocore failure is the store's StateError."""
        try:
            return call()
        except (BotoCoreError, ClientError) as exc:
            raise StateError(f"{self.table_name}: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code')}: {error.get('Message')}"
    return repr(exc)
