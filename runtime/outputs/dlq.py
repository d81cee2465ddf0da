"""The dead-letter queue: an alert an output could not take, with the output's name and the last error.

Message body: ``{"output", "error", "reason", "attempts", "alert_id", "dead_lettered_at", "alert"}``, split
into parts like any other message when over SQS's 256 KiB (``read_dead_letters`` joins them back).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from runtime.outputs.parts import PartLedger, join, split
from runtime.outputs.sns import BODY_LIMIT, attributes
from runtime.outputs.text import cut

ERROR_ATTRIBUTE_LIMIT = 256


class DeadLetterQueue:
    """Send dead letters to one SQS queue; a retried send never repeats a part that went out."""

    def __init__(
        self, queue_url: str, aws: Callable[[str], Any], now: Callable[[], float] = time.time
    ) -> None:
        self.queue_url = queue_url
        self._aws = aws
        self._now = now
        self._parts = PartLedger()

    def letter(
        self, alert: Mapping[str, Any], output: str, error: str, reason: str, attempts: int
    ) -> dict[str, Any]:
        """Return the dead-letter document for one (alert, output) pair."""
        return {
            "output": output,
            "error": error,
            "reason": reason,
            "attempts": attempts,
            "alert_id": alert.get("alert_id"),
            "dead_lettered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._now())),
            "alert": alert,
        }

    def send(self, letter: Mapping[str, Any]) -> None:
        """Send a dead letter (in parts if needed) with ``output`` and ``error`` also as message attributes."""
        key = f"{letter['alert_id']}|{letter['output']}"
        messages = split(letter, BODY_LIMIT, key)
        sqs = self._aws("sqs")

        def send_one(index: int, body: str) -> None:
            extra = {
                "output": {"DataType": "String", "StringValue": str(letter["output"])},
                "error": {
                    "DataType": "String",
                    "StringValue": cut(str(letter["error"]), ERROR_ATTRIBUTE_LIMIT),
                },
            }
            sqs.send_message(
                QueueUrl=self.queue_url,
                MessageBody=body,
                MessageAttributes={**attributes(letter["alert"], index, len(messages)), **extra},
            )

        self._parts.send_all(key, messages, send_one)


def read_dead_letters(bodies: Iterable[str]) -> list[dict[str, Any]]:
    """Return the dead-letter documents in SQS message bodies (parts joined back)."""
    return join(bodies)
