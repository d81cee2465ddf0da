"""Stateful detection in the Lambda: correlations and dedup, between building an alert and delivering it.

Per batch, `Stateful.admit` takes each alert as it is built: a match of a rule a correlation takes is
counted (in memory), a rule referred to by correlations without ``generate: true`` sends nothing of its
own, and a dedup rule's alert waits for the end of the batch. There, `finish_batch` writes each touched
dedup window and correlation group once (``SIGIL_STATE_TABLE``), delivers the dedup alerts (first alerts
and follow-ups) and the correlation alerts, and fails the items whose state could not be written or
whose alerts were not delivered: Lambda retries them, and per-event idempotency keeps the retry from
counting twice.
`flush_dedup` serves the scheduled invocation (``{"sigil": "flush"}``) that sends the follow-ups of
dedup windows that closed.
"""

from __future__ import annotations

import functools
import os
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.correlate import Correlator, event_time
from runtime.dedup import Deduper, Pending
from runtime.logs import emit
from runtime.metrics import OUTPUT_METRICS, LogTypeCounts
from runtime.state import StateStore

STATE_TABLE_ENV = "SIGIL_STATE_TABLE"
FLUSH_EVENT = {"sigil": "flush"}  # the scheduled invocation's input (deploy/terraform/modules/sigil/state.tf)
LOGGED_NOTES = 20  # per batch


@dataclass
class Stateful:
    """The correlations and dedup windows of one invocation over a state store."""

    correlator: Correlator | None
    deduper: Deduper
    time_fields: Mapping[str, tuple[str, ...]]
    clock: Callable[[], float] = time.time
    notes: int = 0
    errors: list[str] = field(default_factory=list)
    dedup_pending: list[Pending] = field(default_factory=list)  # this batch's alerts of dedup rules
    untimed: int = 0  # this batch's matches a correlation takes without a usable event time

    @classmethod
    def from_rules(cls, rules: Any, store: StateStore, clock: Callable[[], float] = time.time) -> Stateful:
        """Build from a `runtime.rules.RuleSet` (its ``correlations`` config and schemas)."""
        schemas = rules.schemas
        correlator = Correlator.from_config(rules.correlations, store, schemas) if rules.correlations else None
        time_fields = {name: tuple(view.get("timestamp") or ()) for name, view in (schemas.get("log_types") or {}).items()}
        return cls(correlator, Deduper(store), time_fields, clock)

    def admit(self, item_id: str | None, log_type: str, rule_id: str, rule: Mapping[str, Any], record: Mapping[str, Any], alert: dict[str, Any]) -> list[dict[str, Any]]:
        """The alerts to send now for ``alert``: itself, or nothing (taken by correlations, or a dedup rule's,
        decided at the end of the batch)."""
        if self.correlator is not None and self.correlator.takes(rule_id):
            untimed = self.correlator.observe(log_type, rule_id, record, event_id=alert["alert_id"], origin=item_id)
            if untimed:
                self.untimed += 1
                self._note("correlation_event_untimed", reason=untimed, item_id=item_id)
            if not self.correlator.alerts_alone(rule_id):
                return []
        dedup = rule.get("dedup")
        if not dedup:
            return [alert]
        when = event_time(record, self.time_fields.get(log_type, ()))
        self.dedup_pending.append(Pending(alert, dedup, self.clock() if when is None else when, item_id))
        return []

    def _note(self, event: str, **fields: Any) -> None:
        self.notes += 1
        if self.notes <= LOGGED_NOTES:
            emit(event, "warning", **fields)


def finish_batch(stateful: Stateful, deliver: Callable[[list[dict[str, Any]]], Any], result: Any) -> None:
    """Write the batch's correlation state, deliver the correlation alerts, fail the items to retry.

    ``result`` is the pipeline's BatchResult: its ``stats`` (alerts, delivered, dead_lettered, undelivered,
    failed_items) and ``failures`` (item ids) are updated here.
    """
    alerts: list[dict[str, Any]] = []
    origins: dict[str, set[str]] = {}
    failed: set[str] = set()
    if stateful.dedup_pending:
        admitted = stateful.deduper.admit_all(stateful.dedup_pending)
        stateful.dedup_pending = []
        failed |= admitted.failed_origins
        for error in admitted.errors[:LOGGED_NOTES]:
            emit("dedup_state_failed", "error", reason=error)
        alerts += admitted.alerts
        origins.update(admitted.origins)
        for alert in admitted.alerts:
            result.log_types.setdefault(str(alert.get("log_type")), LogTypeCounts()).alerts += 1
    result.stats.correlation_events_dropped += stateful.untimed
    stateful.untimed = 0
    if stateful.correlator is not None:
        flushed = stateful.correlator.flush()
        result.stats.correlation_events_late += flushed.late
        failed |= flushed.failed_origins
        for error in flushed.errors[:LOGGED_NOTES]:
            emit("correlation_state_failed", "error", reason=error)
        if flushed.late:  # counted nowhere: older than their group's newest event by more than the timespan
            emit("correlation_events_late", "warning", count=flushed.late)
        alerts += flushed.alerts
        for alert_id, items in flushed.origins.items():
            origins.setdefault(alert_id, set()).update(items)
    result.stats.alerts += len(alerts)
    if alerts:
        try:
            report = deliver(alerts)
            settled = [*report.delivered, *report.dead_lettered]
        except Exception as exc:  # a deliver function should report, not raise
            emit("correlation_delivery_failed", "error", reason=repr(exc))
            settled = []
            report = None
        done = set(settled)
        for name, counts in (getattr(report, "outputs", None) or {}).items():  # the dispatcher's, per output
            tally = result.outputs.setdefault(name, Counter())
            for outcome in OUTPUT_METRICS:
                tally[outcome] += getattr(counts, outcome, 0)
        result.stats.delivered += len(report.delivered) if report else 0
        result.stats.dead_lettered += len(report.dead_lettered) if report else 0
        result.stats.undelivered += len(alerts) - len(done & {a["alert_id"] for a in alerts})
        for alert in alerts:
            if alert["alert_id"] not in done:
                failed |= origins.get(alert["alert_id"], set())
        for error in stateful.correlator.confirm(done) if stateful.correlator is not None else ():
            emit("correlation_state_failed", "warning", reason=error)
    for item_id in sorted(failed - set(result.failures)):
        result.failures.append(item_id)
        result.stats.failed_items += 1
        emit("item_failed", "error", item_id=item_id, reason="correlation or dedup state, or their alerts, not written")


def flush_dedup(stateful: Stateful, deliver: Callable[[list[dict[str, Any]]], Any]) -> dict[str, int]:
    """Send the follow-ups of the dedup windows that closed; a window stays until its follow-up is settled."""
    due = stateful.deduper.due(stateful.clock())
    alerts = [alert for _, _, alert in due if alert is not None]
    report = deliver(alerts) if alerts else None
    settled = set(report.delivered) | set(report.dead_lettered) if report else set()
    closed = 0
    for key, first_id, alert in due:
        if alert is None or alert["alert_id"] in settled:
            stateful.deduper.close(key, first_id)
            closed += 1
    return {"windows": len(due), "follow_ups": len(alerts), "closed": closed, "failed": len(alerts) - len(settled & {a["alert_id"] for a in alerts})}


def needs_state(rules: Any) -> bool:
    """Does the rule set hold correlations or dedup rules?"""
    if rules.correlations and rules.correlations.get("correlations"):
        return True
    return any(meta.get("dedup") for module in rules.modules.values() for meta in module.RULES.values())


def stateful_from_env(rules: Any, environ: Mapping[str, str] | None = None) -> Stateful | None:
    """The invocation's Stateful over ``SIGIL_STATE_TABLE``, or None when the rules need no state.

    Raises RuntimeError when they do and no table is set: correlations and dedup would silently not run.
    """
    if not needs_state(rules):
        return None
    env = os.environ if environ is None else environ
    table = env.get(STATE_TABLE_ENV, "").strip()
    if not table:
        raise RuntimeError(f"the rules hold correlations or dedup but {STATE_TABLE_ENV} names no state table")
    return Stateful.from_rules(rules, _store(table))


@functools.cache
def _store(table: str) -> StateStore:
    from runtime.state.dynamodb import DynamoStore, default_client

    return DynamoStore(table, default_client())
