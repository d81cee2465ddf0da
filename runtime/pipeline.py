"""Process one invocation: read each item's payloads, classify, match, deliver alerts, quarantine the rest.

Counts hold for every batch: records = matched + clean + quarantined, and alerts = delivered +
dead_lettered + undelivered. An item fails (is retried) when its source could not be read, an alert of
it was neither delivered nor dead-lettered, a quarantine write failed, or the deadline came first.

One record never fails its batch: an exception while reading an item, parsing, classifying, matching or
building an alert quarantines the record (or the payload, or the item's data) with the exception as the
reason, and so does a record over its time budget (`Limits.record_budget_ms`, on the remaining-time clock).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from runtime.alert_hooks import alert_with_hooks
from runtime.classifier import Payload as Classified
from runtime.logs import brief, emit, preview
from runtime.metrics import OUTPUT_METRICS, LogTypeCounts
from runtime.quarantine import LogQuarantine, Quarantine, QuarantineError, entry
from runtime.rules import RuleSet
from runtime.sources import Item, Payload, SourceError, detect
from runtime.sources.limits import Limits
from runtime.sources.lines import KEPT_OF_OVERSIZE
from runtime.sources.source_map import SourceMap
from runtime.stateful import Stateful, finish_batch

FLUSH_ALERTS = 100
FLUSH_ENTRIES = 500
FLUSH_ENTRY_BYTES = 8 * 1024 * 1024
LOGGED_QUARANTINES = 50  # per batch; the summary counts them all
LOGGED_RULE_ERRORS = 10  # per rule (or failing module) per batch; the metrics count them all


class Report(Protocol):
    """What a deliver function returns: the alert ids by outcome (each alert in exactly one)."""

    @property
    def delivered(self) -> Collection[str]: ...
    @property
    def dead_lettered(self) -> Collection[str]: ...
    @property
    def failed(self) -> Collection[str]: ...


Deliver = Callable[[list[dict[str, Any]]], Report]


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """Alert ids by outcome: ``failed`` ones (neither delivered nor dead-lettered) make their item retry."""

    delivered: tuple[str, ...] = ()
    dead_lettered: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


class Deadline:
    """Lambda's deadline from ``context.get_remaining_time_in_millis()``, less a safety margin."""

    def __init__(self, context: object, margin_ms: int | None = None) -> None:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        self._remaining: Callable[[], int] | None = remaining if callable(remaining) else None
        if margin_ms is None and self._remaining is not None:
            margin_ms = int(max(500, min(5000, self._remaining() * 0.2)))
        self.margin_ms = margin_ms or 0

    def expired(self) -> bool:
        """Is less than the margin left? Never, without a Lambda context."""
        return self._remaining is not None and self._remaining() < self.margin_ms

    def clock_ms(self) -> int | None:
        """The remaining-time clock in milliseconds (counting down), None without a Lambda context."""
        return self._remaining() if self._remaining is not None else None

    def remaining_seconds(self) -> float:
        """Seconds left before Lambda's deadline (infinite without a context), for deliver functions."""
        return self._remaining() / 1000 if self._remaining is not None else float("inf")


def deliver_each(publish: Callable[[dict[str, Any]], object], deadline: Deadline | None = None) -> Deliver:
    """Adapt a one-alert ``publish`` function (raising on failure) to a Deliver function.

    Past the ``deadline`` nothing more is attempted: the remaining alerts fail and their item is retried.
    """

    def deliver(alerts: list[dict[str, Any]]) -> DeliveryReport:
        delivered, failed = [], []
        for alert in alerts:
            if deadline is not None and deadline.expired():
                failed.append(str(alert.get("alert_id")))
                continue
            try:
                publish(alert)
            except Exception as exc:  # retried by Lambda through the item's failure
                emit("publish_failed", "error", alert_id=alert.get("alert_id"), reason=repr(exc))
                failed.append(str(alert.get("alert_id")))
            else:
                delivered.append(str(alert.get("alert_id")))
        return DeliveryReport(delivered=tuple(delivered), failed=tuple(failed))

    return deliver


@dataclass(frozen=True)
class Runtime:
    """Everything a batch needs: built per invocation from parts cached per cold start (rules, clients)."""

    rules: RuleSet
    deliver: Deliver
    quarantine: Quarantine = field(default_factory=LogQuarantine)
    sources: SourceMap = field(default_factory=SourceMap)
    limits: Limits = field(default_factory=Limits)
    deadline: Deadline = field(default_factory=lambda: Deadline(None))
    stateful: Stateful | None = None  # correlations and dedup (runtime/stateful.py); None: the rules need no state
    _allowed: dict[str, frozenset[str] | None] = field(default_factory=dict, repr=False, compare=False)

    def allowed(self, source: str) -> frozenset[str] | None:
        """The log types ``source`` may carry (None: all), memoized."""
        if source not in self._allowed:
            self._allowed[source] = self.sources.allowed(source, self.rules.classifier.names)
        return self._allowed[source]


@dataclass
class Stats:
    """The counts of one batch (see the module docstring for the invariants)."""

    items: int = 0
    payloads: int = 0
    records: int = 0
    matched: int = 0
    clean: int = 0
    quarantined: int = 0
    parse_failures: int = 0
    over_budget: int = 0  # quarantined for taking longer than the record budget
    empty_payloads: int = 0  # payloads holding no record: a skipped header line, {"Records": []}
    alerts: int = 0
    delivered: int = 0
    dead_lettered: int = 0
    undelivered: int = 0
    rule_errors: int = 0
    quarantine_write_failures: int = 0
    failed_items: int = 0
    unfinished_items: int = 0
    correlation_events_dropped: int = 0  # matches a correlation takes, without a usable event time
    correlation_events_late: int = 0  # older than their group's newest event by more than the timespan

    def violations(self) -> list[str]:
        """Return the invariants that do not hold (empty when the batch adds up)."""
        found = []
        if self.records != self.matched + self.clean + self.quarantined:
            found.append(f"records {self.records} != matched {self.matched} + clean {self.clean} + quarantined {self.quarantined}")
        if self.alerts != self.delivered + self.dead_lettered + self.undelivered:
            found.append(
                f"alerts {self.alerts} != delivered {self.delivered} + dead-lettered {self.dead_lettered}"
                f" + undelivered {self.undelivered}"
            )
        return found


@dataclass
class BatchResult:
    """The ids of the items to retry, the counts, and the per-log-type and per-rule figures for metrics."""

    kind: str
    partial: bool
    failures: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    log_types: dict[str, LogTypeCounts] = field(default_factory=dict)
    rule_errors: Counter[str] = field(default_factory=Counter)
    outputs: dict[str, Counter[str]] = field(default_factory=dict)  # output → delivered, dead_lettered, failed, retries

    @property
    def complete(self) -> bool:
        return self.stats.failed_items == 0

    def summary(self) -> dict[str, Any]:
        """Return the kind of trigger and the counts, as logged in the batch summary line."""
        return {"kind": self.kind, **dataclasses.asdict(self.stats)}


def process_batch(event: Any, runtime: Runtime) -> BatchResult:
    """Process every item of a Lambda event; never raises for bad input or a failing destination."""
    batch = detect.batch(event, runtime.limits)
    result = BatchResult(batch.kind, batch.partial)
    for item in batch.items:
        result.stats.items += 1
        if runtime.deadline.expired():
            _fail(result, item, "deadline reached before the item started", unfinished=True)
            continue
        _ItemRun(item, runtime, result).run()
    if runtime.stateful is not None:
        finish_batch(runtime.stateful, runtime.deliver, result)
    for violation in result.stats.violations():
        emit("count_invariant_violated", "error", detail=violation)
    return result


def _record_bytes(record: Any, fallback: bytes) -> bytes:
    """The record (or an item's event) as JSON for the quarantine; ``fallback`` (the payload's bytes) when it
    cannot be written (nested too deeply)."""
    try:
        return json.dumps(record, default=str).encode()
    except (ValueError, RecursionError):
        return fallback


def _fail(result: BatchResult, item: Item, reason: str, unfinished: bool = False) -> None:
    """Record a failed item (to retry) and log why."""
    result.stats.failed_items += 1
    result.stats.unfinished_items += unfinished
    if item.item_id is not None:
        result.failures.append(item.item_id)
    emit("item_failed", "error", item=item.label, item_id=item.item_id, reason=reason)


class _ItemRun:
    """One item's payloads through classification and matching, with its alerts and quarantine buffered."""

    def __init__(self, item: Item, runtime: Runtime, result: BatchResult) -> None:
        self.item, self.runtime, self.result, self.stats = item, runtime, result, result.stats
        self.alerts: list[dict[str, Any]] = []
        self.entries: list[dict[str, Any]] = []
        self.entry_bytes = 0
        self.problems: list[str] = []

    def run(self) -> None:
        unfinished = False
        payloads = self.item.read()
        try:
            for payload in payloads:
                if self.runtime.deadline.expired():
                    unfinished = True
                    break
                self.payload(payload)
                self.flush(full_only=True)
        except SourceError as exc:
            self.problems.append(f"source: {exc}")
        except Exception as exc:  # a shape no source foresaw: keep the item's data, do not retry it forever
            data = _record_bytes(self.item.event, b"") if self.item.event is not None else b""
            origin = Payload(data, "unknown:item", self.item.label, {"item": self.item.label})
            self.quarantine(origin, "decode", f"reading {self.item.label} raised {brief(exc)}", data)
        finally:
            getattr(payloads, "close", lambda: None)()  # release an S3 body left half read
        self.flush(full_only=False)
        if unfinished:
            self.problems.append("deadline reached before the item was finished")
        if self.problems:
            _fail(self.result, self.item, "; ".join(self.problems), unfinished)

    def payload(self, payload: Payload) -> None:
        """Classify one payload and match its records, or quarantine it."""
        self.stats.payloads += 1
        if payload.error is not None:
            if payload.stage == "shape":
                emit("unknown_event", "error", reason=payload.error)
            self.quarantine(payload, payload.stage, payload.error, payload.data, size=payload.size)
            return
        if len(payload.data) > self.runtime.limits.max_record_bytes:
            reason = f"record of {len(payload.data)} bytes exceeds the limit of {self.runtime.limits.max_record_bytes}"
            self.quarantine(payload, "decode", reason, payload.data[:KEPT_OF_OVERSIZE], size=len(payload.data))
            return
        started = self.runtime.deadline.clock_ms()
        try:
            outcome = self.runtime.rules.classifier.classify_payload(
                payload.data, self.runtime.allowed(payload.source), payload.header
            )
        except Exception as exc:  # the classifier guards each parser and log type; this is the last net
            outcome = Classified(error=f"classifying raised {brief(exc)}")
        if outcome.error is not None:
            self.stats.parse_failures += 1
            self.quarantine(payload, "parse", outcome.error, payload.data, outcome.reasons)
            return
        if not outcome.records:
            self.stats.empty_payloads += 1
            return
        alone = len(outcome.records) == 1  # then the raw payload is the record, kept byte for byte
        over = self.over_budget(started, len(outcome.records), "parsing and classifying")
        if over:
            self.stats.over_budget += len(outcome.records)
            for record, _ in outcome.records:
                self.quarantine(payload, "budget", over, payload.data if alone else _record_bytes(record, payload.data))
            return
        for record, classification in outcome.records:
            if classification.log_type is None:
                data = payload.data if alone else _record_bytes(record, payload.data)
                self.quarantine(payload, "classify", classification.reason, data, classification.reasons)
            else:
                self.match(payload, classification.log_type, record)

    def over_budget(self, started: int | None, records: int, what: str) -> str:
        """Why the work since ``started`` (on the remaining-time clock) is over the budget of ``records``, or ""."""
        budget = self.runtime.limits.record_budget_ms
        now = self.runtime.deadline.clock_ms()
        if started is None or now is None or budget <= 0 or started - now <= budget * records:
            return ""
        per = f" ({records} records)" if records > 1 else ""
        return f"{what} took {started - now} ms{per}, over the budget of {budget} ms a record (SIGIL_RECORD_BUDGET_MS)"

    def match(self, payload: Payload, log_type: str, record: dict[str, Any]) -> None:
        """Run the log type's rules on a classified record and buffer its alerts."""
        rules = self.runtime.rules
        clock = self.runtime.deadline.clock_ms()
        started = time.perf_counter()
        evaluation = rules.evaluate(log_type, record)
        seen = self.result.log_types.setdefault(log_type, LogTypeCounts())
        seen.seconds += time.perf_counter() - started
        seen.records += 1
        for error in evaluation.errors:
            self.rule_error(payload, log_type, error.rule_id, error.error)
        if not evaluation.evaluated:
            reason = f"the matcher of {log_type} raised {evaluation.errors[0].error}"
            self.quarantine(payload, "match", reason, _record_bytes(record, payload.data))
            return
        over = self.over_budget(clock, 1, f"matching {log_type}")
        if over:
            self.stats.over_budget += 1
            self.quarantine(payload, "budget", over, _record_bytes(record, payload.data))
            return
        resolve = functools.partial(rules.hook, log_type)
        built = []
        for rule_id in evaluation.rule_ids:
            meta = rules.rule(log_type, rule_id)
            try:
                alert, failures = alert_with_hooks(rule_id, meta, log_type, payload.source_arn, record, resolve)
            except Exception as exc:  # a value no alert can carry: keep the record, not a failed batch
                self.quarantine(payload, "alert", f"the alert of {rule_id} raised {brief(exc)}", _record_bytes(record, payload.data))
                return
            built.append((rule_id, meta, alert, failures))
        self.stats.records += 1
        if not built:
            self.stats.clean += 1
            return
        self.stats.matched += 1
        stateful = self.runtime.stateful  # correlations and dedup decide what is sent now
        for rule_id, meta, alert, failures in built:
            for failure in failures:  # the alert still goes out, with the template title
                self.rule_error(payload, log_type, failure.rule_id, failure.error)
            sent = [alert] if stateful is None else stateful.admit(self.item.item_id, log_type, rule_id, meta, record, alert)
            self.alerts.extend(sent)
            self.stats.alerts += len(sent)
            seen.alerts += len(sent)

    def rule_error(self, payload: Payload, log_type: str, rule_id: str | None, error: str) -> None:
        """Count a rule that raised (while matching, or in a title or context hook) and log the first ones."""
        self.stats.rule_errors += 1
        self.result.log_types.setdefault(log_type, LogTypeCounts()).rule_errors += 1
        key = rule_id or f"{log_type}:*"
        self.result.rule_errors[key] += 1
        if self.result.rule_errors[key] <= LOGGED_RULE_ERRORS:
            emit("rule_error", "error", log_type=log_type, rule_id=rule_id, error=error, origin=payload.origin)

    def quarantine(
        self,
        payload: Payload,
        stage: str,
        reason: str,
        data: bytes,
        candidates: Mapping[str, str] | None = None,
        size: int | None = None,
    ) -> None:
        """Count one record as quarantined and buffer its entry."""
        self.stats.records += 1
        self.stats.quarantined += 1
        self.entries.append(
            entry(
                reason=reason,
                stage=stage,
                data=data,
                source=payload.source,
                source_arn=payload.source_arn,
                item_id=self.item.item_id,
                origin=payload.origin,
                candidates=candidates,
                size=size,
            )
        )
        self.entry_bytes += len(data)
        if self.stats.quarantined <= LOGGED_QUARANTINES:
            emit(
                "record_quarantined",
                "warning",
                stage=stage,
                reason=reason,
                source=payload.source,
                item_id=self.item.item_id,
                origin=payload.origin,
                preview=preview(data),
            )

    def flush(self, full_only: bool) -> None:
        """Deliver the buffered alerts and write the buffered entries (only full buffers when ``full_only``)."""
        if self.alerts and (not full_only or len(self.alerts) >= FLUSH_ALERTS):
            self.deliver()
        if self.entries and (
            not full_only or len(self.entries) >= FLUSH_ENTRIES or self.entry_bytes >= FLUSH_ENTRY_BYTES
        ):
            self.write_quarantine()

    def deliver(self) -> None:
        alerts, self.alerts = self.alerts, []
        try:
            report = self.runtime.deliver(alerts)
        except Exception as exc:  # a deliver function should report, not raise; retry the item if it does
            self.stats.undelivered += len(alerts)
            self.problems.append(f"delivery raised {exc!r}")
            return
        for name, counts in (getattr(report, "outputs", None) or {}).items():  # the dispatcher's, per output
            tally = self.result.outputs.setdefault(name, Counter())
            for outcome in OUTPUT_METRICS:
                tally[outcome] += getattr(counts, outcome, 0)
        delivered, dead = len(report.delivered), len(report.dead_lettered)
        undelivered = len(alerts) - delivered - dead  # failed, or unaccounted for by the report
        self.stats.delivered += delivered
        self.stats.dead_lettered += dead
        self.stats.undelivered += undelivered
        if undelivered or report.failed:
            self.problems.append(f"{max(undelivered, len(report.failed))} alerts not delivered")

    def write_quarantine(self) -> None:
        entries, self.entries, self.entry_bytes = self.entries, [], 0
        try:
            self.runtime.quarantine.put(entries)
        except (QuarantineError, ValueError) as exc:
            self.stats.quarantine_write_failures += len(entries)
            self.problems.append(str(exc))
