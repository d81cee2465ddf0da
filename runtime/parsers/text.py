"""Shared by the text parsers: decode UTF-8 strictly and split into non-blank lines."""

from __future__ import annotations

from collections.abc import Iterator

from runtime.parsers.errors import ParseError


def decode(raw: bytes) -> str:
    """Decode ``raw`` as UTF-8 (a leading BOM is dropped); raise ParseError for anything else."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not UTF-8: {exc}") from None


def lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(1-based number, line)`` for the non-blank lines of ``text``."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield number, line
