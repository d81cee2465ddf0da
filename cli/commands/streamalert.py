"""`sigil streamalert check --conf DIR --tests DIR`: replay StreamAlert test events through our classifier.

Prints one line per mismatch, then ``N/M records classified as expected`` (see ``cli.streamalert.check``).
Exit status: 0 when all are right, 1 on any mismatch, 2 when the directories cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``streamalert`` and its ``check`` on the ``sigil`` subcommand parsers."""
    parser = subparsers.add_parser("streamalert", help="StreamAlert migration: replay its test events")
    streamalert_sub = parser.add_subparsers(dest="streamalert_command", required=True)
    checking = streamalert_sub.add_parser("check", help="replay StreamAlert test events through the classifier")
    checking.add_argument("--conf", required=True, type=Path, help="StreamAlert conf directory (schemas/, clusters/)")
    checking.add_argument("--tests", required=True, type=Path, help="directory of StreamAlert test files (*.json)")
    checking.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print one line per mismatch, then the count; see the module docstring for the exit status."""
    from ..streamalert.check import check

    out = out or sys.stdout
    for directory in (args.conf, args.tests):
        if not directory.is_dir():
            print(f"sigil streamalert check: {directory} is not a directory", file=sys.stderr)
            return 2
    try:
        result = check(args.conf, args.tests)
    except (OSError, ValueError) as exc:
        print(f"sigil streamalert check: {exc}", file=sys.stderr)
        return 2
    for mismatch in result.mismatches:
        out.write(f"mismatch: {mismatch.line()}\n")
    out.write(f"{result.right}/{result.total} records classified as expected\n")
    return 1 if result.mismatches else 0
