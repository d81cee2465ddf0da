"""What `sigil replay` runs rules on: the records of a file, parsed and classified as the Lambda would.

A file of JSON (JSON lines, an array, concatenated or pretty-printed objects) gives one payload per
JSON value; any other file one payload per line, as the Lambda reads an S3 object (gzip either way).
Each payload goes through the runtime classifier: the log type's parser (records path, envelope keys,
embedded JSON, evtx layout, CSV, key-value, syslog, regex), then its required fields, hints and types.

A JSON event no log type accepts (the Lambda would quarantine it), or only the generic `json` type, is
replayed as the first other log type whose required fields it has (its records path and evtx layout
applied), with a note on what the Lambda would do: rules can be tried on events the schemas do not
describe yet, and a schema that refuses them is not silent.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from runtime import parsers
from runtime.classifier import Classifier, LogType
from runtime.helpers import get_field
from runtime.logs import brief
from runtime.parsers import evtx
from runtime.parsers.coerce import coerce
from runtime.sources.limits import Limits
from runtime.sources.stream import line_payloads

from .events_io import EventsError, json_documents, read_bytes

GENERIC = "json"  # the schema-less log type: any JSON object, every rule applies


@dataclass(frozen=True, slots=True)
class Replayed:
    """One record to run rules on, or one that cannot be (``log_type`` None), with the reason."""

    event_index: int  # the payload's place in its file: its JSON value, or its line among the non-blank ones
    record_index: int  # the record's place among those of its payload (a CloudTrail file's Records)
    log_type: str | None
    record: Any
    note: str = ""  # why it is not replayed, or what the Lambda would do otherwise ("" when the same)


@dataclass(frozen=True, slots=True)
class _Payload:
    raw: bytes
    header: bytes | None = None
    value: Any = None  # the decoded JSON value, for JSON files
    error: str = ""  # why the payload could not be read (an oversize line)


def file_records(path: str, classifier: Classifier, log_type: str | None = None) -> Iterator[Replayed]:
    """Every record of the file at ``path`` (``-``: stdin), in order; ``log_type`` forces the log type."""
    forced = _log_type(classifier, log_type) if log_type not in (None, GENERIC) else None
    for index, payload in enumerate(_payloads(path)):
        if payload.error:
            yield Replayed(index, 0, None, payload.raw, payload.error)
        elif log_type == GENERIC:
            yield _generic(index, payload)
        elif forced is not None:
            yield from _forced(index, payload, forced)
        else:
            yield from _classified(index, payload, classifier)


def _payloads(path: str) -> Iterator[_Payload]:
    """One payload per JSON value (a top-level array's elements one by one) when the file opens with a
    JSON object or array; else one per line: an Apache error line opens with ``[``, a line of text with a
    number (``2024/05/14 ...``), a JSON line may be broken, and the Lambda reads such files by line."""
    data = read_bytes(path)
    documents = _json_documents(data, path)
    first = next(documents, None)
    if isinstance(first, dict | list):
        for document in itertools.chain([first], documents):
            for value in document if isinstance(document, list) else (document,):
                try:
                    raw = json.dumps(value).encode()
                except (ValueError, RecursionError) as exc:  # too deep to write again: the Lambda could not read it
                    yield _Payload(b"", error=f"cannot be read: {brief(exc)}")
                    continue
                yield _Payload(raw, value=value)
        return
    for payload in line_payloads(io.BytesIO(data), "file", path, {}, Limits()):
        if payload.error is not None:
            yield _Payload(payload.data, error=payload.error)
        else:
            yield _Payload(payload.data, header=payload.header)


def _json_documents(data: bytes, path: str) -> Iterator[Any]:
    """The top-level JSON values of ``data``, none when it is not UTF-8 or its first value is not JSON."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return
    documents = json_documents(text, path)
    try:
        first = next(documents, None)
    except EventsError:
        return
    if first is not None:
        yield first
        yield from documents  # a later value that is not JSON is an error with its place


def _generic(index: int, payload: _Payload) -> Replayed:
    if payload.value is None:
        return Replayed(index, 0, None, payload.raw, "not JSON: --log-type json reads JSON events only")
    if not isinstance(payload.value, dict):
        return Replayed(index, 0, None, payload.raw, f"a JSON {type(payload.value).__name__}, not an object: events are objects")
    return Replayed(index, 0, GENERIC, payload.value)


def _forced(index: int, payload: _Payload, log_type: LogType) -> Iterator[Replayed]:
    """The payload parsed by ``log_type``'s parser, whatever its required fields and hints say."""
    try:
        records = parsers.parse(payload.raw, log_type.parser, payload.header)
    except Exception as exc:  # a ParseError, or a hostile payload the parser did not foresee
        yield Replayed(index, 0, None, payload.raw, f"{log_type.name}: {exc if isinstance(exc, parsers.ParseError) else brief(exc)}")
        return
    for number, record in enumerate(records):
        if log_type.fields:
            with contextlib.suppress(Exception):  # forced: a value of another type stays as parsed
                record = coerce(record, log_type.fields)
        yield Replayed(index, number, log_type.name, record)


def _classified(index: int, payload: _Payload, classifier: Classifier) -> Iterator[Replayed]:
    outcome = classifier.classify_payload(payload.raw, None, payload.header)
    if outcome.error is None and not outcome.records:
        return  # a payload holding no record: a CSV header line, {"Records": []}
    chosen = {c.log_type for _, c in outcome.records}
    if payload.value is not None and chosen <= {None, GENERIC}:
        lenient = _by_required_fields(payload.value, classifier)
        if lenient is not None:
            log_type, records = lenient
            if GENERIC in chosen:
                refused = log_type.accept(records[0])[1] or "its parser reads other records"
                note = f"the Lambda would read it as {GENERIC}, not {log_type.name} ({refused})"
            else:
                reason = outcome.error or next(c.reason for _, c in outcome.records)
                note = f"the Lambda would quarantine it ({reason})"
            for number, record in enumerate(records):
                yield Replayed(index, number, log_type.name, record, note)
            return
    if outcome.error is not None:
        yield Replayed(index, 0, None, payload.raw, outcome.error)
        return
    for number, (record, classification) in enumerate(outcome.records):
        yield Replayed(index, number, classification.log_type, record, classification.reason)


def _by_required_fields(value: Any, classifier: Classifier) -> tuple[LogType, list[dict]] | None:
    """The first log type but the generic one whose required fields the value's records have, and those records."""
    for candidate in classifier.log_types:
        if candidate.name == GENERIC:
            continue
        records = _records_of(value, candidate.parser)
        if records and all(isinstance(r, dict) for r in records) and not candidate.missing(records[0]):
            return candidate, records
    return None


def _records_of(value: Any, parser: Any) -> list[Any]:
    """The records a decoded JSON value holds under a parser's records path and evtx layout."""
    records = [value]
    path = parser.get("records")
    if path and isinstance(value, dict):
        inner = get_field(value, path.removesuffix("[*]"))
        if isinstance(inner, list):
            records = [r for r in inner if isinstance(r, dict)]
    if parser.get("layout") == "evtx":
        records = [evtx.flatten(r) if isinstance(r, dict) else r for r in records]
    return records


def _log_type(classifier: Classifier, name: str) -> LogType:
    for candidate in classifier.log_types:
        if candidate.name == name:
            return candidate
    known = ", ".join(sorted(classifier.names | {GENERIC}))
    raise SystemExit(f"sigil replay: unknown log type '{name}' (known: {known})")
