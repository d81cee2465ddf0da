"""Smoke test of bench/runtime_bench.py at tiny sizes: its generators, its rows, its S3 memory probe."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/ is not an installed package
from bench import runtime_bench

pytestmark = pytest.mark.slow


def test_generated_inputs_are_deterministic_and_varied() -> None:
    """The same seed gives the same lines, and the lines are not all copies of one sample."""
    for generate, _ in runtime_bench.INPUTS.values():
        first, again = list(generate(50, seed=7)), list(generate(50, seed=7))
        assert first == again
        assert len(set(first)) > 40
        assert list(generate(50, seed=8)) != first


def test_object_chunks_reach_the_size_in_bounded_blocks() -> None:
    """The S3 object generator yields whole lines totalling the size asked, in blocks of about the part size."""
    chunks = list(runtime_bench.object_chunks(3 * 1024 * 1024, chunk=1024 * 1024))
    data = b"".join(chunks)
    assert 3 * 1024 * 1024 <= len(data) < 3 * 1024 * 1024 + 10_000
    assert data.endswith(b"\n") and all(len(chunk) < 1024 * 1024 + 10_000 for chunk in chunks)


def test_measure_returns_sane_rows(tmp_path: Path) -> None:
    """A tiny run reports positive rates for every input, every alert reaching SNS, every S3 line, a bounded peak."""
    size = 5 * 1024 * 1024
    rows = dict(runtime_bench.measure(tmp_path, records=300, handler_records=250, s3_bytes=size))
    pipeline = [value for label, value in rows.items() if label.startswith("pipeline, no-op deliver")]
    assert len(pipeline) == 2 * len(runtime_bench.INPUTS)  # every type tried, and the source map naming it
    for value in [*pipeline, rows["handler end to end, SNS on moto: CloudTrail JSON"]]:
        rate, us = re.match(r"([\d,]+) records/s = ([\d.]+) µs/record", value).groups()
        assert int(rate.replace(",", "")) > 0 and float(us) > 0
        assert "0 quarantined, 0 failed items" in value
    handler = rows["handler end to end, SNS on moto: CloudTrail JSON"]
    published, received = re.search(r"(\d+) alerts, .* (\d+) alerts read back", handler).groups()
    assert published == received
    (memory,) = [value for label, value in rows.items() if label.endswith("Lambda-side peak memory")]
    peak = int(re.match(r"(\d+) MB peak RSS", memory).group(1))
    assert 10 < peak < runtime_bench.TARGET_PEAK_MB
    (stream,) = [value for label, value in rows.items() if label.endswith("throughput")]
    assert "0 quarantined, 0 failed items" in stream
    lines = sum(chunk.count(b"\n") for chunk in runtime_bench.object_chunks(size))
    assert f"({lines:,} lines in" in stream
