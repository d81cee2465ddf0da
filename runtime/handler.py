"""Lambda entry point ``runtime.handler.handler`` for a Kinesis trigger."""

from __future__ import annotations

import functools
import os
from typing import Any

from runtime.logs import emit
from runtime.outputs import sns
from runtime.pipeline import process_batch
from runtime.rules import rule_set

TOPIC_ENV = "SIGIL_ALERTS_TOPIC_ARN"


def handler(event: dict[str, Any], context: object) -> dict[str, list[dict[str, str]]]:
    """Match a Kinesis batch against the compiled rules and publish alerts to SNS; report partial failures."""
    topic_arn = os.environ.get(TOPIC_ENV)
    if not topic_arn:
        raise RuntimeError(f"{TOPIC_ENV} is not set")
    result = process_batch(event, rule_set(), functools.partial(sns.publish, topic_arn=topic_arn))
    emit("batch_summary", **result.summary())
    return {"batchItemFailures": [{"itemIdentifier": seq} for seq in result.failures]}
