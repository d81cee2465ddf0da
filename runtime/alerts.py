"""Build alert documents; the id is stable so that a retried batch republishes the same alerts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def canonical_json(record: Mapping[str, Any]) -> str:
    """Serialize ``record`` canonically: sorted keys, no spaces, non-JSON values as ``str``."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)


def alert_id(rule_id: str, record: Mapping[str, Any]) -> str:
    """Return the sha256 hex digest of the rule id, a newline and the canonical JSON of the record."""
    return hashlib.sha256(f"{rule_id}\n{canonical_json(record)}".encode()).hexdigest()


def build_alert(
    rule_id: str, rule: Mapping[str, Any], log_type: str, source: str, record: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the alert document for ``record`` matched by ``rule_id`` (``rule`` is its RULES metadata)."""
    return {
        "alert_id": alert_id(rule_id, record),
        "rule_id": rule_id,
        "title": rule.get("title", rule_id),
        "level": rule.get("level"),
        "log_type": log_type,
        "source": source,
        "record": record,
    }
