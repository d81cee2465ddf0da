"""Sigma correlations (spec 2.x): event_count, value_count, temporal, temporal_ordered, value_sum, value_avg,
value_percentile and value_median, over event time.

The compiler describes each correlation as plain data (`Spec.from_dict`): the rules (or correlations) it
takes, per input and log type the field paths of its group-by (aliases resolved, logsource renames
applied) and of the condition's field, its timespan and condition. A `Correlator` is fed the matches of a
batch (`observe`), then `flush` updates each touched group once in the state store and returns the
correlation alerts.

Window semantics (docs/language.md, "Correlations"): an event counts at its event time, read from its
log type's timestamp field, never its arrival. After each batch, every window ``[t - timespan, t]``
that ends at the time ``t`` of a kept event and holds an event of this batch is evaluated, earliest
first. When the condition holds, the group alerts once and its window starts afresh: the events up to
``t`` are consumed, and an event at or before ``t`` arriving later is not counted. An event older than
the group's newest event by more than the timespan is too late to count; events are kept for twice the
timespan, so a late event within the timespan still completes any window it belongs to. An event id
counts once per group (a retried batch changes nothing); an event without a usable time counts nowhere.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runtime.alerts import alert_id, build_alert
from runtime.fields import MISSING, get_field
from runtime.state import StateError, StateStore
from runtime.values import text_of, timestamp_of

CORRELATION_LOG_TYPE = "correlation"  # the log type of correlation alerts, inputs of chained correlations
MAX_EVENT_IDS = 100  # ids of contributing events an alert carries
MAX_KEPT = 2_000  # events kept per group (a DynamoDB item holds 400 KB); past it the oldest are dropped
MAX_KEPT_BYTES = 300_000  # and at most about this much of them as JSON, whatever the length of rule keys
MAX_VALUE_CHARS = 40  # a longer field value is kept as its digest: distinct values stay distinct, items small
COMPARE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
}
NUMERIC_TYPES = ("value_sum", "value_avg", "value_percentile", "value_median")  # over the field's numbers
COMMON_LOG_TIME = "%d/%b/%Y:%H:%M:%S %z"  # 06/Feb/2019:00:00:38 +0000 (S3 access, web servers)


@dataclass(frozen=True, slots=True)
class Input:
    """How one log type's records of one input rule feed a correlation: group-by paths, value_count's field."""

    group: tuple[str, ...]
    field: str | None = None


@dataclass(frozen=True)
class Spec:
    """One correlation as the compiler describes it (see the module docstring)."""

    key: str
    type: str
    rules: tuple[str, ...]
    group: tuple[str, ...]
    timespan: float
    condition: tuple[tuple[str, float], ...]
    inputs: Mapping[str, Mapping[str, Input]]
    meta: Mapping[str, Any] = field(default_factory=dict)  # title, level, description, tags, outputs
    expression: Any = None  # temporal: ["rule", key] | ["not", x] | ["and"|"or", [...]], tested per window
    percentile: float = 50.0  # value_percentile (value_median: 50)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Spec:
        condition = tuple((str(op), float(number)) for op, number in data.get("condition") or ())
        expression = data.get("expression")
        if not condition and expression is not None:
            condition = (("eq", 1.0),)  # the expression holds
        elif not condition and data["type"] in ("temporal", "temporal_ordered"):
            condition = (("gte", float(len(data["rules"]))),)  # every rule
        inputs = {
            rule: {log_type: Input(tuple(spec["group"]), spec.get("field")) for log_type, spec in by_type.items()}
            for rule, by_type in data["inputs"].items()
        }
        meta = {k: data[k] for k in ("title", "level", "description", "tags", "outputs") if k in data}
        percentile = float(data.get("percentile", 50))
        return cls(data["key"], data["type"], tuple(data["rules"]), tuple(data["group"]), float(data["timespan"]), condition, inputs, meta, expression, percentile)


@dataclass(frozen=True, slots=True)
class Observation:
    """One matched event as a correlation sees it."""

    event_id: str
    time: float  # epoch seconds
    rule: str
    group: tuple[str | None, ...]
    value: str | None = None
    origin: str | None = None  # the batch item it came from, failed if its group's state cannot be written


@dataclass
class FlushResult:
    """The correlation alerts of a flush (those that may be sent), and what was not counted."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    fired: int = 0  # windows that fired, sent or not (a correlation referred to by another does not send)
    late: int = 0  # events too late for their group (consumed window, or older than the timespan)
    failed_origins: set[str] = field(default_factory=set)  # items whose events' state could not be written
    errors: list[str] = field(default_factory=list)
    origins: dict[str, set[str]] = field(default_factory=dict)  # alert id -> items of its events in this batch


def event_time(record: Mapping[str, Any], paths: Sequence[str]) -> float | None:
    """Epoch seconds of the first of ``paths`` the record has with a usable time (ISO 8601, epoch seconds or
    milliseconds, numeric text, the common log format), else None."""
    for path in paths:
        value = get_field(record, path)
        if value is MISSING or value is None:
            continue
        stamp = timestamp_of(value)
        if stamp is None and isinstance(value, str):
            stamp = _text_time(value.strip().strip("[]"))
        if stamp is not None:
            return stamp.timestamp()
    return None


def _text_time(text: str) -> datetime | None:
    try:
        number = float(text)
    except ValueError:
        try:
            return datetime.strptime(text, COMMON_LOG_TIME).astimezone(UTC)
        except ValueError:
            return None
    return timestamp_of(number)


def _kept(text: str | None) -> str | None:
    """A field value as the state keeps it: itself, or past MAX_VALUE_CHARS its SHA-256 digest (no number is
    that long, so the value_* types lose nothing)."""
    if text is None or len(text) <= MAX_VALUE_CHARS:
        return text
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:24]


def _canonical(value: Any) -> str | None:
    """A group or field value as text: scalars as themselves, lists and maps as JSON, absent as None."""
    if value is MISSING or value is None:
        return None
    text = text_of(value)
    return text if text is not None else json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class Correlator:
    """Feeds matches to the correlations that take them and evaluates the touched groups once per flush."""

    def __init__(
        self,
        specs: Iterable[Spec],
        store: StateStore,
        time_fields: Mapping[str, Sequence[str]],
        suppressed: Iterable[str] = (),
    ) -> None:
        self.specs = list(specs)
        self.store = store
        self.time_fields = time_fields
        self.suppressed = frozenset(suppressed)
        self.by_input: dict[str, list[Spec]] = {}
        for spec in self.specs:
            for rule in spec.inputs:
                self.by_input.setdefault(rule, []).append(spec)
        self.pending: dict[str, dict[tuple[str | None, ...], list[Observation]]] = {}
        self.unconfirmed: dict[str, tuple[str, float]] = {}  # alert id -> (state key, window end)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], store: StateStore, schemas: Mapping[str, Any]) -> Correlator:
        """Build from the compiler's ``correlations.json`` and the package's schemas (their timestamp fields)."""
        time_fields = {name: tuple(view.get("timestamp") or ()) for name, view in (schemas.get("log_types") or {}).items()}
        specs = [Spec.from_dict(item) for item in config.get("correlations") or ()]
        return cls(specs, store, time_fields, config.get("suppressed") or ())

    def takes(self, rule: str) -> bool:
        """Does a correlation count the matches of ``rule``?"""
        return rule in self.by_input

    def alerts_alone(self, rule: str) -> bool:
        """Does ``rule`` alert on its own (not referred to by a correlation, or one with ``generate: true``)?"""
        return rule not in self.suppressed

    def observe(
        self, log_type: str, rule: str, record: Mapping[str, Any], event_id: str | None = None, origin: str | None = None
    ) -> str | None:
        """Count a match of ``rule`` on ``record`` for the correlations that take it; return why it was not
        counted (no usable event time), else None."""
        specs = self.by_input.get(rule)
        if not specs:
            return None
        when = event_time(record, self.time_fields.get(log_type, ()))
        if when is None:
            fields = ", ".join(self.time_fields.get(log_type, ())) or "none"
            return f"rule {rule}: the {log_type} record has no usable event time (timestamp fields: {fields}); not counted by its correlations"
        event_id = event_id or alert_id(rule, record)
        self._add(specs, log_type, rule, record, event_id, when, origin)
        return None

    def _add(
        self, specs: list[Spec], log_type: str, rule: str, record: Mapping[str, Any], event_id: str, when: float, origin: str | None
    ) -> None:
        for spec in specs:
            source = spec.inputs[rule].get(log_type)
            if source is None:
                continue
            group = tuple(_canonical(get_field(record, path)) for path in source.group)
            value = _kept(_canonical(get_field(record, source.field))) if source.field else None
            self.pending.setdefault(spec.key, {}).setdefault(group, []).append(Observation(event_id, when, rule, group, value, origin))

    def flush(self) -> FlushResult:
        """Evaluate every group this batch touched (one store update each); chained correlations follow."""
        result = FlushResult()
        for spec in self.specs:  # the compiler orders them: a correlation after those it takes
            groups = self.pending.pop(spec.key, {})
            for group, observations in groups.items():
                key = _state_key(spec.key, group)
                origins = {o.origin for o in observations if o.origin is not None}
                try:
                    fired, late = self.store.update(key, functools.partial(advance, spec, observations=observations))
                except StateError as exc:
                    result.failed_origins |= origins
                    result.errors.append(f"correlation {spec.key}: {exc}")
                    continue
                result.late += late
                for window in fired:
                    result.fired += 1
                    alert = correlation_alert(spec, group, window)
                    self.unconfirmed[alert["alert_id"]] = (key, window["end"])
                    result.origins[alert["alert_id"]] = origins
                    if spec.key in self.by_input:
                        self._add(self.by_input[spec.key], CORRELATION_LOG_TYPE, spec.key, alert["record"], alert["alert_id"], window["end"], None)
                    if self.alerts_alone(spec.key):
                        result.alerts.append(alert)
                    else:
                        self.unconfirmed.pop(alert["alert_id"])  # fed to the correlations that take it: done
        for stale in [a for a in self.unconfirmed if a not in result.origins]:
            del self.unconfirmed[stale]
        return result

    def confirm(self, alert_ids: Iterable[str]) -> list[str]:
        """Forget the windows whose alerts were delivered (or dead-lettered), so a later batch does not send
        them again; return the errors of state that could not be written (the alert may be sent twice)."""
        by_key: dict[str, set[float]] = {}
        for sent in alert_ids:
            if sent in self.unconfirmed:
                key, end = self.unconfirmed.pop(sent)
                by_key.setdefault(key, set()).add(end)
        errors = []
        for key, ends in by_key.items():
            try:
                self.store.update(key, functools.partial(_confirming, ends=ends))
            except StateError as exc:
                errors.append(str(exc))
        return errors


def _confirming(doc: dict[str, Any] | None, ends: set[float]) -> tuple[dict[str, Any] | None, None]:
    """A state change (`runtime.state.Change`): `_confirmed`, with nothing to return."""
    return _confirmed(doc, ends), None


def _confirmed(doc: dict[str, Any] | None, ends: set[float]) -> dict[str, Any] | None:
    if doc is None:
        return None
    return {**doc, "outbox": [w for w in doc.get("outbox", ()) if w["end"] not in ends]}


def _state_key(correlation: str, group: tuple[str | None, ...]) -> str:
    digest = hashlib.sha256(json.dumps(group, separators=(",", ":")).encode()).hexdigest()[:32]
    return f"correlation:{correlation}:{digest}"


def advance(spec: Spec, doc: dict[str, Any] | None, observations: list[Observation]) -> tuple[dict[str, Any], tuple[list[dict[str, Any]], int]]:
    """One group's state after a batch's observations: (new document, (windows to send, late events)).

    The document: ``events`` ``[[event id, time, rule, value], ...]`` sorted by time, ``done`` the end of
    the last window that fired (None before), ``newest`` the latest event time seen, ``outbox`` the
    windows that fired and whose alerts are not confirmed sent yet (returned again to a batch holding
    their events: the retry of a batch whose alert was not delivered), and ``expires`` when the state
    may be dropped.
    """
    doc = doc or {}
    kept = {e[0]: e for e in doc.get("events", ())}
    done, newest = doc.get("done"), doc.get("newest")
    late, new_ids = 0, set()
    for o in sorted(observations, key=lambda o: o.time):
        if o.event_id in kept or o.event_id in new_ids:
            continue  # counted already (a retried batch, or the same event twice)
        if (done is not None and o.time <= done) or (newest is not None and o.time < newest - spec.timespan):
            late += 1
            continue
        kept[o.event_id] = [o.event_id, o.time, o.rule, o.value]
        new_ids.add(o.event_id)
        newest = o.time if newest is None else max(newest, o.time)
    order = {rule: i for i, rule in enumerate(spec.rules)}
    events = sorted(kept.values(), key=lambda e: (e[1], order.get(e[2], 0), e[0]))
    fired = []
    times = [e[1] for e in events]
    for end in sorted(set(times)):
        if done is not None and end <= done:
            continue
        low = bisect.bisect_left(times, end - spec.timespan)
        if done is not None:
            low = max(low, bisect.bisect_right(times, done))
        window = events[low : bisect.bisect_right(times, end)]
        if not any(e[0] in new_ids for e in window):
            continue  # evaluated with an earlier batch, unchanged since
        value = aggregate(spec, window)
        if value is not None and all(COMPARE[op](value, number) for op, number in spec.condition):
            fired.append(_window(window, value, end))
            done = end
    floor = (newest - 2 * spec.timespan) if newest is not None else None
    events = _bounded([e for e in events if (done is None or e[1] > done) and (floor is None or e[1] >= floor)])
    earlier = list(doc.get("outbox", ()))
    again = [w for w in earlier if any(_in_window(o, w) for o in observations)]  # a retry of its events
    expires = None if newest is None else newest + 2 * spec.timespan
    return {"events": events, "done": done, "newest": newest, "outbox": [*earlier, *fired], "expires": expires}, ([*again, *fired], late)


def _bounded(events: list[list[Any]]) -> list[list[Any]]:
    """The newest events within MAX_KEPT and MAX_KEPT_BYTES (each event's JSON size, estimated)."""
    size, start = 0, len(events)
    while start > 0 and len(events) - start < MAX_KEPT:
        event = events[start - 1]
        size += len(event[0]) + len(event[2]) + len(event[3] or "") + 36
        if size > MAX_KEPT_BYTES:
            break
        start -= 1
    return events[start:]


def _in_window(observation: Observation, window: Mapping[str, Any]) -> bool:
    """Did this observation contribute to a window that fired (its id, or its time when ids were cut)?"""
    if observation.event_id in window["event_ids"]:
        return True
    return window["events"] > len(window["event_ids"]) and window["start"] <= observation.time <= window["end"]


def aggregate(spec: Spec, window: list[list[Any]]) -> int | float | None:
    """The number the condition tests: events, distinct values, distinct rules, rules in order, or the sum,
    mean, percentile or median of the field's numeric values (None, which no condition accepts, when the
    window holds none)."""
    if spec.type == "event_count":
        return len(window)
    if spec.type == "value_count":
        return len({e[3] for e in window if e[3] is not None})
    if spec.type in NUMERIC_TYPES:
        numbers = sorted(n for n in (_number(e[3]) for e in window) if n is not None)
        if not numbers:
            return None
        if spec.type == "value_sum":
            return _tidy(math.fsum(numbers))
        if spec.type == "value_avg":
            return _tidy(math.fsum(numbers) / len(numbers))
        return _tidy(percentile(numbers, 50.0 if spec.type == "value_median" else spec.percentile))
    if spec.type == "temporal":
        seen = {e[2] for e in window}
        return int(holds(spec.expression, seen)) if spec.expression is not None else len(seen)
    reached = 0  # temporal_ordered: the longest prefix of the rules that occurs in order
    for event in window:
        if reached < len(spec.rules) and event[2] == spec.rules[reached]:
            reached += 1
    return reached


def _number(text: str | None) -> float | None:
    """A field value as a finite number (numbers and numeric text), else None: not counted by the numeric types."""
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _tidy(number: float) -> int | float:
    """A whole number as an int (alerts read ``count: 1500``, not ``1500.0``)."""
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def percentile(numbers: Sequence[float], which: float) -> float:
    """The ``which``-th percentile (0 to 100) of sorted ``numbers``, interpolated linearly between the two
    closest ranks (NumPy's default, and the median for 50): rank ``which / 100 * (n - 1)`` counted from 0."""
    rank = which / 100 * (len(numbers) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(numbers) - 1)
    return numbers[low] + (numbers[high] - numbers[low]) * (rank - low)


def holds(expression: Any, seen: set[str]) -> bool:
    """Does a temporal condition expression hold for the rules seen in a window?"""
    op, arg = expression
    if op == "rule":
        return arg in seen
    if op == "not":
        return not holds(arg, seen)
    results = (holds(item, seen) for item in arg)
    return all(results) if op == "and" else any(results)


def _window(window: list[list[Any]], value: int | float, end: float) -> dict[str, Any]:
    return {
        "value": value,
        "events": len(window),
        "event_ids": [e[0] for e in window[:MAX_EVENT_IDS]],
        "rules": sorted({e[2] for e in window}),
        "start": window[0][1],
        "end": end,
    }


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def correlation_alert(spec: Spec, group: tuple[str | None, ...], window: Mapping[str, Any]) -> dict[str, Any]:
    """The alert of a window that fired: its record holds the group values by name (title placeholders
    read them) and ``correlation``: type, count, first and last event time, and the contributing ids."""
    record: dict[str, Any] = dict(zip(spec.group, group, strict=True))
    record["correlation"] = {
        "type": spec.type,
        "count": window["value"],
        "events": window["events"],
        "event_ids": list(window["event_ids"]),
        "rules": list(window["rules"]),
        "first_time": _iso(window["start"]),
        "last_time": _iso(window["end"]),
        "timespan_seconds": spec.timespan,
    }
    return build_alert(spec.key, spec.meta, CORRELATION_LOG_TYPE, CORRELATION_LOG_TYPE, record)
