"""Publish alert documents to an SNS topic (boto3 honours AWS_ENDPOINT_URL by itself)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import boto3

from runtime.alerts import canonical_json


@functools.cache
def client() -> Any:
    """Return the SNS client, created once per cold start (``client.cache_clear()`` recreates it)."""
    return boto3.client("sns")


def publish(alert: Mapping[str, Any], topic_arn: str) -> str:
    """Publish ``alert`` as JSON to ``topic_arn`` and return the SNS message id."""
    attributes = {
        name: {"DataType": "String", "StringValue": str(alert[name])}
        for name in ("rule_id", "level", "log_type")
        if alert.get(name)
    }
    response = client().publish(
        TopicArn=topic_arn, Message=canonical_json(alert), MessageAttributes=attributes
    )
    return str(response["MessageId"])
