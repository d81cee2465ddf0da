"""Helpers for the stateful-detection tests: a rule tree compiled into a loaded ``sigil_rules``, batches run
through the pipeline with the alerts collected, and ``sigil replay`` run in process."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cli.main import main as sigil
from compiler.build import compile_rules
from runtime.pipeline import BatchResult, Runtime, deliver_each, process_batch
from runtime.rules import load_rules

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/stateful"


def write_tree(root: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (path relative to ``root`` → text) and return ``root``."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def forget_rules_package() -> None:
    """Drop any imported ``sigil_rules`` (and its hooks), so the next load sees a new package."""
    for name in [name for name in sys.modules if name == "sigil_rules" or name.startswith("sigil_rules.")]:
        del sys.modules[name]


@contextlib.contextmanager
def compiled(root: Path, rules_dir: str = "rules") -> Iterator[Any]:
    """Compile ``root/rules_dir`` against the repository's schemas and yield the loaded RuleSet."""
    result = compile_rules([str(root / rules_dir)], str(SCHEMAS), root / "build")
    assert not result.errors, result.errors
    forget_rules_package()
    sys.path.insert(0, str(root / "build"))
    try:
        yield load_rules()
    finally:
        sys.path.remove(str(root / "build"))
        forget_rules_package()


def kinesis_event(*records: dict[str, Any]) -> dict[str, Any]:
    """A Kinesis trigger event carrying one JSON record per Kinesis record."""
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventSourceARN": STREAM_ARN,
                "kinesis": {"sequenceNumber": str(index), "data": base64.b64encode(json.dumps(record).encode()).decode()},
            }
            for index, record in enumerate(records)
        ]
    }


def run_batch(rules: Any, *records: dict[str, Any]) -> tuple[BatchResult, list[dict[str, Any]]]:
    """Process a Kinesis batch of ``records`` with ``rules``; return the result and the alerts sent."""
    sent: list[dict[str, Any]] = []
    result = process_batch(kinesis_event(*records), Runtime(rules, deliver_each(sent.append)))
    return result, sent


def replay(args: list[str]) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``sigil replay ARGS`` in process: exit status, the JSON lines printed, and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = sigil(["replay", "--schemas", str(SCHEMAS), *args])
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()
