"""Lambda entry point ``runtime.handler.handler``: any supported trigger in, alerts out, the rest quarantined.

Alerts go to their outputs through `runtime.outputs.dispatch` (docs/outputs.md): ``SIGIL_ALERTS_TOPIC_ARN``
makes the SNS topic ``aws-sns:alerts`` an output of every alert; it may be left out when ``outputs.json`` or
``SIGIL_OUTPUTS_OVERRIDE`` configures outputs or ``SIGIL_DLQ_URL`` a dead-letter queue, but with none of
these an alert would have nowhere to go, so the handler refuses to run. Also ``SIGIL_QUARANTINE_URL``
(``s3://bucket/prefix`` or an SQS queue URL), ``SIGIL_SOURCES`` (the source map as JSON; else the
package's ``sources.json``; else every source may carry every log type), ``SIGIL_DEADLINE_MARGIN_MS``
(stop this long before Lambda's deadline; default 20% of the time left, 0.5 to 5 s),
``SIGIL_CLOUDWATCH_ENVELOPE=keep`` (see `runtime.sources.cloudwatch`), ``SIGIL_METRICS_NAMESPACE``,
``SIGIL_STATE_TABLE`` (correlations and dedup, `runtime.stateful`), and the size limits and the per-record
time budget (``SIGIL_RECORD_BUDGET_MS``) of `runtime.sources.limits`.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from runtime import logs, metrics, quarantine, stateful
from runtime.outputs import dispatch
from runtime.pipeline import BatchResult, Deadline, Deliver, Runtime, process_batch
from runtime.rules import RuleSet, rule_set
from runtime.sources import firehose
from runtime.sources.limits import Limits
from runtime.sources.source_map import SourceMap

TOPIC_ENV = "SIGIL_ALERTS_TOPIC_ARN"
QUARANTINE_ENV = "SIGIL_QUARANTINE_URL"
SOURCES_ENV = "SIGIL_SOURCES"
MARGIN_ENV = "SIGIL_DEADLINE_MARGIN_MS"


class IncompleteBatch(RuntimeError):
    """Raised for triggers without partial batch responses when an item failed, so Lambda retries the event."""


def handler(event: Any, context: object) -> dict[str, Any]:
    """Process the event; return Lambda's partial batch response (Kinesis, SQS) or raise to retry (others).

    A Firehose transformation gets its records back unchanged (``runtime.sources.firehose.response``).
    The scheduled ``{"sigil": "flush"}`` event sends the follow-ups of closed dedup windows instead.
    """
    logs.bind(request_id=getattr(context, "aws_request_id", None))
    deadline = _deadline(context)
    runtime = build_runtime(rule_set(), dispatcher_deliver(deadline), deadline)
    if event == stateful.FLUSH_EVENT:
        counts: dict[str, Any] = stateful.flush_dedup(runtime.stateful, runtime.deliver) if runtime.stateful is not None else {}
        logs.emit("dedup_flush", **counts)
        return counts
    result = process_batch(event, runtime)
    report(result)
    if not result.partial and not result.complete:
        raise IncompleteBatch(f"{result.stats.failed_items} of {result.stats.items} items failed; retry the event")
    if result.kind == "firehose":
        return firehose.response(event)
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
        stateful=stateful.stateful_from_env(rules),
    )


def report(result: BatchResult) -> None:
    """Write the batch's metric lines, then its summary line."""
    counts = result.summary()
    metrics.emit(metrics.documents(counts, result.log_types, result.rule_errors, outputs=result.outputs))
    logs.emit("batch_summary", **counts)


def _deadline(context: object) -> Deadline:
    margin = os.environ.get(MARGIN_ENV)
    return Deadline(context, int(margin) if margin else None)


def dispatcher_deliver(deadline: Deadline) -> Deliver:
    """Return the cold-start dispatcher's ``deliver``, bounded by the deadline; refuse a setup with no destination.

    Raises RuntimeError when no output, default route or dead-letter queue is configured (a rule may still
    name outputs of its own, but its alerts would be lost without one), and OutputConfigError for an invalid
    ``outputs.json``: both at the first invocation, before any record is read.
    """
    config = dispatch.default_dispatcher().config
    if not (config.outputs or config.default_outputs or config.required_outputs or config.dead_letter_queue_url):
        raise RuntimeError(
            f"no alert destination: set {TOPIC_ENV}, configure outputs (outputs.json, SIGIL_OUTPUTS_OVERRIDE)"
            " or a dead-letter queue (SIGIL_DLQ_URL)"
        )
    return functools.partial(dispatch.deliver, remaining=deadline.remaining_seconds)


def _source_map(text: str | None, rules: RuleSet) -> SourceMap:
    if text:
        return _parsed_source_map(text)
    return SourceMap.from_config(rules.sources)


@functools.cache
def _parsed_source_map(text: str) -> SourceMap:
    return SourceMap.from_json(text)
