"""Run the bundled Lambda handler on samples/kinesis/*.json against a local moto server and print the alerts.

``make demo`` builds ``build/sigil-lambda.zip`` first, then runs ``python scripts/demo.py``. Nothing leaves
127.0.0.1: the samples go through a moto Kinesis stream into the handler, whose outputs dispatcher sends the
alerts to the SNS topic named by SIGIL_ALERTS_TOPIC_ARN (every alert's ``aws-sns:alerts`` output); they are
read back from an SQS queue subscribed to the topic. Exits non-zero when no alert arrives.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from moto_process import AlertSink, MotoServer, kinesis_lambda_event, kinesis_stream, local_aws_env

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "build" / "sigil-lambda.zip"
SAMPLES_DIR = ROOT / "samples" / "kinesis"
STREAM = "sigil-events"
SUMMARY_FIELDS = ("eventName", "userIdentity.type", "userIdentity.userName", "sourceIPAddress", "eventTime")


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the process exit code."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bundle", type=Path, default=BUNDLE, help="the Lambda zip (default: build/sigil-lambda.zip)"
    )
    parser.add_argument(
        "samples", type=Path, nargs="*", help="Kinesis event files (default: samples/kinesis/*.json)"
    )
    args = parser.parse_args(argv)
    if not args.bundle.is_file():
        print(f"error: {args.bundle} not found: run `make bundle` first", file=sys.stderr)
        return 2
    payloads = list(sample_payloads(args.samples or sorted(SAMPLES_DIR.glob("*.json"))))

    server = MotoServer()
    server.start()
    try:
        os.environ.update(local_aws_env(server.url))
        sink = AlertSink.create(server.url, "sigil-alerts")
        os.environ["SIGIL_ALERTS_TOPIC_ARN"] = sink.topic_arn
        event = through_stream(server.url, payloads)
        handler = load_handler(args.bundle)
        logs = io.StringIO()
        with contextlib.redirect_stdout(logs):
            response = handler(event, None)
        alerts = sink.receive()
    finally:
        server.stop()

    for line in logs.getvalue().splitlines():
        print(f"log: {line}")
    for alert in alerts:
        print(render(alert))
    print(f"{len(alerts)} alerts from {len(event['Records'])} records")
    if response["batchItemFailures"]:
        print(f"error: batch item failures {response['batchItemFailures']}", file=sys.stderr)
        return 1
    return 0 if alerts else 1


def sample_payloads(paths: Iterable[Path]) -> Iterable[tuple[bytes, str]]:
    """Yield ``(data, partition key)`` of every record of the Kinesis event files."""
    for path in paths:
        for record in json.loads(path.read_text(encoding="utf-8"))["Records"]:
            yield base64.b64decode(record["kinesis"]["data"]), record["kinesis"]["partitionKey"]


def through_stream(endpoint_url: str, payloads: list[tuple[bytes, str]]) -> dict[str, Any]:
    """Put the payloads into a moto Kinesis stream and read them back as Lambda's event source mapping would."""
    stream = kinesis_stream(endpoint_url, STREAM)
    return kinesis_lambda_event(endpoint_url, stream, [data for data, _ in payloads])


def load_handler(bundle: Path) -> Callable[[dict[str, Any], object], dict[str, Any]]:
    """Import ``runtime.handler.handler`` from the zip, not from the source tree."""
    sys.path.insert(0, str(bundle))
    from runtime import handler as module

    if not module.__file__ or not module.__file__.startswith(str(bundle)):
        raise RuntimeError(f"runtime.handler was imported from {module.__file__}, not from {bundle}")
    return module.handler


def render(alert: dict[str, Any]) -> str:
    """Return an alert as a few readable lines."""
    return (
        f"[{alert.get('level')}] {alert.get('title')}\n"
        f"    rule  {alert.get('rule_id')}    log type {alert.get('log_type')}\n"
        f"    alert {alert.get('alert_id')}\n"
        f"    record {summarize(alert.get('record') or {})}"
    )


def summarize(record: dict[str, Any]) -> str:
    """Return a one-line summary of a record: a few telling fields, or its start."""
    parts = []
    for path in SUMMARY_FIELDS:
        value: Any = record
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None:
            parts.append(f"{path}={value}")
    return " ".join(parts) or json.dumps(record, sort_keys=True)[:120]


if __name__ == "__main__":
    sys.exit(main())
