"""`sigil schemas list` and `sigil schemas import-streamalert CONF_DIR [--out DIR] [--force]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..defaults import DEFAULT_SCHEMAS
from ..report import plural, text_report


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``schemas`` and its subcommands on the ``sigil`` subcommand parsers."""
    parser = subparsers.add_parser("schemas", help="log type schemas: list them, import StreamAlert's")
    schemas_sub = parser.add_subparsers(dest="schemas_command", required=True)
    listing = schemas_sub.add_parser("list", help="each log type with its parser, field count and Sigma logsources")
    listing.add_argument("--schemas", default=DEFAULT_SCHEMAS)
    listing.set_defaults(func=run)
    importing = schemas_sub.add_parser(
        "import-streamalert", help="convert StreamAlert conf/schemas and data_sources into Sigil schemas"
    )
    importing.add_argument("conf", metavar="CONF_DIR", help="StreamAlert conf directory (with schemas/ and clusters/)")
    importing.add_argument("--out", default="schemas/streamalert", help="directory to write to (default: %(default)s)")
    importing.add_argument("--force", action="store_true", help="overwrite schema files that an import did not write")
    importing.set_defaults(func=run_import)
    return parser


def run(args: argparse.Namespace) -> int:
    """``schemas list``: each log type with its parser, field count and Sigma logsources."""
    from compiler.schemas import load_schemas

    schemas = load_schemas(args.schemas)
    if schemas.diagnostics:
        print(text_report(schemas.diagnostics), file=sys.stderr)
    for name, schema in sorted(schemas.schemas.items()):
        logsources = "; ".join(" ".join(f"{k}={v}" for k, v in m.keys().items()) for m in schema.logsources) or "-"
        print(f"{name:<24} {schema.parser['type']:<7} {len(schema.fields):>4} fields  {logsources}")
    return 1 if any(d.is_error for d in schemas.diagnostics) else 0


def run_import(args: argparse.Namespace) -> int:
    """``schemas import-streamalert``: import, report diagnostics on stderr, write the files; 1 when anything
    failed to convert."""
    from ..streamalert.importer import SOURCES_FILE, import_conf, write

    conf = Path(args.conf)
    if not conf.is_dir():
        print(f"sigil schemas import-streamalert: {conf} is not a directory", file=sys.stderr)
        return 2
    result = import_conf(conf)
    if result.diagnostics:
        print(text_report(list(result.diagnostics)), file=sys.stderr)
    if not result.files:
        print(f"sigil schemas import-streamalert: no StreamAlert schemas in {conf}", file=sys.stderr)
        return 1
    try:
        write(result, Path(args.out), args.force)
    except FileExistsError as exc:
        print(f"sigil schemas import-streamalert: {exc}", file=sys.stderr)
        return 1
    warnings = len(result.diagnostics) - len(result.errors)
    resources = sum(len(r) for r in result.sources.values())
    print(
        f"imported {plural(len(result.log_types), 'log type')} from {plural(len(result.files), 'file')} into {args.out}, "
        f"source map of {plural(resources, 'resource')} in {Path(args.out) / SOURCES_FILE} "
        f"({plural(len(result.errors), 'error')}, {plural(warnings, 'warning')})",
        file=sys.stderr,
    )
    return 1 if result.errors else 0
