"""Build alert documents; the id is stable so that a retried batch republishes the same alerts.

Alerts are valid JSON: a NaN or infinite number in a record (JSON logs may hold ``NaN`` and ``Infinity``,
which JSON itself does not allow) is written as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from runtime.helpers import MISSING, get_field

MISSING_TEXT = "<missing>"
OCSF_VERSION = "1.3.0"
PRODUCT = {"name": "Sigil", "vendor_name": "Sigil"}
SEVERITY_IDS = {"informational": 1, "low": 2, "medium": 3, "high": 4, "critical": 5}
SEVERITY_NAMES = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical"}
NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")
_TECHNIQUE = re.compile(r"^attack\.(t\d{4})(?:\.(\d{3}))?$", re.IGNORECASE)


def canonical_json(record: Mapping[str, Any]) -> str:
    """Serialize ``record`` canonically: sorted keys, no spaces, non-JSON values as ``str``, non-finite
    numbers as their names (see `json_safe`): always valid JSON."""
    try:
        return json.dumps(record, sort_keys=True, separators=(",", ":"), default=str, allow_nan=False)
    except ValueError:  # a NaN or an infinity: JSON has no literal for them
        return json.dumps(json_safe(record), sort_keys=True, separators=(",", ":"), default=str, allow_nan=False)


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by its name as a string; the same object when
    it holds none (containers are copied only where something changed)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else NON_FINITE[str(value)]
    if isinstance(value, dict):
        items = [(key, json_safe(item)) for key, item in value.items()]
        return value if all(new is value[key] for key, new in items) else dict(items)
    if isinstance(value, list | tuple):
        safe = [json_safe(item) for item in value]
        return value if all(new is old for new, old in zip(safe, value, strict=True)) else safe
    return value


def alert_id(rule_id: str, record: Mapping[str, Any]) -> str:
    """Return the sha256 hex digest of the rule id, a newline and the canonical JSON of the record."""
    return hashlib.sha256(f"{rule_id}\n{canonical_json(record)}".encode()).hexdigest()


def build_alert(
    rule_id: str,
    rule: Mapping[str, Any],
    log_type: str,
    source: str,
    record: Mapping[str, Any],
    *,
    title: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the alert document for ``record`` matched by ``rule_id`` (``rule`` is its RULES metadata).

    The title (and description) are rendered from the rule's templates unless a title hook's result is
    passed as ``title``; ``context`` (a context hook's result) is merged over the rule's context fields.
    Optional keys (description, tags, outputs, context) appear only when they have content. The record
    and the context are made JSON-safe (`json_safe`) first.
    """
    record = json_safe(record)
    alert: dict[str, Any] = {
        "alert_id": alert_id(rule_id, record),
        "rule_id": rule_id,
        "title": title if title is not None else render_title(str(rule.get("title", rule_id)), record),
        "level": rule.get("level"),
        "log_type": log_type,
        "source": source,
        "record": record,
    }
    if rule.get("description"):
        alert["description"] = render_title(str(rule["description"]), record)
    for key in ("tags", "outputs"):
        if rule.get(key):
            alert[key] = list(rule[key])
    fields = json_safe({**context_fields(rule.get("context") or (), record), **(context or {})})
    if fields:
        alert["context"] = fields
    return alert


def context_fields(spec: Sequence[Any] | Mapping[str, str], record: Mapping[str, Any]) -> dict[str, Any]:
    """Copy record fields into a context mapping; ``spec`` is paths, ``[name, path]`` pairs or name → path."""
    pairs = spec.items() if isinstance(spec, Mapping) else (_pair(item) for item in spec)
    found = {name: get_field(record, path) for name, path in pairs}
    return {name: value for name, value in found.items() if value is not MISSING}


def _pair(item: Any) -> tuple[str, str]:
    """Return (name, path) for a context entry given as a path or a [name, path] pair."""
    if isinstance(item, str):
        return item, item
    name, path = item
    return str(name), str(path)


def render_title(template: str, record: Mapping[str, Any]) -> str:
    """Replace each ``{field.path}`` with the record's value (``<missing>`` if absent); ``{{``/``}}`` are braces.

    A brace that opens no well-formed placeholder is kept literally, so a bad template never fails an alert.
    """

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return _text(get_field(record, match.group(1).strip()))

    return _PLACEHOLDER.sub(replace, template)


def _text(value: Any) -> str:
    """Render one field value for a title: strings as is, containers as compact JSON."""
    if value is MISSING:
        return MISSING_TEXT
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def severity_id(level: object) -> int:
    """Map a Sigma level to an OCSF severity_id (0 Unknown for anything else)."""
    return SEVERITY_IDS.get(str(level).lower(), 0) if level else 0


def to_ocsf(alert: Mapping[str, Any], *, time_ms: int | None = None) -> dict[str, Any]:
    """Return the alert as an OCSF 1.3.0 Detection Finding (class 2004, activity Create).

    ``time_ms`` defaults to the alert's ``time`` (epoch ms) if it has one, else now. The matched record is
    the finding's evidence; Sigil's own fields go to ``unmapped``.
    """
    severity = severity_id(alert.get("level"))
    when = time_ms if time_ms is not None else int(alert.get("time") or time.time() * 1000)
    finding: dict[str, Any] = {
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": severity,
        "severity": SEVERITY_NAMES[severity],
        "status_id": 1,
        "status": "New",
        "time": when,
        "message": alert.get("title"),
        "finding_info": _finding_info(alert),
        "metadata": {"product": dict(PRODUCT), "version": OCSF_VERSION, "log_name": alert.get("log_type")},
        "evidences": [{"data": alert.get("record")}],
        "unmapped": {
            key: alert[key]
            for key in ("log_type", "source", "context", "outputs")
            if alert.get(key) is not None
        },
    }
    return finding


def _finding_info(alert: Mapping[str, Any]) -> dict[str, Any]:
    """Return finding_info: the alert id as uid, the rule as the analytic, tags as types, ATT&CK techniques."""
    tags = [str(tag) for tag in alert.get("tags") or ()]
    info: dict[str, Any] = {
        "uid": alert["alert_id"],
        "title": alert.get("title"),
        "desc": alert.get("description") or alert.get("title"),
        "analytic": {"uid": alert["rule_id"], "name": alert.get("title"), "type_id": 1, "type": "Rule"},
    }
    if tags:
        info["types"] = tags
    attacks = [attack for attack in map(_attack, tags) if attack is not None]
    if attacks:
        info["attacks"] = attacks
    return info


def _attack(tag: str) -> dict[str, Any] | None:
    """Return an OCSF attack object for an ``attack.tNNNN[.NNN]`` tag, else None."""
    match = _TECHNIQUE.match(tag)
    if match is None:
        return None
    technique = match.group(1).upper()
    attack: dict[str, Any] = {"technique": {"uid": technique}}
    if match.group(2):
        attack["sub_technique"] = {"uid": f"{technique}.{match.group(2)}"}
    return attack
