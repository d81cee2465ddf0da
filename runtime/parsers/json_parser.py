"""Parse JSON payloads: one document or newline-delimited documents, then pick out the records.

A top-level array (a page of Okta's System Log API, a CloudTrail event list) holds documents, unless the
records path itself starts there (``[*]...``).

Options: ``records`` (a path like ``Records[*]`` to nested records), ``embedded_json`` (the records are
JSON strings), ``json_regex_key`` (the record is the JSON object found in that text field, as in a
syslog line carrying JSON), ``layout: evtx`` (flatten evtx_dump events), ``envelope_keys`` (root fields
copied into each record, see `runtime.parsers.envelope`).

A key given more than once in one object keeps every value, as a list in order (as the kv parser does):
``{"CommandLine": "evil", "CommandLine": "benign"}`` reads ``{"CommandLine": ["evil", "benign"]}``, so a
later value cannot hide an earlier one from the rules. A number with more digits than Python converts
(``sys.get_int_max_str_digits()``, 4,300) makes the payload invalid JSON, a ParseError like any other.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from typing import Any

from runtime.parsers import envelope, evtx, paths
from runtime.parsers.errors import ParseError
from runtime.parsers.text import decode, split_lines


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Build a JSON object; a repeated key keeps every value as a list, in order."""
    record = dict(pairs)
    if len(record) == len(pairs):
        return record
    record, repeated = {}, set()
    for key, value in pairs:
        if key not in record:
            record[key] = value
        elif key in repeated:
            record[key].append(value)
        else:  # `{"a": "evil", "a": "benign"}` must not hide `evil`
            record[key] = [record[key], value]
            repeated.add(key)
    return record


DECODER = json.JSONDecoder(object_pairs_hook=_object)


def parse(raw: bytes, options: Mapping[str, Any], header: bytes | None = None) -> list[dict[str, Any]]:
    """Return the records in ``raw`` under ``options``; raise ParseError when there are none to be had."""
    path = options.get("records")
    records: list[dict[str, Any]] = []
    docs = documents(raw)
    if not (path or "").startswith(paths.EACH):  # a top-level array (an API page) holds documents
        docs = [item for doc in docs for item in (doc if isinstance(doc, list) else (doc,))]
    for doc in docs:
        selected = paths.select(doc, path) if path else [doc]
        if options.get("embedded_json"):
            selected = [_embedded(value) for value in selected]
        if not all(isinstance(value, dict) for value in selected):
            where = f"{path!r}" if path else "JSON payload"
            raise ParseError(f"{where} is not a list of objects" if path else f"{where} is not an object")
        if options.get("json_regex_key"):
            selected = [_json_in_text(value, str(options["json_regex_key"])) for value in selected]
        if options.get("layout") == "evtx":
            selected = [evtx.flatten(value) for value in selected]
        records.extend(envelope.attach(selected, doc, options))
    return records


def extract(obj: Mapping[str, Any], path: str) -> list[dict[str, Any]]:
    """Return the dicts ``path`` (like ``Records[*]``) selects in ``obj``, or ``[obj]`` when it lacks the path."""
    values = paths.select(obj, path)
    if not all(isinstance(value, dict) for value in values):
        raise ParseError(f"{path!r} is not a list of objects")
    return values


def loads(text: str | bytes) -> Any:
    """``json.loads`` that raises ParseError for invalid and for too deeply nested JSON."""
    try:
        return DECODER.decode(text) if isinstance(text, str) else json.loads(text, object_pairs_hook=_object)
    except RecursionError:
        raise ParseError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ParseError(f"invalid JSON: {exc}") from None
    except ValueError:  # a number past Python's int conversion limit (converting takes quadratic time)
        raise ParseError(f"invalid JSON: a number of more than {sys.get_int_max_str_digits()} digits") from None


_last: tuple[bytes, list[Any] | str] | None = None


def documents(raw: bytes) -> list[Any]:
    """Decode one JSON document, or one per non-blank line (raise ParseError).

    The classifier tries several JSON log types on the same payload: the last payload's outcome is
    kept, so the same bytes object is decoded once. Callers must not mutate the documents.
    """
    global _last
    if _last is None or _last[0] is not raw:
        try:
            _last = (raw, _decode_documents(raw))
        except ParseError as exc:
            _last = (raw, str(exc))
    outcome = _last[1]
    if isinstance(outcome, str):
        raise ParseError(outcome)
    return outcome


def _decode_documents(raw: bytes) -> list[Any]:
    text = decode(raw)
    try:
        return [loads(text)]
    except ParseError as whole_error:
        lines = [line for line in split_lines(text) if line.strip()]
        if len(lines) < 2 or str(whole_error) == "JSON nested too deeply":
            raise
    try:
        return [loads(line) for line in lines]
    except ParseError as exc:
        raise ParseError(f"invalid JSON lines: {exc}") from None


def _embedded(value: Any) -> Any:
    """Decode a record held as a JSON string."""
    if not isinstance(value, str):
        return value
    return loads(value)


def _json_in_text(record: dict[str, Any], key: str) -> dict[str, Any]:
    """The JSON object inside the text of ``record[key]`` (from its first ``{`` to its last ``}``)."""
    text = record.get(key)
    # What StreamAlert's `{.*}` search finds, without a regex: Python's re would retry `.*` from every `{`
    # of a text without `}` (quadratic: seconds for 100 KB of them); the first `{` and the last `}` are it.
    if not isinstance(text, str):
        raise ParseError(f"{key!r} holds no JSON object")
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ParseError(f"{key!r} holds no JSON object")
    value = loads(text[start : end + 1])
    if not isinstance(value, dict):
        raise ParseError(f"{key!r} holds no JSON object")
    return value
