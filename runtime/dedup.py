"""dedup (Sigil's extension, StreamAlert's merger): one alert at once, the rest of a window merged into one.

A rule with ``dedup: {keys, window}`` sends its first alert for given key values at once and opens a
window of ``window`` seconds from that alert's event time (its log type's timestamp, else the time it
was processed). Later alerts of the rule with the same key values and an event time inside the window
are not sent; they are merged into one follow-up alert (how many, first and last time, a bounded sample
of their records), sent when the window closes: when an alert for those keys falls after the window
(a new window opens), when a flush finds the window past (the Lambda's schedule), or at the end of
``sigil replay``. An alert id already merged is not merged again, nor one of an earlier window of the same
keys (the last 200 remembered), so a retried batch changes nothing.

On the Lambda a batch's alerts are admitted together (`Deduper.admit_all`): each key's alerts, in the
order they were built, change its state in one update, so a batch writes each key at most once. When
that write fails (throttling), none of the key's alerts is sent and the batch items holding them are
retried; when a first alert or a follow-up is not delivered, the item of the alert that produced it is
retried, and the retry sends it again: the window's first alert admitted again is sent again, with the
follow-up of the window it closed (kept in the state for that), and outputs drop repeated alert ids.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runtime.alerts import build_alert, canonical_json
from runtime.fields import MISSING, get_field
from runtime.state import StateError, StateStore

PREFIX = "dedup:"
MAX_SAMPLE = 10  # merged records a follow-up carries
MAX_SAMPLE_BYTES = 64_000  # and at most this much of them as JSON: a window's state stays far below DynamoDB's 400 KB item
MAX_IDS = 1000  # merged alert ids remembered per window (a retry of an older one may be merged twice)
MAX_EARLIER = 200  # ids of the alerts of earlier windows of the key remembered, to know their retries


@dataclass
class Admission:
    """Whether to send an alert now, and the follow-ups of windows it closed."""

    send: bool
    follow_ups: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Pending:
    """An alert of a dedup rule waiting for the end of its batch."""

    alert: Mapping[str, Any]
    dedup: Mapping[str, Any]
    when: float  # event time (else the time it was processed)
    origin: str | None = None  # the batch item it came from


@dataclass
class BatchAdmission:
    """What a batch's dedup alerts send: the alerts (first alerts and follow-ups, in order), the items
    whose keys' state could not be written, and per alert sent the item to retry if it is not delivered."""

    alerts: list[dict[str, Any]] = field(default_factory=list)
    merged: int = 0
    failed_origins: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    origins: dict[str, set[str]] = field(default_factory=dict)


def state_key(rule_id: str, values: list[Any]) -> str:
    digest = hashlib.sha256(canonical_json({"v": values}).encode()).hexdigest()[:32]
    return f"{PREFIX}{rule_id}:{digest}"


class Deduper:
    """Admits the alerts of dedup rules through the state store and builds the follow-ups."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def admit(self, alert: Mapping[str, Any], dedup: Mapping[str, Any], when: float) -> Admission:
        """Decide for one alert of a rule with ``dedup`` metadata (``keys``, ``window_seconds``) at event time ``when``."""
        key, header = _key(alert, dedup)
        return self.store.update(key, lambda doc: _admit(doc, alert, header, float(dedup["window_seconds"]), when))

    def admit_all(self, pending: list[Pending]) -> BatchAdmission:
        """Admit a batch's alerts: one state update per key (see the module docstring)."""
        by_key: dict[str, list[tuple[Pending, dict[str, Any]]]] = {}
        for item in pending:
            key, header = _key(item.alert, item.dedup)
            by_key.setdefault(key, []).append((item, header))
        result = BatchAdmission()
        decisions: dict[int, Admission] = {}  # by id() of the Pending: the alerts go out in the batch's order
        for key, items in by_key.items():
            try:
                decided = self.store.update(key, functools.partial(_admit_each, items=items))
            except StateError as exc:
                result.failed_origins |= {item.origin for item, _ in items if item.origin is not None}
                result.errors.append(f"dedup {items[0][0].alert['rule_id']}: {exc}")
                continue
            decisions.update((id(item), admission) for (item, _), admission in zip(items, decided, strict=True))
        for item in pending:
            admission = decisions.get(id(item))
            if admission is None:
                continue
            result.merged += not admission.send
            for alert in [*admission.follow_ups, *([dict(item.alert)] if admission.send else [])]:
                result.alerts.append(alert)
                result.origins.setdefault(alert["alert_id"], set()).update({item.origin} if item.origin is not None else ())
        return result

    def due(self, now: float | None) -> list[tuple[str, str, dict[str, Any] | None]]:
        """The windows that ended before ``now`` (every window: None): (state key, first alert id, follow-up
        or None when nothing was merged). They stay stored until `close`, so a follow-up that cannot be
        delivered is found again by the next flush."""
        found = []
        for key in self.store.scan(PREFIX):
            doc = self.store.update(key, lambda d: (d, d))  # a read: an unchanged document is not written
            if doc is not None and (now is None or doc["end"] < now):
                found.append((key, doc["first_id"], follow_up(doc) if doc["merged"] else None))
        return found

    def close(self, key: str, first_id: str) -> None:
        """Drop a window whose follow-up was sent (unless a new window replaced it meanwhile)."""
        self.store.update(key, lambda d: (None if d is not None and d["first_id"] == first_id else d, None))

    def flush(self, now: float | None) -> list[dict[str, Any]]:
        """Close every window that ended before ``now`` (every window: None) and return their follow-ups."""
        follow_ups = []
        for key, first_id, alert in self.due(now):
            self.close(key, first_id)
            if alert is not None:
                follow_ups.append(alert)
        return follow_ups


def _value(value: Any) -> Any:
    return None if value is MISSING else value


def _key(alert: Mapping[str, Any], dedup: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The state key of an alert's dedup window, and what a new window records of it."""
    values = [_value(get_field(alert["record"], path)) for path in dedup["keys"]]
    header = {
        "rule_id": alert["rule_id"],
        "keys": dict(zip(dedup["keys"], values, strict=True)),
        "alert": {k: v for k, v in alert.items() if k != "record"},
    }
    return state_key(alert["rule_id"], values), header


def _admit_each(doc: dict[str, Any] | None, items: list[tuple[Pending, dict[str, Any]]]):
    """One key's alerts of a batch admitted in order: (the new document, each one's Admission)."""
    decided = []
    for item, header in items:
        doc, admission = _admit(doc, item.alert, header, float(item.dedup["window_seconds"]), item.when)
        decided.append(admission)
    return doc, decided


def _admit(doc: dict[str, Any] | None, alert: Mapping[str, Any], header: dict[str, Any], window: float, when: float):
    alert_id = alert["alert_id"]
    if doc is not None and alert_id == doc["first_id"]:  # a retry of the window's first alert: send it again,
        return doc, Admission(send=True, follow_ups=[doc["closed"]] if doc.get("closed") else [])  # outputs dedupe by id
    if doc is not None and alert_id in doc["merged_ids"]:
        return doc, Admission(send=False)  # merged already
    if doc is not None and alert_id in doc.get("earlier_firsts", ()):
        return doc, Admission(send=True)  # a retry of an earlier window's first alert: sent again, not merged
    if doc is not None and alert_id in doc.get("earlier_merged", ()):
        return doc, Admission(send=False)  # a retry of an alert an earlier window merged
    if doc is not None and when <= doc["end"]:
        merged = doc["merged"]
        doc = {
            **doc,
            "merged": merged + 1,
            "first": when if merged == 0 else min(doc["first"], when),
            "last": when if merged == 0 else max(doc["last"], when),
            "sample": _sampled(doc["sample"], alert["record"]),
            "merged_ids": [*doc["merged_ids"], alert_id][-MAX_IDS:],
        }
        return doc, Admission(send=False)
    follow_ups = [follow_up(doc)] if doc is not None and doc["merged"] else []
    opened = {
        **header, "start": when, "end": when + window, "expires": when + 2 * window, "first_id": alert_id,
        "merged": 0, "first": when, "last": when, "sample": [], "merged_ids": [],
        "closed": follow_ups[0] if follow_ups else None,  # sent again with a retry of this first alert
        "earlier_firsts": [*doc.get("earlier_firsts", ()), doc["first_id"]][-MAX_EARLIER:] if doc else [],
        "earlier_merged": [*doc.get("earlier_merged", ()), *doc["merged_ids"]][-MAX_EARLIER:] if doc else [],
    }
    return opened, Admission(send=True, follow_ups=follow_ups)


def _sampled(sample: list[Any], record: Any) -> list[Any]:
    """The sample with ``record`` added, unless it holds MAX_SAMPLE records or would pass MAX_SAMPLE_BYTES."""
    if len(sample) >= MAX_SAMPLE:
        return sample
    grown = [*sample, record]
    return grown if len(canonical_json({"s": grown})) <= MAX_SAMPLE_BYTES else sample


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def follow_up(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The alert merging a window's later matches: the first alert's fields, and a record holding the key
    values and ``dedup``: the count, first and last event time, the window and a sample of the records."""
    first = doc["alert"]
    record = {
        **doc["keys"],
        "dedup": {
            "count": doc["merged"],
            "first_time": _iso(doc["first"]),
            "last_time": _iso(doc["last"]),
            "window_start": _iso(doc["start"]),
            "window_end": _iso(doc["end"]),
            "first_alert_id": doc["first_id"],
            "sample": list(doc["sample"]),
        },
    }
    meta = {"title": f"{first.get('title')} (+{doc['merged']} merged)", **{k: first[k] for k in ("level", "tags", "outputs") if k in first}}
    alert = build_alert(doc["rule_id"], meta, str(first.get("log_type")), str(first.get("source")), record)
    if first.get("context"):
        alert["context"] = first["context"]
    return alert

