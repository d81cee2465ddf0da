"""Process a Kinesis batch: decode, parse and classify each payload, match its records, publish alerts."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.alerts import build_alert
from runtime.logs import emit, preview
from runtime.rules import RuleSet
from runtime.sources import kinesis

Publish = Callable[[dict[str, Any]], object]


@dataclass
class Stats:
    """Counts for the batch summary line; ``rejected`` counts the reject lines logged."""

    records: int = 0
    parsed: int = 0
    classified: int = 0
    rejected: int = 0
    alerts: int = 0
    failures: int = 0


@dataclass
class BatchResult:
    """The sequence numbers whose alerts could not all be published, and the counts."""

    failures: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)

    def summary(self) -> dict[str, int]:
        """Return the counts as a dict."""
        return dataclasses.asdict(self.stats)


def process_batch(event: Mapping[str, Any], rules: RuleSet, publish: Publish) -> BatchResult:
    """Process every record of a Lambda Kinesis event; never raises for a bad record."""
    result = BatchResult()
    for item in event.get("Records") or ():
        result.stats.records += 1
        if not _process_item(item, rules, publish, result.stats):
            result.failures.append(kinesis.sequence_number(item))
    result.stats.failures = len(result.failures)
    return result


def _process_item(item: Mapping[str, Any], rules: RuleSet, publish: Publish, stats: Stats) -> bool:
    """Process one Kinesis record; return False if an alert could not be published."""
    seq = kinesis.sequence_number(item)
    try:
        _, raw = kinesis.decode_record(item)
    except kinesis.DecodeError as exc:
        _reject(stats, "decode", str(exc), seq)
        return True
    payload = rules.classifier.classify_payload(raw)
    if payload.error is not None:
        _reject(stats, "parse", payload.error, seq, preview(raw))
        return True
    source = str(item.get("eventSourceARN") or item.get("eventSource") or "kinesis")
    published = True
    for record, classification in payload.records:
        stats.parsed += 1
        if classification.log_type is None:
            _reject(stats, "classify", classification.reason, seq, preview(json.dumps(record, default=str)))
            continue
        stats.classified += 1
        for alert in _alerts(rules, classification.log_type, record, source, seq, stats):
            try:
                publish(alert)
            except Exception as exc:  # any publishing error is retried by Lambda via batchItemFailures
                emit(
                    "publish_failed",
                    "error",
                    sequence_number=seq,
                    alert_id=alert["alert_id"],
                    reason=repr(exc),
                )
                published = False
            else:
                stats.alerts += 1
    return published


def _alerts(
    rules: RuleSet, log_type: str, record: dict[str, Any], source: str, seq: str, stats: Stats
) -> Iterator[dict[str, Any]]:
    """Yield the alerts of the rules matching ``record``; a matcher error is logged as a reject."""
    match = rules.matcher(log_type)
    if match is None:
        return
    try:
        rule_ids = match(record)
    except Exception as exc:  # generated code must not take the batch down
        _reject(stats, "match", f"{log_type}: {exc!r}", seq)
        return
    for rule_id in rule_ids:
        yield build_alert(rule_id, rules.rule(log_type, rule_id), log_type, source, record)


def _reject(stats: Stats, stage: str, reason: str, seq: str, sample: str | None = None) -> None:
    """Log a record that cannot be processed (quarantine comes later) and count it."""
    stats.rejected += 1
    fields = {"stage": stage, "reason": reason, "sequence_number": seq}
    if sample is not None:
        fields["preview"] = sample
    emit("record_rejected", "warning", **fields)
