"""Trigger PagerDuty incidents through Events API v2, deduplicated by alert id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runtime.alerts import canonical_json
from runtime.outputs.base import Output
from runtime.outputs.text import cut, level

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITIES = {
    "critical": "critical",
    "high": "error",
    "medium": "warning",
    "low": "info",
    "informational": "info",
}
DEFAULT_SEVERITY = "warning"
SUMMARY_LIMIT = 1024
PAYLOAD_LIMIT = 512 * 1024
RECORD_PREVIEW = 16 * 1024


def event(alert: Mapping[str, Any], routing_key: str) -> dict[str, Any]:
    """Return the v2 trigger event; the record moves to a preview when the event would exceed 512 KB."""
    details: dict[str, Any] = {
        "alert_id": alert.get("alert_id"),
        "rule_id": alert.get("rule_id"),
        "level": alert.get("level"),
        "context": alert.get("context"),
        "record": alert.get("record"),
    }
    body = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert["alert_id"],
        "client": "Sigil",
        "payload": {
            "summary": cut(str(alert.get("title")), SUMMARY_LIMIT),
            "source": cut(str(alert.get("source") or "sigil"), 255),
            "severity": SEVERITIES.get(level(alert), DEFAULT_SEVERITY),
            "component": alert.get("log_type"),
            "class": alert.get("rule_id"),
            "custom_details": details,
        },
    }
    if len(canonical_json(body)) > PAYLOAD_LIMIT:
        details["record"] = None
        details["record_preview"] = cut(canonical_json(alert.get("record") or {}), RECORD_PREVIEW)
    return body


class PagerDutyOutput(Output):
    """``pagerduty:NAME``: the secret holds ``routing_key`` (and optionally ``url`` for another region)."""

    service = "pagerduty"
    optional = frozenset({"secret"})

    def send(self, alert: Mapping[str, Any]) -> None:
        """Enqueue the event; PagerDuty merges a resend with the same dedup_key into the same incident."""
        fields = self.secret()
        routing_key = self.secret_field(fields, "routing_key")
        self.resources.http.post_json(
            fields.get("url") or EVENTS_URL, event(alert, routing_key), secrets=(routing_key,)
        )
