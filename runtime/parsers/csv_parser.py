"""Parse CSV payloads: one record per row, named by fixed ``columns`` or by a header row.

Options: ``delimiter`` (``,``), ``quotechar`` (``"``), ``escapechar`` (none), and either ``columns``
(the field names, in order) or ``header: true`` (the first row names the fields; when an S3 object is
streamed line by line its first line arrives as ``header``, and that line itself yields no record). A
row with another number of columns than the names is a parse error. ``nested_columns`` (``{column:
[names]}``) parses a column that is CSV itself into an object. With ``records`` (a path such as
``logEvents[*].message``) the payload is JSON whose selected strings are the rows, and
``envelope_keys`` copies root fields into each record (see `runtime.parsers.envelope`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from runtime.parsers import envelope, json_parser, paths
from runtime.parsers.errors import ParseError
from runtime.parsers.text import decode


def parse(raw: bytes, options: Mapping[str, Any], header: bytes | None = None) -> list[dict[str, Any]]:
    """Return one record per non-blank row of ``raw``."""
    if options.get("records"):
        return _rows_in_json(raw, options)
    rows = _rows(decode(raw), options)
    columns = options.get("columns")
    if columns:
        names = [str(name) for name in columns]
    elif options.get("header"):
        if header is not None:  # a streamed line: the object's first line is the header
            names = next(iter(_rows(decode(header), options)), [])
        elif len(rows) > 1:
            names = rows[0]
        else:
            raise ParseError("a CSV payload with a header row needs at least one row after it")
        rows = [row for row in rows if row != names]  # the header row itself, here or repeated
    else:
        raise ParseError("the csv parser needs 'columns' or 'header: true'")
    return [_record(names, row, number, options) for number, row in enumerate(rows, 1)]


def _rows_in_json(raw: bytes, options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows held as strings inside JSON documents, with the documents' envelope keys."""
    names = [str(name) for name in options.get("columns") or ()]
    if not names:
        raise ParseError("the csv parser needs 'columns' to read rows out of JSON")
    records: list[dict[str, Any]] = []
    for doc in json_parser.documents(raw):
        texts = paths.select(doc, str(options["records"]))
        if not all(isinstance(text, str) for text in texts):
            raise ParseError(f"{options['records']!r} does not select CSV text")
        rows = [row for text in texts for row in _rows(text, options)]
        selected = [_record(names, row, number, options) for number, row in enumerate(rows, 1)]
        records.extend(envelope.attach(selected, doc, options))
    return records


def _rows(text: str, options: Mapping[str, Any]) -> list[list[str]]:
    """Split ``text`` into rows, skipping blank ones."""
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter=str(options.get("delimiter", ",")),
        quotechar=str(options.get("quotechar", '"')),
        escapechar=options.get("escapechar"),
        strict=bool(options.get("strict", False)),
    )
    try:
        return [row for row in reader if row and any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise ParseError(f"invalid CSV: {exc}") from None


def _record(names: Sequence[str], row: list[str], number: int, options: Mapping[str, Any]) -> dict[str, Any]:
    if len(row) != len(names):
        raise ParseError(f"CSV row {number} has {len(row)} columns, expected {len(names)}")
    record: dict[str, Any] = dict(zip(names, row, strict=True))
    for column, inner in (options.get("nested_columns") or {}).items():
        if column in record:
            nested = _rows(record[column], options)
            if len(nested) != 1:
                raise ParseError(f"CSV row {number}: column {column!r} is not one CSV row")
            record[column] = _record([str(name) for name in inner], nested[0], number, {})
    return record
