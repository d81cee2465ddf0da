"""Turn a byte stream (an S3 object body, a local file) into line payloads: gunzipped if gzip, bounded."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

from runtime.sources import Payload, failed
from runtime.sources.compression import GZIP_MAGIC, CountingReader, DecodeError, GzipStream
from runtime.sources.limits import Limits
from runtime.sources.lines import read_lines

BUFFER_BYTES = 1024 * 1024


def line_payloads(
    body: BinaryIO, source: str, source_arn: str, where: Mapping[str, Any], limits: Limits
) -> Iterator[Payload]:
    """Yield one payload per non-blank line of ``body``; the first line rides along as ``header``.

    Oversize lines, undecodable gzip (truncated, invalid, a bomb) and an empty stream become failed
    payloads; ``where`` (plus ``line``) is their origin. Read errors of ``body`` propagate.
    """
    compressed = CountingReader(body)
    reader: io.BufferedReader[Any] = io.BufferedReader(compressed, BUFFER_BYTES)
    if reader.peek(2)[:2] == GZIP_MAGIC:
        inflated = GzipStream(reader, compressed, limits.max_gzip_ratio, limits.ratio_grace_bytes)
        reader = io.BufferedReader(inflated, BUFFER_BYTES)
    header: bytes | None = None
    count = 0
    try:
        for line in read_lines(reader, limits.max_record_bytes):
            count += 1
            origin = {**where, "line": line.number}
            if line.oversize:
                reason = f"record of {line.size} bytes exceeds the limit of {limits.max_record_bytes}"
                yield failed(line.data, source, source_arn, reason, size=line.size, **origin)
                continue
            header = line.data if header is None else header
            yield Payload(line.data, source, source_arn, origin, header=header)
    except DecodeError as exc:
        yield failed(b"", source, source_arn, f"{exc} (after line {count})", **where)
        return
    if count == 0:
        yield failed(b"", source, source_arn, "empty object", **where)
