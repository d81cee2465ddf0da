"""The `sigil` command line: compile, lint, replay, bundle, redrive."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from dsl.loader import load_paths

from .report import FORMATS, plural, text_report

DEFAULT_RULES = ["rules"]
# ./schemas when run inside a project, else the schemas shipped beside this package
DEFAULT_SCHEMAS = "schemas" if Path("schemas").is_dir() else str(Path(__file__).resolve().parents[1] / "schemas")
DEFAULT_OUT = "build"


def summary(rules: int, errors: int, warnings: int, compiled: int | None = None) -> str:
    parts = [plural(rules, "rule")]
    if compiled is not None:
        parts.append(f"{compiled} compiled")
    parts += [plural(errors, "error"), plural(warnings, "warning")]
    return ", ".join(parts)


def cmd_lint(args: argparse.Namespace) -> int:
    result = load_paths(args.paths)
    diags = result.diagnostics
    if args.schemas:
        from .build import plan

        built, _ = plan(args.paths, args.schemas)
        diags = built.diagnostics
    report = FORMATS[args.format](diags)
    if report:
        print(report)
    line = summary(result.documents, len([d for d in diags if d.is_error]), len([d for d in diags if not d.is_error]))
    print(line, file=sys.stderr if args.format != "text" else sys.stdout)
    return 1 if any(d.is_error for d in diags) else 0


def cmd_compile(args: argparse.Namespace) -> int:
    from .build import compile_rules

    start = time.perf_counter()
    result = compile_rules(args.paths or DEFAULT_RULES, args.schemas, args.out, args.keep_going, args.placeholders)
    if result.diagnostics:
        print(text_report(result.diagnostics), file=sys.stderr)
    wrote = bool(result.modules) or not result.errors
    compiled = result.compiled_rule_count if wrote else 0
    print(summary(len(result.rules), len(result.errors), len(result.warnings), compiled), file=sys.stderr)
    if wrote:
        print(f"wrote {Path(args.out) / 'sigil_rules'} ({len(result.modules)} log types) in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return 1 if result.errors else 0


def cmd_replay(args: argparse.Namespace) -> int:
    from .events_io import EventsError
    from .replay import replay

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


def cmd_bundle(args: argparse.Namespace) -> int:
    from .bundle import BundleError, build_bundle, bytecode_summary, wheels_in

    try:
        wheels = wheels_in(Path(args.wheels)) if args.wheels else []
        out = build_bundle(Path(args.build), Path(args.out), wheels, args.bytecode)
    except (FileNotFoundError, BundleError) as exc:
        print(f"sigil bundle: {exc}", file=sys.stderr)
        return 1
    if args.bytecode is not None:
        print(f"bytecode: {bytecode_summary(out)}", file=sys.stderr)
    if not any(wheel.name.startswith("google_re2-") for wheel in wheels):
        print(
            "warning: no google-re2 wheel: the Lambda will run a regex on Python's re only where runtime/regex.py "
            "proves it bounded and equal, and every other regex fails its rule (run `make wheels`)",
            file=sys.stderr,
        )
    added = "".join(f", {wheel.name}" for wheel in wheels)
    print(f"wrote {out} ({out.stat().st_size} bytes{added})", file=sys.stderr)
    return 0


def cmd_schemas_list(args: argparse.Namespace) -> int:
    from .schemas import load_schemas

    schemas = load_schemas(args.schemas)
    if schemas.diagnostics:
        print(text_report(schemas.diagnostics), file=sys.stderr)
    for name, schema in sorted(schemas.schemas.items()):
        logsources = "; ".join(" ".join(f"{k}={v}" for k, v in m.keys().items()) for m in schema.logsources) or "-"
        print(f"{name:<24} {schema.parser['type']:<7} {len(schema.fields):>4} fields  {logsources}")
    return 1 if any(d.is_error for d in schemas.diagnostics) else 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="sigil", description="Detection rules as code, compiled for AWS Lambda.")
    sub = top.add_subparsers(dest="command", required=True)

    p = sub.add_parser("compile", help="check rules against schemas and generate matcher modules")
    p.add_argument("paths", nargs="*", help="rule files or directories (default: rules/)")
    p.add_argument("--schemas", default=DEFAULT_SCHEMAS, help="schema directory (default: schemas/)")
    p.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: build/)")
    p.add_argument("--keep-going", action="store_true", help="compile every rule that can be, report the rest")
    p.add_argument("--placeholders", metavar="FILE", help="values for `expand` placeholders (default: placeholders.yml if present)")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("lint", help="check rule files and print every diagnostic")
    p.add_argument("paths", nargs="+", help="rule files or directories")
    p.add_argument("--format", choices=sorted(FORMATS), default="text")
    p.add_argument("--schemas", help="also check fields and logsources against this schema directory")
    p.set_defaults(func=cmd_lint)

    p = sub.add_parser("replay", help="run rules over recorded events and print one JSON line per alert")
    p.add_argument("--rules", action="append", required=True, metavar="PATH", help="a rule file or directory (repeat for more)")
    p.add_argument("--log-type", help="treat every event as this log type ('json' = schema-less, all rules)")
    p.add_argument("--engine", choices=("interpreter", "compiled"), default="compiled", help="compiled matchers (default) or the reference interpreter")
    p.add_argument("--schemas", default=DEFAULT_SCHEMAS)
    p.add_argument("--placeholders", metavar="FILE", help="YAML mapping placeholder name → list of values, for `expand`")
    p.add_argument("--lambda-alerts", action="store_true", help="print each alert as the Lambda builds it: title and context hooks run, title rendered, outputs, severity")
    p.add_argument("events", nargs="+", help="event files, read as the Lambda reads them (JSON lines, arrays, concatenated JSON, or text logs line by line; gzip too), or - for stdin")
    p.set_defaults(func=cmd_replay)

    from .classify_cmd import add_parser as add_classify

    add_classify(sub)

    from .redrive_cmd import add_parser as add_redrive

    add_redrive(sub)

    from .invoke_cmd import add_parser as add_invoke

    add_invoke(sub)

    p = sub.add_parser("schemas", help="log type schemas: list them, import StreamAlert's")
    schemas_sub = p.add_subparsers(dest="schemas_command", required=True)
    listing = schemas_sub.add_parser("list", help="each log type with its parser, field count and Sigma logsources")
    listing.add_argument("--schemas", default=DEFAULT_SCHEMAS)
    listing.set_defaults(func=cmd_schemas_list)
    from .streamalert_import import add_parser as add_streamalert_import

    add_streamalert_import(schemas_sub)

    p = sub.add_parser("streamalert", help="StreamAlert migration: replay its test events")
    streamalert_sub = p.add_subparsers(dest="streamalert_command", required=True)
    from .streamalert_check import add_parser as add_streamalert_check

    add_streamalert_check(streamalert_sub)

    from .bundle import BYTECODE_HELP

    p = sub.add_parser("bundle", help="pack runtime/ and the generated modules into the Lambda zip")
    p.add_argument("--build", default=DEFAULT_OUT)
    p.add_argument("--out", default=str(Path(DEFAULT_OUT) / "sigil-lambda.zip"))
    p.add_argument("--wheels", metavar="DIR", help="also add the files of every *.whl in DIR (`make wheels`)")
    p.add_argument("--bytecode", metavar="PYTHON", help=BYTECODE_HELP)
    p.set_defaults(func=cmd_bundle)
    return top


def main(argv: list[str] | None = None) -> int:
    # Rule text and log values may hold characters the terminal's encoding cannot write (a lone surrogate
    # from YAML's "\\ud800"): they are written as escapes, never raised as a traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
