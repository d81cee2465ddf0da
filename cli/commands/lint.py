"""`sigil lint PATH... [--format text|json|sarif] [--schemas DIR]`: check rule files and print every
diagnostic, then the summary. Exit status: 1 on any error."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dsl.loader import load_paths

from ..report import FORMATS, summary


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``lint`` on the ``sigil`` subcommand parsers."""
    p = subparsers.add_parser("lint", help="check rule files and print every diagnostic")
    p.add_argument("paths", nargs="+", help="rule files or directories")
    p.add_argument("--format", choices=sorted(FORMATS), default="text")
    p.add_argument("--schemas", help="also check fields and logsources against this schema directory")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Lint; the report goes to stdout, the summary to stdout (text) or stderr (json, sarif)."""
    result = load_paths(args.paths)
    diags = result.diagnostics
    if args.schemas:
        from compiler.build import plan

        built, _ = plan(args.paths, args.schemas)
        diags = built.diagnostics
    report = FORMATS[args.format](diags)
    if report:
        print(report)
    line = summary(result.documents, len([d for d in diags if d.is_error]), len([d for d in diags if not d.is_error]))
    print(line, file=sys.stderr if args.format != "text" else sys.stdout)
    return 1 if any(d.is_error for d in diags) else 0
