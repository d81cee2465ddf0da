"""Which (alert id, output) pairs were already settled: in process memory, and optionally in DynamoDB.

The dispatcher asks ``get(key)`` before sending and calls ``settle(key, outcome)`` once a pair is delivered or
dead-lettered. The in-memory ledger only covers one container; ``SIGIL_LEDGER_TABLE`` adds a DynamoDB table so
that a Lambda retry landing on a new container skips what another one already sent.

At-least-once wins over exactly-once: the pair is recorded *after* the send, and a ledger that cannot be
read or written (missing table, throttling, no permission) is logged and treated as "not seen", so the alert
is sent (perhaps a second time) rather than lost. Receivers can still deduplicate on the alert id.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from runtime.logs import emit
from runtime.retry import describe

TABLE_ENV = "SIGIL_LEDGER_TABLE"
MEMORY_SIZE = 100_000
MEMORY_TTL = 3600.0
DURABLE_TTL = 7 * 24 * 3600.0
CONDITION_FAILED = "ConditionalCheckFailedException"

Key = tuple[str, str]


class DeliveryLedger(Protocol):
    """What the dispatcher needs: the settled outcome of a pair, and a way to settle one."""

    def get(self, key: Key) -> str | None:
        """Return the outcome of a settled (alert id, output) pair, or None."""

    def settle(self, key: Key, outcome: str) -> None:
        """Remember a pair as delivered or dead-lettered."""


class MemoryLedger:
    """Outcomes of the pairs settled in this process, kept ``ttl`` seconds (a batch retry comes back within
    minutes; the same record seen hours later alerts again), at most ``size`` of them.
    """

    def __init__(
        self, size: int = MEMORY_SIZE, ttl: float = MEMORY_TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._size, self._ttl, self._clock = size, ttl, clock
        self._outcomes: OrderedDict[Key, tuple[str, float]] = OrderedDict()

    def get(self, key: Key) -> str | None:
        """Return the settled outcome of a pair, or None if unknown or expired."""
        found = self._outcomes.get(key)
        if found is None:
            return None
        outcome, settled_at = found
        if self._clock() - settled_at > self._ttl:
            del self._outcomes[key]
            return None
        return outcome

    def settle(self, key: Key, outcome: str) -> None:
        """Record a pair as delivered or dead-lettered; forget the oldest beyond the size bound."""
        self._outcomes.pop(key, None)
        self._outcomes[key] = (outcome, self._clock())
        while len(self._outcomes) > self._size:
            self._outcomes.popitem(last=False)


class DynamoLedger:
    """Pairs in a DynamoDB table (partition key ``alert_id``, sort key ``output``, TTL attribute ``expires_at``).

    One consistent GetItem per lookup; one conditional PutItem per settled pair (the first outcome written
    wins). Items live ``ttl`` seconds: DynamoDB's TTL deletes them lazily, so an item past ``expires_at`` is
    treated as absent here too. Errors are logged and never raised (see the module docstring).
    """

    def __init__(
        self, table_name: str, client: Any, ttl: float = DURABLE_TTL, clock: Callable[[], float] = time.time
    ) -> None:
        self.table_name = table_name
        self._client, self._ttl, self._clock = client, ttl, clock

    def seen(self, alert_id: str, output: str) -> bool:
        """Return True if another delivery already settled this pair (False if unknown or unreadable)."""
        return self.outcome(alert_id, output) is not None

    def outcome(self, alert_id: str, output: str) -> str | None:
        """Return the recorded outcome of the pair, or None if absent, expired or unreadable."""
        try:
            item = self._client.get_item(
                TableName=self.table_name,
                Key=_key(alert_id, output),
                ConsistentRead=True,
                ProjectionExpression="#outcome, #expires",
                ExpressionAttributeNames={"#outcome": "outcome", "#expires": "expires_at"},
            ).get("Item")
        except (BotoCoreError, ClientError) as exc:
            self._log_failure("ledger_read_failed", alert_id, output, exc)
            return None
        if not item or float(item.get("expires_at", {}).get("N", "0")) <= self._clock():
            return None
        return str(item["outcome"]["S"])

    def record(self, alert_id: str, output: str, outcome: str) -> None:
        """Write the pair unless a live item exists already; a failure is logged, never raised."""
        now = self._clock()
        item = {
            **_key(alert_id, output),
            "outcome": {"S": outcome},
            "settled_at": {"N": str(int(now))},
            "expires_at": {"N": str(int(now + self._ttl))},
        }
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(#alert) OR #expires <= :now",
                ExpressionAttributeNames={"#alert": "alert_id", "#expires": "expires_at"},
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != CONDITION_FAILED:
                self._log_failure("ledger_write_failed", alert_id, output, exc)
        except BotoCoreError as exc:
            self._log_failure("ledger_write_failed", alert_id, output, exc)

    def get(self, key: Key) -> str | None:
        """``DeliveryLedger.get`` over ``outcome``."""
        return self.outcome(*key)

    def settle(self, key: Key, outcome: str) -> None:
        """``DeliveryLedger.settle`` over ``record``."""
        self.record(key[0], key[1], outcome)

    def _log_failure(self, event: str, alert_id: str, output: str, error: BaseException) -> None:
        emit(event, "warning", table=self.table_name, alert_id=alert_id, output=output, error=describe(error))


class LayeredLedger:
    """A fast ledger in front of a durable one: lookups try ``fast`` first, settles go to both."""

    def __init__(self, fast: DeliveryLedger, durable: DeliveryLedger) -> None:
        self.fast, self.durable = fast, durable

    def get(self, key: Key) -> str | None:
        """Return the outcome from the fast ledger, else from the durable one (remembered in the fast one)."""
        found = self.fast.get(key)
        if found is None:
            found = self.durable.get(key)
            if found is not None:
                self.fast.settle(key, found)
        return found

    def settle(self, key: Key, outcome: str) -> None:
        """Settle the pair in both ledgers."""
        self.fast.settle(key, outcome)
        self.durable.settle(key, outcome)


def ledger_from_env(aws: Callable[[str], Any], environ: Mapping[str, str] | None = None) -> DeliveryLedger:
    """Return the in-memory ledger, layered over ``DynamoLedger`` when ``SIGIL_LEDGER_TABLE`` names a table."""
    env = os.environ if environ is None else environ
    table = env.get(TABLE_ENV, "").strip()
    if not table:
        return MemoryLedger()
    return LayeredLedger(MemoryLedger(), DynamoLedger(table, aws("dynamodb")))


def _key(alert_id: str, output: str) -> dict[str, dict[str, str]]:
    return {"alert_id": {"S": alert_id}, "output": {"S": output}}
