"""The child side of ``sigil invoke``: run the bundle's handler on one event, print the batch summary.

Run as ``python -I -S invoke_child.py BUNDLE [--dry-run] [DEP...]`` with the event as JSON on stdin: only
the standard library, the zip and boto3 with its dependencies (linked into DEP) are importable, so what runs
is what ships (no ``dsl``, no ``compiler``, no ``cli``, not the source tree's ``runtime``). This file therefore imports nothing of the
project at module level.

The handler, ``runtime.handler.handler``, is called as Lambda would call it, with a `LambdaContext` like
Lambda's; three of its seams are wrapped to see what it did: ``report`` keeps the batch result, the
runtime's quarantine counts each entry's stage and reason, and on a dry run ``dispatcher_deliver`` is
replaced by a deliver function that prints each alert and the outputs it would go to, sends nothing, and
settles it (so the batch completes as if every delivery had succeeded), while the quarantine writes nothing.
The handler's log lines go to stderr; stdout gets one JSON line, the summary (see ``summary``) or
``{"error": reason}``. Exit status: 0 when every item was processed, 1 when some failed, 2 when the event
has no supported shape or the handler could not run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import sys
import time
import uuid
from collections import Counter
from typing import Any

FUNCTION_NAME = "sigil"  # deploy/terraform's defaults: name, memory_size, timeout
MEMORY_MB = 512
TIMEOUT_SECONDS = 60
ACCOUNT = "123456789012"


class LambdaContext:
    """The context object Lambda's Python runtime passes: names, memory, request id and the time left."""

    def __init__(self, timeout_seconds: float = TIMEOUT_SECONDS) -> None:
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]  # a string, as in Lambda
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT}:function:{self.function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{self.function_name}"
        self.log_stream_name = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class RecordingQuarantine:
    """Count each entry's (stage, reason), then pass the entries on (or, on a dry run, write nothing)."""

    def __init__(self, inner: Any, forward: bool) -> None:
        self.inner, self.forward = inner, forward
        self.description = getattr(inner, "description", "quarantine") if forward else "dry run: not written"
        self.reasons: Counter[tuple[str, str]] = Counter()

    def put(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            self.reasons[(str(entry.get("stage")), str(entry.get("reason")))] += 1
        if self.forward:
            self.inner.put(entries)


class DryRun:
    """A deliver function that prints each alert with the outputs it would go to, and sends nothing."""

    def __init__(self) -> None:
        from runtime.outputs.config import load_config

        self.config = load_config()  # an invalid outputs.json fails here, as at the Lambda's first invocation
        self.would_deliver: Counter[str] = Counter()

    def __call__(self, alerts: list[dict[str, Any]]) -> Any:
        from runtime.outputs.dispatch import UNROUTED
        from runtime.pipeline import DeliveryReport

        for alert in alerts:
            targets = self.config.targets(alert) or [UNROUTED]
            self.would_deliver.update(targets)
            print(json.dumps({"would_deliver_to": targets, "alert": alert}, default=str), file=sys.stderr)
        return DeliveryReport(delivered=tuple(str(alert["alert_id"]) for alert in alerts))


def summary(result: Any, quarantine: RecordingQuarantine, dry_run: DryRun | None) -> dict[str, Any]:
    """The batch in one document: what came in, what became of each record, alert and item."""
    stats = result.stats
    document: dict[str, Any] = {
        "kind": result.kind,
        "dry_run": dry_run is not None,
        "items": stats.items,
        "records": stats.records,
        "processed": stats.matched + stats.clean,
        "quarantined": stats.quarantined,
        "quarantine_reasons": [
            {"stage": stage, "reason": reason, "count": count} for (stage, reason), count in quarantine.reasons.items()
        ],
        "alerts": stats.alerts,
    }
    if dry_run is not None:
        document["outputs"] = {name: {"would_deliver": count} for name, count in sorted(dry_run.would_deliver.items())}
    else:
        document.update(delivered=stats.delivered, dead_lettered=stats.dead_lettered, undelivered=stats.undelivered)
        document["outputs"] = {name: dict(sorted(counts.items())) for name, counts in sorted(result.outputs.items())}
    document["rule_errors"] = stats.rule_errors
    document["failed_items"] = stats.failed_items
    return document


class Unusable(Exception):
    """The handler cannot be run on this event: the reason, one line."""


def main(argv: list[str]) -> int:
    bundle, dry = argv[0], "--dry-run" in argv[1:]
    try:
        module = load_handler(bundle, [arg for arg in argv[1:] if arg != "--dry-run"])
        event = json.loads(sys.stdin.buffer.read())
        check_shape(event)
        dry_run = dry_run_from_config() if dry else None
    except Unusable as exc:
        return fail(str(exc))
    seen = instrument(module, dry_run)
    response: Any = None
    error = None
    with contextlib.redirect_stdout(sys.stderr):  # the handler's log lines, as Lambda ships them to CloudWatch
        try:
            response = module.handler(event, LambdaContext())
        except module.IncompleteBatch as exc:
            error = f"IncompleteBatch: {exc}"
        except Exception as exc:  # a setup the handler refuses: say why in one line
            if "result" not in seen:
                return fail(f"the handler raised {type(exc).__name__}: {exc}")
            error = f"{type(exc).__name__}: {exc}"
    result = seen["result"]
    document = summary(result, seen["quarantine"], dry_run)
    if isinstance(response, dict) and "batchItemFailures" in response:
        document["batchItemFailures"] = response["batchItemFailures"]
    elif isinstance(response, dict) and "records" in response:  # Firehose: each record's result
        document["firehose_results"] = dict(Counter(str(r.get("result")) for r in response["records"]))
    if error is not None:
        document["error"] = error
    print(json.dumps(document, default=str))
    return 0 if result.complete and error is None else 1


def load_handler(bundle: str, deps: list[str]) -> Any:
    """Import ``runtime.handler`` from the zip, with the Lambda's environment variables; raise Unusable."""
    sys.path[:0] = [bundle, *deps]
    for name in ("dsl", "compiler", "cli"):
        if importlib.util.find_spec(name) is not None:
            raise Unusable(f"{name} is importable next to the bundle: not a clean interpreter")
    for name, value in (
        ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", str(MEMORY_MB)),
    ):
        os.environ.setdefault(name, value)
    try:
        import sigil_rules

        from runtime import handler
    except ImportError as exc:
        raise Unusable(f"{bundle}: cannot import the handler from the bundle: {exc}") from None
    for imported in (handler, sigil_rules):
        if not str(imported.__file__).startswith(bundle):
            raise Unusable(f"{imported.__name__} was imported from {imported.__file__}, not from {bundle}")
    return handler


def check_shape(event: Any) -> None:
    """Raise Unusable, with the runtime's own reason, for an event of no shape it reads (the handler is not run)."""
    from runtime.sources import detect
    from runtime.sources.limits import Limits

    shape = detect.batch(event, Limits())
    if shape.kind == "unknown":
        raise Unusable(next(shape.items[0].read()).error or "unknown event shape")


def dry_run_from_config() -> DryRun:
    try:
        return DryRun()
    except Exception as exc:  # an invalid outputs.json (OutputConfigError), unreadable or not JSON
        raise Unusable(f"outputs configuration: {type(exc).__name__}: {exc}") from None


def instrument(module: Any, dry_run: DryRun | None) -> dict[str, Any]:
    """Wrap the handler module's seams; return where the batch result and the recording quarantine will be."""
    seen: dict[str, Any] = {}
    real_build, real_report = module.build_runtime, module.report

    def build_runtime(*args: Any) -> Any:
        runtime = real_build(*args)
        seen["quarantine"] = RecordingQuarantine(runtime.quarantine, forward=dry_run is None)
        return dataclasses.replace(runtime, quarantine=seen["quarantine"])

    def report(result: Any) -> None:
        seen["result"] = result
        real_report(result)

    module.build_runtime, module.report = build_runtime, report
    if dry_run is not None:
        module.dispatcher_deliver = lambda deadline: dry_run
    return seen


def fail(reason: str) -> int:
    print(json.dumps({"error": reason}), file=sys.__stdout__)  # stdout is stderr while the handler runs
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
