"""Regenerate samples/kinesis/<name>.json (Lambda Kinesis events) from samples/records/<name>.jsonl.

Each line of a ``.jsonl`` file is one CloudTrail record; it becomes one Kinesis record whose data is
``{"Records": [record]}``, as CloudTrail delivers. Also samples/events/<trigger>.json: the CloudTrail
records as the Lambda event of every trigger Sigil reads (``event_samples.EVENTS``), for ``sigil invoke``.
Output is deterministic: edit the ``.jsonl``, rerun.
Usage: ``python scripts/make_samples.py [--check]``.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RECORDS_DIR = ROOT / "samples" / "records"
KINESIS_DIR = ROOT / "samples" / "kinesis"
EVENTS_DIR = ROOT / "samples" / "events"
EVENT_RECORDS = RECORDS_DIR / "cloudtrail.jsonl"
REGION = "us-east-1"
STREAM_ARN = f"arn:aws:kinesis:{REGION}:123456789012:stream/sigil-events"
SHARD_ID = "shardId-000000000000"
FIRST_SEQUENCE = 49650338271490256608559692538361571095921575989136588800  # 56 digits, like Kinesis
ARRIVAL = 1715677951.0  # 2024-05-14T09:12:31Z


def kinesis_record(
    data: bytes,
    sequence_number: str,
    partition_key: str,
    *,
    arrival: float = ARRIVAL,
    stream_arn: str = STREAM_ARN,
    compress: bool = False,
) -> dict[str, Any]:
    """Return one record of a Lambda Kinesis event carrying ``data`` (gzip it first when ``compress``)."""
    if compress:
        data = gzip.compress(data, mtime=0)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence_number,
            "data": base64.b64encode(data).decode("ascii"),
            "approximateArrivalTimestamp": arrival,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{SHARD_ID}:{sequence_number}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/sigil-lambda",
        "awsRegion": REGION,
        "eventSourceARN": stream_arn,
    }


def kinesis_event(payloads: Iterable[bytes], *, compress: bool = False) -> dict[str, Any]:
    """Return a Lambda Kinesis event with one record per payload and consecutive sequence numbers."""
    return {
        "Records": [
            kinesis_record(
                data, str(FIRST_SEQUENCE + index), f"pk-{index}", arrival=ARRIVAL + index, compress=compress
            )
            for index, data in enumerate(payloads)
        ]
    }


def cloudtrail_payload(record: dict[str, Any]) -> bytes:
    """Wrap one CloudTrail record as CloudTrail delivers it: ``{"Records": [record]}``."""
    return json.dumps({"Records": [record]}, separators=(",", ":")).encode()


def render(jsonl: Path) -> str:
    """Return the Kinesis event file text for the records of ``jsonl``."""
    event = kinesis_event(cloudtrail_payload(record) for record in read_records(jsonl))
    return json.dumps(event, indent=2) + "\n"


def read_records(jsonl: Path) -> list[dict[str, Any]]:
    """The records of a ``.jsonl`` file."""
    return [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines() if line.strip()]


def targets() -> dict[Path, str]:
    """Every generated file and its text."""
    from event_samples import EVENTS

    texts = {KINESIS_DIR / f"{jsonl.stem}.json": render(jsonl) for jsonl in sorted(RECORDS_DIR.glob("*.jsonl"))}
    records = read_records(EVENT_RECORDS)
    for name, build in EVENTS.items():
        texts[EVENTS_DIR / f"{name}.json"] = json.dumps(build(records), indent=2) + "\n"
    return texts


def main(argv: list[str] | None = None) -> int:
    """Write every samples/kinesis/*.json and samples/events/*.json, or with ``--check`` exit 1 if any is out of date."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only report files that are out of date")
    args = parser.parse_args(argv)
    stale = []
    for target, text in targets().items():
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    for target in stale:
        print(f"{'out of date' if args.check else 'wrote'}: {target.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
