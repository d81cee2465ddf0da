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
    for number, line in enumerate(split_lines(text), 1):
        if line.strip():
            yield number, line


def split_lines(text: str) -> list[str]:
    """``text`` split at ``\\n`` (a ``\\r`` before it dropped), and nowhere else.

    Not ``str.splitlines``, which also breaks at 0x1C-0x1E, 0x85, U+2028...: auditd's ENRICHED format
    puts 0x1D between a record's raw and interpreted fields, and a log value may hold any of them.
    """
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return [p[:-1] if p.endswith("\r") else p for p in parts]
