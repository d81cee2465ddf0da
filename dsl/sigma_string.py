"""Sigma string values: wildcards `*` and `?`, and backslash escaping as pySigma reads it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

STAR = "\x00*"  # a wildcard part; never produced by text since \x00 can't be escaped into a part
QMARK = "\x00?"
WILDCARDS = (STAR, QMARK)

Pattern = tuple[str, ...]  # literal text parts and STAR / QMARK markers


def parse(text: str) -> Pattern:
    """Split `text` into literal parts and wildcards.

    `\\*`, `\\?` and `\\\\` are a literal `*`, `?` and `\\`; any other backslash stays as it is.
    """
    parts: list[str] = []
    buf: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "*?\\":
            buf.append(text[i + 1])
            i += 2
            continue
        if ch in "*?":
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(STAR if ch == "*" else QMARK)
        else:
            buf.append(ch)
        i += 1
    if buf:
        parts.append("".join(buf))
    return _merge(parts)


def literal(text: str) -> Pattern:
    """A pattern with no wildcards."""
    return (text,) if text else ()


def _merge(parts: list[str]) -> Pattern:
    merged: list[str] = []
    for part in parts:
        if merged and part not in WILDCARDS and merged[-1] not in WILDCARDS:
            merged[-1] += part
        elif part == STAR and merged and merged[-1] == STAR:
            continue
        elif part:
            merged.append(part)
    return tuple(merged)


def has_wildcards(pattern: Pattern) -> bool:
    return any(p in WILDCARDS for p in pattern)


def text_of(pattern: Pattern) -> str:
    """The literal text of a wildcard-free pattern."""
    return "".join(pattern)


def wrap(pattern: Pattern, before: bool, after: bool) -> Pattern:
    """Add `*` before and/or after (contains, endswith, startswith), without doubling one."""
    parts = list(pattern)
    if before and (not parts or parts[0] != STAR):
        parts.insert(0, STAR)
    if after and (not parts or parts[-1] != STAR):
        parts.append(STAR)
    return _merge(parts)


def map_text(pattern: Pattern, fn: Callable[[str], str]) -> Pattern:
    """Apply `fn` to each literal part."""
    return tuple(p if p in WILDCARDS else fn(p) for p in pattern)


def to_regex(pattern: Pattern) -> str:
    """A regex for a full match of the pattern (use with re.DOTALL)."""
    out = []
    for part in pattern:
        out.append(".*" if part == STAR else "." if part == QMARK else re.escape(part))
    return "".join(out)


def escape(text: str) -> str:
    """Sigma text for a literal string (the inverse of `parse` on wildcard-free input)."""
    out = []
    for i, ch in enumerate(text):
        if ch in "*?":
            out.append("\\" + ch)
        elif ch == "\\" and (i + 1 == len(text) or text[i + 1] in "*?\\"):
            out.append("\\\\")
        else:
            out.append(ch)
    return "".join(out)


def unparse(pattern: Pattern) -> str:
    return "".join("*" if p == STAR else "?" if p == QMARK else escape(p) for p in pattern)


def parse_parts(parts: Iterable[str]) -> Pattern:
    """Normalize a sequence of literal parts and wildcard markers (adjacent literals joined)."""
    return _merge(list(parts))
