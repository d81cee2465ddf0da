"""Choose the log type of a record from the ``schemas.json`` view: required fields, then priority."""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime import parsers
from runtime.helpers import MISSING, get_field

DEFAULT_PRIORITY = sys.maxsize  # log types without a priority come after every prioritized one
MAX_REASONS = 5


@dataclass(frozen=True, slots=True)
class LogType:
    """One entry of ``schemas.json``: how to parse the payload and which fields a record must have."""

    name: str
    parser: Mapping[str, Any]
    required: tuple[str, ...]
    priority: int = DEFAULT_PRIORITY

    def missing(self, record: Mapping[str, Any]) -> list[str]:
        """Return the required field paths absent from ``record``."""
        return [path for path in self.required if get_field(record, path) is MISSING]


@dataclass(frozen=True, slots=True)
class Classification:
    """The chosen log type of one record, or None and the reason nothing fitted."""

    log_type: str | None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Payload:
    """The records parsed out of one raw payload with their classifications, or why none could be parsed."""

    records: list[tuple[dict[str, Any], Classification]] = field(default_factory=list)
    error: str | None = None


class Classifier:
    """Classify records against the log types of a ``schemas.json`` view, best priority first."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        entries = schemas.get("log_types", {})
        self.log_types: tuple[LogType, ...] = tuple(
            sorted(
                (_log_type(name, spec) for name, spec in entries.items()), key=lambda t: (t.priority, t.name)
            )
        )
        self.parser_groups: tuple[tuple[Mapping[str, Any], tuple[str, ...]], ...] = _group_by_parser(
            self.log_types
        )

    def classify(self, record: Mapping[str, Any], among: Collection[str] | None = None) -> Classification:
        """Return the first log type (priority, then name) whose required fields are all in ``record``."""
        misses: list[str] = []
        for log_type in self.log_types:
            if among is not None and log_type.name not in among:
                continue
            missing = log_type.missing(record)
            if not missing:
                return Classification(log_type.name)
            misses.append(f"{log_type.name} lacks {', '.join(missing)}")
        if not misses:
            return Classification(None, "no log types to classify against")
        more = f"; and {len(misses) - MAX_REASONS} more" if len(misses) > MAX_REASONS else ""
        return Classification(None, "no log type fits: " + "; ".join(misses[:MAX_REASONS]) + more)

    def classify_payload(self, raw: bytes) -> Payload:
        """Parse ``raw`` with each distinct parser in priority order; the first that yields a classified record wins.

        When parsers succeed but no record classifies, the records of the first one are returned with their
        reasons; when every parser fails, ``error`` holds each parser's reason.
        """
        errors: list[str] = []
        fallback: Payload | None = None
        for config, names in self.parser_groups:
            try:
                records = parsers.parse(raw, config)
            except parsers.ParseError as exc:
                errors.append(f"{'/'.join(names)}: {exc}")
                continue
            payload = Payload([(record, self.classify(record, names)) for record in records])
            if any(result.log_type for _, result in payload.records):
                return payload
            if fallback is None:
                fallback = payload
        if fallback is not None:
            return fallback
        return Payload(error="; ".join(errors) or "no log types to parse with")


def _log_type(name: str, spec: Mapping[str, Any]) -> LogType:
    """Build a LogType from its ``schemas.json`` entry."""
    return LogType(
        name=name,
        parser=dict(spec.get("parser") or {"type": "json"}),
        required=tuple(spec.get("required", ())),
        priority=int(spec.get("priority", DEFAULT_PRIORITY)),
    )


def _group_by_parser(log_types: tuple[LogType, ...]) -> tuple[tuple[Mapping[str, Any], tuple[str, ...]], ...]:
    """Group log types sharing one parser config, ordered by their best member."""
    groups: dict[str, tuple[Mapping[str, Any], list[str]]] = {}
    for log_type in log_types:
        key = json.dumps(log_type.parser, sort_keys=True, default=str)
        groups.setdefault(key, (log_type.parser, []))[1].append(log_type.name)
    return tuple((config, tuple(names)) for config, names in groups.values())
