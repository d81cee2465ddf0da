"""CloudWatch Embedded Metric Format (EMF): metric values written as structured log lines.

One line per batch (records, alerts, parse failures, quarantines, records over their time budget, payloads
holding no record, rule errors, deliveries, correlation events dropped for want of a usable time or too
late for their group), one per
log type seen (records, alerts, rule errors, matching time), one per rule that raised, and one per
output the alerts went to (delivered, dead-lettered, failed, retries: alarm on dead letters per output). CloudWatch
Logs turns them into metrics in ``SIGIL_METRICS_NAMESPACE`` (default ``Sigil``), no API call needed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime import logs

DEFAULT_NAMESPACE = "Sigil"
FUNCTION_DIMENSION = "FunctionName"

BATCH_METRICS = {
    "records": ("Records", "Count"),
    "alerts": ("Alerts", "Count"),
    "parse_failures": ("ParseFailures", "Count"),
    "quarantined": ("Quarantined", "Count"),
    "over_budget": ("OverBudget", "Count"),
    "empty_payloads": ("EmptyPayloads", "Count"),
    "rule_errors": ("RuleErrors", "Count"),
    "delivered": ("AlertsDelivered", "Count"),
    "dead_lettered": ("AlertsDeadLettered", "Count"),
    "failed_items": ("FailedItems", "Count"),
    "correlation_events_dropped": ("CorrelationEventsDropped", "Count"),
    "correlation_events_late": ("CorrelationEventsLate", "Count"),
}


@dataclass
class LogTypeCounts:
    """What one log type did in a batch."""

    records: int = 0
    alerts: int = 0
    rule_errors: int = 0
    seconds: float = 0.0


def document(
    namespace: str, dimensions: Mapping[str, str], values: Mapping[str, tuple[float, str]], timestamp_ms: int
) -> dict[str, Any]:
    """Return one EMF document: the ``_aws`` metadata, the dimension values and the metric values."""
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimensions)],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
                }
            ],
        },
        **dimensions,
        **{name: value for name, (value, _) in values.items()},
    }


OUTPUT_METRICS = {
    "delivered": ("AlertsDelivered", "Count"),
    "dead_lettered": ("AlertsDeadLettered", "Count"),
    "failed": ("AlertsFailed", "Count"),
    "retries": ("Retries", "Count"),
}


def documents(
    counts: Mapping[str, int],
    log_types: Mapping[str, LogTypeCounts],
    rule_errors: Mapping[str, int],
    namespace: str | None = None,
    function: str | None = None,
    timestamp_ms: int | None = None,
    outputs: Mapping[str, Mapping[str, int]] | None = None,
) -> list[dict[str, Any]]:
    """Return the EMF documents of one batch."""
    namespace = namespace or os.environ.get("SIGIL_METRICS_NAMESPACE", DEFAULT_NAMESPACE)
    function = function or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "sigil")
    stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    base = {FUNCTION_DIMENSION: function}
    out = [
        document(
            namespace,
            base,
            {name: (float(counts.get(key, 0)), unit) for key, (name, unit) in BATCH_METRICS.items()},
            stamp,
        )
    ]
    for log_type, seen in sorted(log_types.items()):
        values = {
            "Records": (float(seen.records), "Count"),
            "Alerts": (float(seen.alerts), "Count"),
            "RuleErrors": (float(seen.rule_errors), "Count"),
            "MatchTime": (round(seen.seconds * 1000, 3), "Milliseconds"),
        }
        out.append(document(namespace, {**base, "LogType": log_type}, values, stamp))
    for rule_id, errors in sorted(rule_errors.items()):
        out.append(document(namespace, {**base, "RuleId": rule_id}, {"RuleErrors": (float(errors), "Count")}, stamp))
    for output, tally in sorted((outputs or {}).items()):
        values = {name: (float(tally.get(key, 0)), unit) for key, (name, unit) in OUTPUT_METRICS.items()}
        out.append(document(namespace, {**base, "Output": output}, values, stamp))
    return out


def emit(docs: list[dict[str, Any]]) -> None:
    """Write each EMF document as one log line."""
    for doc in docs:
        logs.write(doc)
