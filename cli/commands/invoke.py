"""`sigil invoke --event FILE [--bundle ZIP] [--dry-run]`: run the bundled handler on one Lambda event, locally.

Like ``sam local invoke``: the event (a file, or ``-`` for stdin) is handed to ``runtime.handler.handler``
imported from the zip (default ``build/sigil-lambda.zip``) in a clean child interpreter
(``cli/invoke_child.py``: ``python -I -S`` with only the zip and boto3 importable), with a Lambda
context like Lambda's (function ``sigil``, 512 MB, 60 s: the Terraform module's defaults; a fresh request
id). Any trigger the runtime reads works: Kinesis, SQS, SNS, S3 notifications (direct, or via SNS, SQS or
EventBridge), CloudWatch Logs subscriptions, EventBridge events and Firehose transformations.

Alerts go to the outputs the environment configures (``SIGIL_*``, ``AWS_ENDPOINT_URL``), quarantined records
to ``SIGIL_QUARANTINE_URL``, exactly as in Lambda. With ``--dry-run`` nothing is sent or written: each alert
is printed on stderr as ``{"would_deliver_to": [outputs], "alert": {...}}``; S3 objects an event names are
still read. The handler's log lines go to stderr; stdout gets the batch summary, one JSON document (see
docs/architecture.md, "Local invoke"). Exit status: 0 when every item was processed (records matched,
clean or quarantined; alerts delivered or dead-lettered), 1 when some item failed (Lambda would retry it),
2 when the event has no supported shape, or the event, the bundle or the configuration cannot be used.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, TextIO

from ..defaults import DEFAULT_BUNDLE

CHILD = Path(__file__).resolve().parents[1] / "invoke_child.py"
BOTO3_DEPENDENCIES = ("boto3", "botocore", "jmespath", "dateutil", "s3transfer", "urllib3", "six")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``invoke`` on the ``sigil`` subcommand parsers."""
    parser = subparsers.add_parser("invoke", help="run the bundled Lambda handler on one event file, locally")
    parser.add_argument("--event", required=True, metavar="FILE", help="a Lambda event (JSON), or - for stdin")
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="the Lambda zip (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="send no alert and write no quarantine: print each alert")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Invoke the handler; see the module docstring for the output and exit status."""
    out = out or sys.stdout
    try:
        event = _read_event(args.event)
    except ValueError as exc:
        return _fail(str(exc))
    bundle = args.bundle
    if not bundle.is_file():
        return _fail(f"{bundle} not found: run `make bundle` first (or pass --bundle ZIP)")
    if not zipfile.is_zipfile(bundle):
        return _fail(f"{bundle} is not a zip file: run `make bundle` again (or pass --bundle ZIP)")
    command = [sys.executable, "-I", "-S", str(CHILD), str(bundle.resolve())]
    command += ["--dry-run"] if args.dry_run else []
    with tempfile.TemporaryDirectory(prefix="sigil-invoke-") as deps:
        _link_boto3(Path(deps))
        completed = subprocess.run([*command, deps], input=event, stdout=subprocess.PIPE, check=False)
    lines = completed.stdout.decode("utf-8", errors="replace").splitlines()
    try:
        document = json.loads(lines[-1])
    except (IndexError, ValueError):
        return _fail(f"the handler process ended with status {completed.returncode} and no summary (see above)")
    if completed.returncode == 2 or set(document) == {"error"}:
        return _fail(str(document.get("error")))
    out.write(json.dumps(document, indent=2) + "\n")
    return completed.returncode


def _read_event(name: str) -> bytes:
    """The event's bytes, checked to be one JSON document; raise ValueError with a one-line reason."""
    label = "stdin" if name == "-" else name
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise ValueError(f"{label}: cannot read: {exc.strerror or exc}") from None
    try:
        json.loads(data)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{label}: not UTF-8 JSON: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{label}: not a JSON event: {exc}") from None
    except RecursionError:
        raise ValueError(f"{label}: not a JSON event: nested too deeply") from None
    return data


def _link_boto3(directory: Path) -> None:
    """Link boto3 and its dependencies, and nothing else of this environment, into ``directory``.

    The Lambda's Python runtime provides boto3; site-packages as a whole would also offer what the Lambda
    lacks (``dsl``, ``compiler`` and ``cli`` when Sigil is installed there, Jinja2, Lark...).
    """
    for name in BOTO3_DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue  # an optional dependency (six) that this boto3 does not need
        origin = Path(spec.origin)
        source = origin.parent if spec.submodule_search_locations else origin
        (directory / source.name).symlink_to(source, target_is_directory=source.is_dir())


def _fail(message: str) -> int:
    print(f"sigil invoke: {message}", file=sys.stderr)
    return 2
