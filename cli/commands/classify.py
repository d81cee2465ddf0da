"""`sigil classify FILE... [--source SERVICE:RESOURCE]`: each record's log type, or why it would be quarantined.

Files are read as the Lambda reads an S3 object: line by line, gunzipped when gzip (``--whole`` takes each
file as one payload instead, as a Kinesis record or SQS message would carry it). Every record gives one
JSON line ``{"file", "line", "index", "log_type"}``, or ``{"file", "line", "stage", "quarantine",
"candidates"}`` when no log type accepts it; a payload holding no record (a CSV header, a skipped header
line, ``{"Records": []}``) gives ``{"file", "line", "records": 0}``. Exit status: 0 when every record is
classified, 1 when some would be quarantined, 2 when the schemas, the source map or a file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from runtime.classifier import Classifier
from runtime.sources import Payload, failed
from runtime.sources.limits import Limits
from runtime.sources.source_map import SourceMap
from runtime.sources.stream import line_payloads

from ..defaults import DEFAULT_SCHEMAS, DEFAULT_SOURCE


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``classify`` on the ``sigil`` subcommand parsers."""
    parser = subparsers.add_parser("classify", help="print the log type (or quarantine reason) of each record")
    parser.add_argument("files", nargs="+", metavar="FILE", help="log files (plain or gzip)")
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="SERVICE:RESOURCE the data arrives from (for the source map)")
    parser.add_argument("--schemas", default=DEFAULT_SCHEMAS, help="schema directory (default: %(default)s)")
    parser.add_argument("--package", type=Path, help="a compiled sigil_rules dir: use its schemas.json and sources.json")
    parser.add_argument("--sources", type=Path, help="source map JSON {service: {resource: [log types]}}")
    parser.add_argument("--whole", action="store_true", help="classify each file as one payload, not line by line")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Classify every record of ``args.files``; see the module docstring for the output and exit status."""
    out = out or sys.stdout
    try:
        classifier, sources = _load(args)
    except (OSError, ValueError) as exc:
        print(f"sigil classify: {exc}", file=sys.stderr)
        return 2
    among = sources.allowed(args.source, classifier.names)
    quarantined = unreadable = 0
    for path in args.files:
        try:
            for line in classify_file(Path(path), classifier, among, args.source, whole=args.whole):
                quarantined += "quarantine" in line
                out.write(json.dumps(line, sort_keys=True) + "\n")
        except BrokenPipeError:
            raise  # our reader went away (`| head`): not a problem of the file
        except OSError as exc:  # missing, a directory, no permission: say so, go on with the other files
            unreadable += 1
            print(f"sigil classify: {path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
    return 2 if unreadable else 1 if quarantined else 0


def classify_file(
    path: Path, classifier: Classifier, among: frozenset[str] | None, source: str, whole: bool = False
) -> Iterator[dict[str, Any]]:
    """Yield one result per record of the file."""
    for payload in _payloads(path, source, whole):
        where = {"file": str(path), "line": payload.origin.get("line")}
        if payload.error is not None:
            yield {**where, "stage": payload.stage, "quarantine": payload.error}
            continue
        outcome = classifier.classify_payload(payload.data, among, payload.header)
        if outcome.error is not None:
            yield {**where, "stage": "parse", "quarantine": outcome.error, "candidates": dict(outcome.reasons)}
            continue
        if not outcome.records:  # a header line, a skipped line, {"Records": []}: nothing to classify or lose
            yield {**where, "records": 0}
            continue
        for index, (_, result) in enumerate(outcome.records):
            if result.log_type is None:
                yield {**where, "index": index, "stage": "classify", "quarantine": result.reason, "candidates": dict(result.reasons)}
            else:
                yield {**where, "index": index, "log_type": result.log_type}


def _payloads(path: Path, source: str, whole: bool) -> Iterator[Payload]:
    """The payloads of a file: its lines (as from S3), or the whole file (as one message)."""
    limits = Limits()
    if whole:
        data = path.read_bytes()
        if len(data) > limits.max_record_bytes:
            yield failed(data[:0], source, str(path), f"record of {len(data)} bytes exceeds the limit of {limits.max_record_bytes}")
        else:
            yield Payload(data, source, str(path), {"line": None})
        return
    with path.open("rb") as body:
        yield from line_payloads(body, source, str(path), {}, limits)


def _load(args: argparse.Namespace) -> tuple[Classifier, SourceMap]:
    """The classifier and source map from a compiled package, or from the schema directory and --sources."""
    sources_config: Any = None
    if args.package is not None:
        view = json.loads((args.package / "schemas.json").read_text(encoding="utf-8"))
        package_sources = args.package / "sources.json"
        if package_sources.is_file():
            sources_config = json.loads(package_sources.read_text(encoding="utf-8"))
    else:
        view = _schema_view(args.schemas)
    if args.sources is not None:
        sources_config = json.loads(args.sources.read_text(encoding="utf-8"))
    return Classifier(view), SourceMap.from_config(sources_config)


def _schema_view(directory: str) -> dict[str, Any]:
    """The runtime view of the schemas in ``directory`` (what ``sigil compile`` writes as schemas.json)."""
    from compiler.schemas import load_schemas

    schemas = load_schemas(directory)
    errors = [d for d in schemas.diagnostics if d.is_error]
    if errors:
        raise ValueError(f"{len(errors)} errors in {directory}: {errors[0]}")
    if not schemas.schemas:
        raise ValueError(f"no schemas in {directory}")
    return {"log_types": {name: schema.runtime_view() for name, schema in schemas.schemas.items()}}

