"""`sigil replay --rules PATH [--rules PATH...] [options] EVENTS...`: run rules over recorded events (read as
the Lambda reads them) and print one JSON line per alert; the counts go to stderr. Exit status: 1 when a
rule or an events file has an error."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..defaults import DEFAULT_SCHEMAS
from ..report import plural, text_report


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``replay`` on the ``sigil`` subcommand parsers."""
    p = subparsers.add_parser("replay", help="run rules over recorded events and print one JSON line per alert")
    p.add_argument("--rules", action="append", required=True, metavar="PATH", help="a rule file or directory (repeat for more)")
    p.add_argument("--log-type", help="treat every event as this log type ('json' = schema-less, all rules)")
    p.add_argument("--engine", choices=("interpreter", "compiled"), default="compiled", help="compiled matchers (default) or the reference interpreter")
    p.add_argument("--schemas", default=DEFAULT_SCHEMAS)
    p.add_argument("--placeholders", metavar="FILE", help="YAML mapping placeholder name → list of values, for `expand`")
    p.add_argument("--lambda-alerts", action="store_true", help="print each alert as the Lambda builds it: title and context hooks run, title rendered, outputs, severity")
    p.add_argument("events", nargs="+", help="event files, read as the Lambda reads them (JSON lines, arrays, concatenated JSON, or text logs line by line; gzip too), or - for stdin")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Replay; alerts on stdout, diagnostics, notes and the counts on stderr."""
    from ..replay.engine import replay
    from ..replay.events_io import EventsError

    def emit(alert) -> None:
        shown = alert.as_lambda_dict() if args.lambda_alerts else alert.as_dict()
        sys.stdout.write(json.dumps(shown, sort_keys=True, default=str) + "\n")

    try:
        counts = replay(args.rules, args.events, args.schemas, args.log_type, args.engine, emit, args.placeholders)
    except EventsError as exc:
        print(f"sigil replay: {exc}", file=sys.stderr)
        return 1
    errors = [d for d in counts["diagnostics"] if d.is_error]
    if errors:
        print(text_report(errors), file=sys.stderr)
    for note in counts["notes"]:
        print(f"sigil replay: {note}", file=sys.stderr)
    print(
        f"{plural(counts['events'], 'event')}, {plural(counts['alerts'], 'alert')}, "
        f"{counts['unclassified']} unclassified, {plural(counts['rules'], 'rule')} ({args.engine})"
        + (f", {plural(counts['rule_errors'], 'rule error')}" if counts["rule_errors"] else "")
        + (f", {counts['untimed']} matched without an event time (counted by no correlation)" if counts["untimed"] else "")
        + (f", {counts['late']} matched too late for a correlation window" if counts["late"] else "")
        + (f", {counts['merged']} merged by dedup" if counts["merged"] else "")
        + (f", {plural(counts['lenient'], 'event')} replayed by required fields, unlike the Lambda" if counts["lenient"] else "")
        + (f", {counts['unmapped']} fit no log type (use --log-type)" if counts["unmapped"] else "")
        + (f", {plural(counts['rule_errors'], 'rule error')}" if counts.get("rule_errors") else ""),
        file=sys.stderr,
    )
    return 1 if errors else 0
