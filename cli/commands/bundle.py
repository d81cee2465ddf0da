"""`sigil bundle [--build DIR] [--out ZIP] [--wheels DIR] [--bytecode PYTHON]`: pack runtime/, the generated
``sigil_rules`` and the wheels' files into the deterministic Lambda zip. Exit status: 1 when it cannot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..bundle.zip import BYTECODE_HELP
from ..defaults import DEFAULT_BUNDLE, DEFAULT_OUT


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bundle`` on the ``sigil`` subcommand parsers."""
    p = subparsers.add_parser("bundle", help="pack runtime/ and the generated modules into the Lambda zip")
    p.add_argument("--build", default=DEFAULT_OUT)
    p.add_argument("--out", default=str(DEFAULT_BUNDLE))
    p.add_argument("--wheels", metavar="DIR", help="also add the files of every *.whl in DIR (`make wheels`)")
    p.add_argument("--bytecode", metavar="PYTHON", help=BYTECODE_HELP)
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Build the zip; what was written (and any warning) goes to stderr."""
    from ..bundle.errors import BundleError
    from ..bundle.zip import build_bundle, bytecode_summary, wheels_in

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
