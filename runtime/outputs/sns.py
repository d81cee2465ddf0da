"""Publish alert documents to an SNS topic (boto3 honours AWS_ENDPOINT_URL by itself).

SNS takes at most 256 KiB per message, attributes included; a bigger alert is split into parts
(``runtime.outputs.parts``), each carrying ``part``/``parts`` message attributes.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from runtime.outputs.base import AwsClients, Output
from runtime.outputs.parts import PartLedger, split

MESSAGE_LIMIT = 256 * 1024
BODY_LIMIT = MESSAGE_LIMIT - 4096  # room for the message attributes


@functools.cache
def client() -> Any:
    """Return the SNS client, created once per cold start (``client.cache_clear()`` recreates it)."""
    return AwsClients()("sns")


def publish(alert: Mapping[str, Any], topic_arn: str) -> str:
    """Publish ``alert`` as JSON to ``topic_arn`` (in parts if too big) and return the first message id."""
    messages = split(alert, BODY_LIMIT, str(alert.get("alert_id", "")))
    ids = [
        _publish_one(client(), topic_arn, alert, message, i, len(messages))
        for i, message in enumerate(messages)
    ]
    return ids[0]


def attributes(alert: Mapping[str, Any], index: int, count: int) -> dict[str, dict[str, str]]:
    """Return the SNS/SQS message attributes of one message: rule id, level, log type, alert id, part."""
    values = {name: alert.get(name) for name in ("rule_id", "level", "log_type", "alert_id")}
    if count > 1:
        values.update(part=index + 1, parts=count)
    return {
        name: {"DataType": "Number" if isinstance(value, int) else "String", "StringValue": str(value)}
        for name, value in values.items()
        if value
    }


def fifo_fields(alert: Mapping[str, Any], index: int, target: str) -> dict[str, str]:
    """Return MessageGroupId/MessageDeduplicationId for a FIFO topic or queue, else nothing."""
    if not target.endswith(".fifo"):
        return {}
    return {
        "MessageGroupId": str(alert.get("rule_id") or "sigil"),
        "MessageDeduplicationId": f"{alert.get('alert_id', '')}-{index}"[:128],
    }


def _publish_one(
    sns: Any, topic_arn: str, alert: Mapping[str, Any], message: str, index: int, count: int
) -> str:
    """Publish one message (a whole alert or a part) and return its message id."""
    response = sns.publish(
        TopicArn=topic_arn,
        Message=message,
        MessageAttributes=attributes(alert, index, count),
        **fifo_fields(alert, index, topic_arn),
    )
    return str(response["MessageId"])


class SnsOutput(Output):
    """``aws-sns:NAME`` → ``{"topic_arn": ...}``; optional ``format`` (alert | ocsf)."""

    service = "aws-sns"
    required = frozenset({"topic_arn"})
    optional = frozenset({"format"})

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._parts = PartLedger()

    def send(self, alert: Mapping[str, Any]) -> None:
        """Publish the alert, split if needed; parts already published are not published again on retry."""
        topic_arn = str(self.settings["topic_arn"])
        messages = split(self.document(alert), BODY_LIMIT, str(alert["alert_id"]))
        sns = self.resources.aws("sns")
        self._parts.send_all(
            str(alert["alert_id"]),
            messages,
            lambda i, message: _publish_one(sns, topic_arn, alert, message, i, len(messages)),
        )
