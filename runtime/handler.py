"""Lambda entry point ``runtime.handler.handler``: any supported trigger in, alerts out, the rest quarantined.

Environment: ``SIGIL_ALERTS_TOPIC_ARN`` (required: alerts are published there), ``SIGIL_QUARANTINE_URL``
(``s3://bucket/prefix`` or an SQS queue URL), ``SIGIL_SOURCES`` (the source map as JSON; else the
package's ``sources.json``; else every source may carry every log type), ``SIGIL_DEADLINE_MARGIN_MS``
(stop this long before Lambda's deadline; default 20% of the time left, 0.5 to 5 s),
``SIGIL_CLOUDWATCH_ENVELOPE=keep`` (see `runtime.sources.cloudwatch`), ``SIGIL_METRICS_NAMESPACE``, and
the size limits of `runtime.sources.limits`.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from runtime import logs, metrics, quarantine
from runtime.outputs import sns
from runtime.pipeline import BatchResult, Deadline, Deliver, Runtime, deliver_each, process_batch
from runtime.rules import RuleSet, rule_set
from runtime.sources.limits import Limits
from runtime.sources.source_map import SourceMap

TOPIC_ENV = "SIGIL_ALERTS_TOPIC_ARN"
QUARANTINE_ENV = "SIGIL_QUARANTINE_URL"
SOURCES_ENV = "SIGIL_SOURCES"
MARGIN_ENV = "SIGIL_DEADLINE_MARGIN_MS"


class IncompleteBatch(RuntimeError):
    """Raised for triggers without partial batch responses when an item failed, so Lambda retries the event."""


def handler(event: Any, context: object) -> dict[str, list[dict[str, str]]]:
    """Process the event; return Lambda's partial batch response (Kinesis, SQS) or raise to retry (others)."""
    topic_arn = os.environ.get(TOPIC_ENV)
    if not topic_arn:
        raise RuntimeError(f"{TOPIC_ENV} is not set")
    logs.bind(request_id=getattr(context, "aws_request_id", None))
    deadline = _deadline(context)
    runtime = build_runtime(rule_set(), _sns_deliver(topic_arn, deadline), deadline)
    result = process_batch(event, runtime)
    report(result)
    if not result.partial and not result.complete:
        raise IncompleteBatch(f"{result.stats.failed_items} of {result.stats.items} items failed; retry the event")
    return {"batchItemFailures": [{"itemIdentifier": item_id} for item_id in result.failures]}


def build_runtime(rules: RuleSet, deliver: Deliver, deadline: Deadline) -> Runtime:
    """Assemble the pipeline's settings from the environment (parsed configs are cached per cold start)."""
    return Runtime(
        rules=rules,
        deliver=deliver,
        quarantine=quarantine.from_url(os.environ.get(QUARANTINE_ENV) or None),
        sources=_source_map(os.environ.get(SOURCES_ENV), rules),
        limits=Limits.from_env(),
        deadline=deadline,
    )


def report(result: BatchResult) -> None:
    """Write the batch's metric lines, then its summary line."""
    counts = result.summary()
    metrics.emit(metrics.documents(counts, result.log_types, result.rule_errors))
    logs.emit("batch_summary", **counts)


def _deadline(context: object) -> Deadline:
    margin = os.environ.get(MARGIN_ENV)
    return Deadline(context, int(margin) if margin else None)


def _sns_deliver(topic_arn: str, deadline: Deadline) -> Deliver:
    """Publish each alert to the SNS topic.

    This is the seam where the outputs dispatcher plugs in, as
    ``functools.partial(dispatch.deliver, remaining=deadline.remaining_seconds)``.
    """
    return deliver_each(functools.partial(sns.publish, topic_arn=topic_arn), deadline)


def _source_map(text: str | None, rules: RuleSet) -> SourceMap:
    if text:
        return _parsed_source_map(text)
    return SourceMap.from_config(rules.sources)


@functools.cache
def _parsed_source_map(text: str) -> SourceMap:
    return SourceMap.from_json(text)
