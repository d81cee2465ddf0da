"""dedup (Sigil's extension, StreamAlert's merger): one alert at once, the rest of a window merged into one.

A rule with ``dedup: {keys, window}`` sends its first alert for given key values at once and opens a
window of ``window`` seconds from that alert's event time (its log type's timestamp, else the time it
was processed). Later alerts of the rule with the same key values and an event time inside the window
are not sent; they are merged into one follow-up alert (how many, first and last time, a bounded sample
of their records), sent when the window closes: when an alert for those keys falls after the window
(a new window opens), when a flush finds the window past (the Lambda's schedule), or at the end of
``sigil replay``. An alert id already merged is not merged again, so a retried batch changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from runtime.alerts import build_alert, canonical_json
from runtime.fields import MISSING, get_field
from runtime.state import StateStore

PREFIX = "dedup:"
MAX_SAMPLE = 10  # merged records a follow-up carries
MAX_IDS = 1000  # merged alert ids remembered per window (a retry of an older one may be merged twice)


@dataclass
class Admission:
    """Whether to send an alert now, and the follow-ups of windows it closed."""

    send: bool
    follow_ups: list[dict[str, Any]] = field(default_factory=list)


def state_key(rule_id: str, values: list[Any]) -> str:
    digest = hashlib.sha256(canonical_json({"v": values}).encode()).hexdigest()[:32]
    return f"{PREFIX}{rule_id}:{digest}"


class Deduper:
    """Admits the alerts of dedup rules through the state store and builds the follow-ups."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def admit(self, alert: Mapping[str, Any], dedup: Mapping[str, Any], when: float) -> Admission:
        """Decide for one alert of a rule with ``dedup`` metadata (``keys``, ``window_seconds``) at event time ``when``."""
        record = alert["record"]
        values = [_value(get_field(record, path)) for path in dedup["keys"]]
        key = state_key(alert["rule_id"], values)
        header = {
            "rule_id": alert["rule_id"],
            "keys": dict(zip(dedup["keys"], values, strict=True)),
            "alert": {k: v for k, v in alert.items() if k != "record"},
        }
        return self.store.update(key, lambda doc: _admit(doc, alert, header, float(dedup["window_seconds"]), when))

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


def _admit(doc: dict[str, Any] | None, alert: Mapping[str, Any], header: dict[str, Any], window: float, when: float):
    alert_id = alert["alert_id"]
    if doc is not None and alert_id == doc["first_id"]:
        return doc, Admission(send=True)  # a retry of the window's first alert: send again (outputs dedupe by id)
    if doc is not None and alert_id in doc["merged_ids"]:
        return doc, Admission(send=False)  # merged already
    if doc is not None and when <= doc["end"]:
        merged = doc["merged"]
        doc = {
            **doc,
            "merged": merged + 1,
            "first": when if merged == 0 else min(doc["first"], when),
            "last": when if merged == 0 else max(doc["last"], when),
            "sample": [*doc["sample"], alert["record"]][:MAX_SAMPLE],
            "merged_ids": [*doc["merged_ids"], alert_id][-MAX_IDS:],
        }
        return doc, Admission(send=False)
    follow_ups = [follow_up(doc)] if doc is not None and doc["merged"] else []
    opened = {
        **header, "start": when, "end": when + window, "expires": when + 2 * window, "first_id": alert_id,
        "merged": 0, "first": when, "last": when, "sample": [], "merged_ids": [],
    }
    return opened, Admission(send=True, follow_ups=follow_ups)


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

