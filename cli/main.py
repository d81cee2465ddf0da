"""The `sigil` command line: the commands of COMMANDS, in the order `sigil --help` lists them.

A new command is a module of cli/commands/ with ``add_parser(sub)`` (registering its parser with
``set_defaults(func=run)``) and ``run(args) -> int`` (the exit status), added to COMMANDS.
"""

from __future__ import annotations

import argparse
import sys

from .commands import bundle, classify, compile, invoke, lint, redrive, replay, schemas, streamalert

COMMANDS = (compile, lint, replay, classify, redrive, invoke, schemas, streamalert, bundle)


def build_parser() -> argparse.ArgumentParser:
    """The ``sigil`` parser with every command of COMMANDS."""
    top = argparse.ArgumentParser(prog="sigil", description="Detection rules as code, compiled for AWS Lambda.")
    sub = top.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run ``sigil`` with ``argv`` (default: the process's arguments); return the exit status."""
    # Rule text and log values may hold characters the terminal's encoding cannot write (a lone surrogate
    # from YAML's "\\ud800"): they are written as escapes, never raised as a traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
