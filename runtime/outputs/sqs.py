"""Send alerts to an SQS queue (256 KiB per message: bigger alerts are split into parts)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.outputs.base import Output
from runtime.outputs.parts import PartLedger, split
from runtime.outputs.sns import BODY_LIMIT, attributes, fifo_fields


def send_message(
    sqs: Any, queue_url: str, alert: Mapping[str, Any], body: str, index: int, count: int
) -> None:
    """Send one message (a whole document or a part) with the alert's attributes."""
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=body,
        MessageAttributes=attributes(alert, index, count),
        **fifo_fields(alert, index, queue_url),
    )


class SqsOutput(Output):
    """``aws-sqs:NAME`` → ``{"queue_url": ...}``; optional ``format`` (alert | ocsf)."""

    service = "aws-sqs"
    required = frozenset({"queue_url"})
    optional = frozenset({"format"})

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._parts = PartLedger()

    def send(self, alert: Mapping[str, Any]) -> None:
        """Send the alert, split if needed; parts already sent are not sent again on retry."""
        queue_url = str(self.settings["queue_url"])
        messages = split(self.document(alert), BODY_LIMIT, str(alert["alert_id"]))
        sqs = self.resources.aws("sqs")
        self._parts.send_all(
            str(alert["alert_id"]),
            messages,
            lambda i, body: send_message(sqs, queue_url, alert, body, i, len(messages)),
        )
