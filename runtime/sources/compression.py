"""Bounded gzip decompression: whole payloads in memory, and streams read chunk by chunk."""

from __future__ import annotations

import io
import zlib
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
GZIP_WBITS = 16 + zlib.MAX_WBITS
CHUNK_BYTES = 256 * 1024


class DecodeError(ValueError):
    """Bytes that cannot be decoded into a payload (bad base64, bad or truncated gzip, too large)."""


def is_gzip(data: bytes) -> bool:
    """Does ``data`` start with the gzip magic bytes?"""
    return data[:2] == GZIP_MAGIC


def gunzip(raw: bytes, max_bytes: int) -> bytes:
    """Decompress every gzip member of ``raw``, refusing output larger than ``max_bytes``."""
    out: list[bytes] = []
    size = 0
    while raw:
        inflater = zlib.decompressobj(wbits=GZIP_WBITS)
        try:
            chunk = inflater.decompress(raw, max_bytes - size + 1)
        except zlib.error as exc:
            raise DecodeError(f"invalid gzip: {exc}") from None
        size += len(chunk)
        if size > max_bytes:
            raise DecodeError(f"gzip payload exceeds {max_bytes} bytes")
        if not inflater.eof:
            raise DecodeError("truncated gzip payload")
        out.append(chunk)
        raw = inflater.unused_data
    return b"".join(out)


class CountingReader(io.RawIOBase):
    """A raw binary stream over any object with ``read(n)`` (a boto3 body), counting the bytes read."""

    def __init__(self, source: BinaryIO) -> None:
        self._source = source
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._source.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.bytes_read += n
        return n


class GzipStream(io.RawIOBase):
    """Inflate a gzip stream (every member) chunk by chunk; refuse bombs and report truncation.

    A stream that inflates past ``grace_bytes`` to more than ``max_ratio`` times the compressed bytes
    read so far raises DecodeError, as does a stream that ends inside a member or holds invalid data.
    """

    def __init__(self, source: BinaryIO, compressed: CountingReader, max_ratio: int, grace_bytes: int) -> None:
        self._source = source
        self._compressed = compressed
        self._max_ratio = max_ratio
        self._grace_bytes = grace_bytes
        self._inflater = zlib.decompressobj(wbits=GZIP_WBITS)
        self._pending = b""
        self.bytes_inflated = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while True:
            if self._inflater.eof:
                rest = self._inflater.unused_data or self._source.read(CHUNK_BYTES)
                if not rest:
                    return 0
                self._inflater = zlib.decompressobj(wbits=GZIP_WBITS)
                self._pending = rest
            if not self._pending:
                self._pending = self._source.read(CHUNK_BYTES)
                if not self._pending:
                    raise DecodeError(f"truncated gzip stream after {self.bytes_inflated} bytes")
            try:
                out = self._inflater.decompress(self._pending, len(buffer))
            except zlib.error as exc:
                raise DecodeError(f"invalid gzip: {exc}") from None
            self._pending = self._inflater.unconsumed_tail
            if out:
                self._count(len(out))
                buffer[: len(out)] = out
                return len(out)

    def _count(self, n: int) -> None:
        """Add ``n`` inflated bytes and refuse a decompression bomb."""
        self.bytes_inflated += n
        if (
            self.bytes_inflated > self._grace_bytes
            and self.bytes_inflated > self._max_ratio * max(self._compressed.bytes_read, 1)
        ):
            raise DecodeError(
                f"gzip bomb: {self.bytes_inflated} bytes inflated from {self._compressed.bytes_read}"
                f" (ratio above {self._max_ratio})"
            )
