"""`sigil compile [PATH...] [--schemas DIR] [--out DIR] [--keep-going] [--placeholders FILE]`: check rules
against schemas and generate the matcher package ``OUT/sigil_rules``. Exit status: 1 on any error."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ..defaults import DEFAULT_OUT, DEFAULT_RULES, DEFAULT_SCHEMAS
from ..report import summary, text_report


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``compile`` on the ``sigil`` subcommand parsers."""
    p = subparsers.add_parser("compile", help="check rules against schemas and generate matcher modules")
    p.add_argument("paths", nargs="*", help="rule files or directories (default: rules/)")
    p.add_argument("--schemas", default=DEFAULT_SCHEMAS, help="schema directory (default: schemas/)")
    p.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: build/)")
    p.add_argument("--keep-going", action="store_true", help="compile every rule that can be, report the rest")
    p.add_argument("--placeholders", metavar="FILE", help="values for `expand` placeholders (default: placeholders.yml if present)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Compile; diagnostics and the summary go to stderr."""
    from compiler.build import compile_rules

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
