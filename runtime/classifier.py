"""Choose the log type of each record from the ``schemas.json`` view.

Candidates are the log types a source may carry, best priority first (then name). A payload is parsed
once per distinct parser config; the first candidate accepting at least one record picks the parse, and
each of its records gets the first candidate of that parser that accepts it. A log type accepts a record
that has its ``required`` fields, matches its ``patterns`` (``{field: [glob, ...]}``, every field) and
whose values coerce to its field ``types``; the coerced record is the one matched.

A parser or a check that raises for a hostile payload or record (a bug, a value no code foresaw) is a
reason like any other: that candidate refuses it, and the pipeline quarantines what no candidate takes.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime import parsers
from runtime.helpers import MISSING, get_field
from runtime.logs import brief
from runtime.parsers.coerce import Field, Mismatch, coerce, field_tree
from runtime.values import texts

DEFAULT_PRIORITY = sys.maxsize  # log types without a priority come after every prioritized one
MAX_REASONS = 5


@dataclass(frozen=True, slots=True)
class LogType:
    """One entry of ``schemas.json``: how to parse payloads and which records belong to the log type."""

    name: str
    parser: Mapping[str, Any]
    required: tuple[str, ...]
    priority: int = DEFAULT_PRIORITY
    hints: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    fields: Mapping[str, Field] = field(default_factory=dict)
    parser_key: str = field(init=False, default="")

    def __post_init__(self) -> None:
        object.__setattr__(self, "parser_key", json.dumps(self.parser, sort_keys=True, default=str))

    def missing(self, record: Mapping[str, Any]) -> list[str]:
        """Return the required field paths absent from ``record``."""
        return [path for path in self.required if get_field(record, path) is MISSING]

    def accept(self, record: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        """Return ``(coerced record, "")`` when the record belongs to this log type, else ``(None, reason)``."""
        try:
            return self._accept(record)
        except Exception as exc:  # one hostile record must not take its payload, or the batch, down
            return None, f"{self.name}: checking the record raised {brief(exc)}"

    def _accept(self, record: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        missing = self.missing(record)
        if missing:
            return None, f"{self.name} lacks {', '.join(missing)}"
        for path, patterns in self.hints.items():
            values = texts(get_field(record, path))
            if not any(fnmatch.fnmatchcase(value, pattern) for value in values for pattern in patterns):
                return None, f"{self.name}: {path} matches none of {', '.join(patterns)}"
        if not self.fields:
            return record, ""
        try:
            return coerce(record, self.fields), ""
        except Mismatch as exc:
            return None, f"{self.name}: {exc}"


@dataclass(frozen=True, slots=True)
class Classification:
    """The chosen log type of one record, or None, the reason and each candidate's reason."""

    log_type: str | None
    reason: str = ""
    reasons: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Payload:
    """The records of one raw payload with their classifications, or why no candidate could parse it.

    ``records`` hold the coerced record of each classified one; when candidates parsed the payload but
    none accepted a record, they are the records of the first parse, each with every candidate's reason.
    ``error`` and ``reasons`` (one per candidate) say why no candidate could parse the payload at all.
    An empty ``records`` without ``error`` is a payload holding no record (a CSV header line,
    ``{"Records": []}``).
    """

    records: list[tuple[dict[str, Any], Classification]] = field(default_factory=list)
    error: str | None = None
    reasons: Mapping[str, str] = field(default_factory=dict)


class Classifier:
    """Classify payloads and records against the log types of a ``schemas.json`` view."""

    def __init__(self, schemas: Mapping[str, Any]) -> None:
        entries = schemas.get("log_types") or {}
        self.log_types: tuple[LogType, ...] = tuple(
            sorted((_log_type(name, spec) for name, spec in entries.items()), key=lambda t: (t.priority, t.name))
        )
        self.names: frozenset[str] = frozenset(t.name for t in self.log_types)
        self._candidates: dict[frozenset[str] | None, tuple[LogType, ...]] = {None: self.log_types}

    def candidates(self, among: Collection[str] | None = None) -> tuple[LogType, ...]:
        """Return the log types named in ``among`` (all when None), best priority first."""
        key = None if among is None else frozenset(among)
        found = self._candidates.get(key)
        if found is None:
            found = tuple(t for t in self.log_types if t.name in key)  # type: ignore[operator]
            self._candidates[key] = found
        return found

    def classify(self, record: dict[str, Any], among: Collection[str] | None = None) -> Classification:
        """Return the first candidate accepting ``record``, or None with each candidate's reason."""
        return _first_accepting(record, self.candidates(among))[1]

    def classify_payload(
        self, raw: bytes, among: Collection[str] | None = None, header: bytes | None = None
    ) -> Payload:
        """Parse ``raw`` and classify its records among the candidates (see the module docstring)."""
        candidates = self.candidates(among)
        if not candidates:
            return Payload(error="no log types are allowed for this source")
        parses: dict[str, list[dict[str, Any]] | parsers.ParseError] = {}
        reasons: dict[str, str] = {}
        empty = False
        first_parsed: tuple[str, list[dict[str, Any]]] | None = None
        for index, log_type in enumerate(candidates):
            parsed = parses.get(log_type.parser_key)
            if parsed is None:
                parsed = _parse(raw, log_type.parser, header)
                parses[log_type.parser_key] = parsed
            if isinstance(parsed, parsers.ParseError):
                reasons[log_type.name] = f"{log_type.name}: {parsed}"
                continue
            if not parsed:
                empty = True
                reasons[log_type.name] = f"{log_type.name}: no records"
                continue
            first_parsed = first_parsed or (log_type.parser_key, parsed)
            results = [_first_accepting(record, (log_type,)) for record in parsed]
            if any(result.log_type for _, result in results):
                same_parser = tuple(t for t in candidates[index:] if t.parser_key == log_type.parser_key)
                return Payload(_classify_all(parsed, results, same_parser, reasons))
            reasons[log_type.name] = results[0][1].reasons[log_type.name]
        if first_parsed is not None:
            return Payload(_refused(first_parsed, candidates, reasons))
        if empty:
            return Payload()
        return Payload(error=_summary(reasons, ""), reasons=reasons)


def _parse(raw: bytes, config: Mapping[str, Any], header: bytes | None) -> Any:
    """Parse with one parser config; return the records or the ParseError."""
    try:
        return parsers.parse(raw, config, header)
    except parsers.ParseError as exc:
        return exc
    except Exception as exc:  # a parser bug or a hostile payload: a reason, never a failed batch
        return parsers.ParseError(f"the {config.get('type')} parser raised {brief(exc)}")



def _first_accepting(
    record: dict[str, Any], candidates: tuple[LogType, ...]
) -> tuple[dict[str, Any], Classification]:
    """Return the (coerced) record and the first candidate accepting it, or each candidate's reason."""
    reasons: dict[str, str] = {}
    for log_type in candidates:
        accepted, reason = log_type.accept(record)
        if accepted is not None:
            return accepted, Classification(log_type.name)
        reasons[log_type.name] = reason
    if not reasons:
        return record, Classification(None, "no log types to classify against")
    return record, Classification(None, _summary(reasons, "no log type fits: "), reasons)


def _classify_all(
    records: list[dict[str, Any]],
    first: list[tuple[dict[str, Any], Classification]],
    candidates: tuple[LogType, ...],
    earlier: Mapping[str, str],
) -> list[tuple[dict[str, Any], Classification]]:
    """Classify each record among the candidates sharing the winning parse (the first already tried).

    A record none of them accepts carries every candidate's reason, ``earlier`` ones (which parsed the
    payload otherwise or accepted none of its records) included.
    """
    rest = candidates[1:]
    out = []
    for record, (coerced, result) in zip(records, first, strict=True):
        if result.log_type is not None:
            out.append((coerced, result))
            continue
        found, classification = _first_accepting(record, rest) if rest else (record, result)
        if classification.log_type is None:
            reasons = {**earlier, **result.reasons, **classification.reasons}
            classification = Classification(None, _summary(reasons, "no log type fits: "), reasons)
        out.append((found, classification))
    return out


def _refused(
    first_parsed: tuple[str, list[dict[str, Any]]], candidates: tuple[LogType, ...], reasons: Mapping[str, str]
) -> list[tuple[dict[str, Any], Classification]]:
    """The records of the first successful parse, each unclassified with every candidate's reason for it."""
    key, records = first_parsed
    same_parser = [t for t in candidates if t.parser_key == key]
    out = []
    for record in records:
        mine = {**reasons, **{t.name: t.accept(record)[1] for t in same_parser}}
        mine = {t.name: mine[t.name] for t in candidates if t.name in mine}
        out.append((record, Classification(None, _summary(mine, "no log type fits: "), mine)))
    return out


def _summary(reasons: Mapping[str, str], prefix: str) -> str:
    """Join the first reasons (each starts with its log type's name); say how many more there are."""
    text = "; ".join(list(reasons.values())[:MAX_REASONS])
    more = f"; and {len(reasons) - MAX_REASONS} more" if len(reasons) > MAX_REASONS else ""
    return prefix + text + more


def _log_type(name: str, spec: Mapping[str, Any]) -> LogType:
    """Build a LogType from its ``schemas.json`` entry; absent keys take their defaults.

    Hints are read from ``patterns`` (what ``sigil compile`` writes) or ``hints``; field types from
    ``types`` (what it writes: the types values are coerced to) or ``fields``.
    """
    hints = spec.get("patterns") or spec.get("hints") or {}
    return LogType(
        name=name,
        parser=dict(spec.get("parser") or {"type": "json"}),
        required=tuple(spec.get("required") or ()),
        priority=int(spec.get("priority", DEFAULT_PRIORITY)),
        hints={path: tuple([patterns] if isinstance(patterns, str) else patterns) for path, patterns in hints.items()},
        fields=field_tree(spec.get("types") or spec.get("fields") or {}),
    )
