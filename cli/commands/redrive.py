"""`sigil redrive [--queue URL] [--outputs FILE] [--output NAME] [--max N] [--dry-run]`: drain the alerts DLQ.

Each dead letter's alert is sent again to the output that gave up on it, through the Lambda's dispatcher
built from the same outputs configuration (``--outputs``, else ``SIGIL_OUTPUTS_FILE``, plus
``SIGIL_OUTPUTS_OVERRIDE`` and the other ``SIGIL_*`` variables); see ``runtime.outputs.redrive``. One JSON
line per letter ``{"alert_id", "output", "outcome", "reason"?}`` on stdout, the summary and the dispatcher's
log lines on stderr. Exit status: 0 when every letter was delivered (or on a dry run), 1 otherwise, 2 when the
configuration or the queue cannot be used.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from typing import Any, TextIO

DLQ_ENV = "SIGIL_DLQ_URL"  # runtime.outputs.config.DLQ_ENV; runtime/ (boto3) is imported only when run


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _wait(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 20:
        raise argparse.ArgumentTypeError(f"must be 0 to 20 seconds, got {value}")
    return value


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``redrive`` on the ``sigil`` subcommand parsers."""
    parser = subparsers.add_parser(
        "redrive", help="send the alerts of the dead-letter queue to their outputs again"
    )
    parser.add_argument("--queue", metavar="URL", help=f"the dead-letter queue (default: ${DLQ_ENV})")
    parser.add_argument(
        "--outputs", metavar="FILE", help="outputs.json (default: $SIGIL_OUTPUTS_FILE, else the shipped one)"
    )
    parser.add_argument("--output", metavar="NAME", help="only the letters for this output, e.g. slack:secops")
    parser.add_argument("--max", type=_positive, metavar="N", help="stop after N letters")
    parser.add_argument(
        "--dry-run", action="store_true", help="list the letters that would be redriven; change nothing"
    )
    parser.add_argument(
        "--wait",
        type=_wait,
        metavar="SECONDS",
        help="long-poll wait per receive, 0-20 (default: 5)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Redrive the queue; see the module docstring for the output and exit status."""
    from runtime.outputs import OutputConfigError, normalize
    from runtime.outputs.config import load_config
    from runtime.outputs.redrive import WAIT_SECONDS, QueueError, queue_client, redrive, redrive_dispatcher

    out = out or sys.stdout
    wait = WAIT_SECONDS if args.wait is None else args.wait
    try:
        config = load_config(path=args.outputs)
    except (OSError, ValueError, TypeError, AttributeError, OutputConfigError) as exc:
        return _fail(f"outputs configuration: {exc}")
    try:
        only = normalize(args.output) if args.output else None
    except OutputConfigError as exc:
        return _fail(f"--output: {exc}")
    queue_url = args.queue or os.environ.get(DLQ_ENV) or config.dead_letter_queue_url
    if not queue_url:
        return _fail(f"no queue: pass --queue URL or set {DLQ_ENV}")

    def emit(result: Any) -> None:
        out.write(json.dumps(result.as_dict(), sort_keys=True, default=str) + "\n")
        out.flush()

    try:
        sqs = queue_client(queue_url, wait)
        dispatcher = redrive_dispatcher(config, queue_url, sqs)
        with contextlib.redirect_stdout(sys.stderr):  # the dispatcher's JSON log lines are not results
            report = redrive(
                queue_url,
                dispatcher,
                sqs,
                output=only,
                max_letters=args.max,
                dry_run=args.dry_run,
                wait_seconds=wait,
                on_result=emit,
            )
    except QueueError as exc:
        return _fail(str(exc))
    print(report.summary(), file=sys.stderr)
    return 0 if report.clean else 1


def _fail(message: str) -> int:
    print(f"sigil redrive: {message}", file=sys.stderr)
    return 2
