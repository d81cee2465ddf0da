"""Read a binary stream line by line with a bound on the line length, in constant memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

DISCARD_CHUNK = 1024 * 1024
KEPT_OF_OVERSIZE = 64 * 1024  # the start of an oversize line, kept for the quarantine


@dataclass(frozen=True, slots=True)
class Line:
    """One non-blank line without its line ending; when ``size`` > len(data) the line was cut for its length."""

    number: int
    data: bytes
    size: int

    @property
    def oversize(self) -> bool:
        return self.size > len(self.data)


def read_lines(stream: BinaryIO, max_bytes: int) -> Iterator[Line]:
    """Yield the non-blank lines of ``stream`` with 1-based numbers.

    A line longer than ``max_bytes`` keeps only its first 64 KiB; the rest is read and dropped in
    chunks, so memory stays bounded by ``max_bytes`` whatever the input.
    """
    number = 0
    while True:
        data = stream.readline(max_bytes + 1)
        if not data:
            return
        number += 1
        if len(data) > max_bytes and not data.endswith(b"\n"):
            yield _oversize(stream, number, data)
            continue
        line = _strip(data)
        if line.strip():
            yield Line(number, line, len(line))


def _oversize(stream: BinaryIO, number: int, start: bytes) -> Line:
    """Drop the rest of a line that began with ``start``; return its head and its full size."""
    size = len(start)
    data = start
    while not data.endswith(b"\n"):
        data = stream.readline(DISCARD_CHUNK)
        if not data:
            break
        size += len(data)
    return Line(number, start[:KEPT_OF_OVERSIZE], size - len(data) + len(_strip(data)))


def _strip(data: bytes) -> bytes:
    """Remove one trailing LF or CRLF."""
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith(b"\n"):
        return data[:-1]
    return data
