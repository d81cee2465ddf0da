"""Structured logging: one JSON object per line on stdout, which Lambda ships to CloudWatch as is."""

from __future__ import annotations

import json
import sys
from typing import Any

PREVIEW_CHARS = 160

_bound: dict[str, Any] = {}


def bind(**fields: Any) -> None:
    """Add ``fields`` (such as the request id) to every following line; None values unbind."""
    for name, value in fields.items():
        if value is None:
            _bound.pop(name, None)
        else:
            _bound[name] = value


def emit(event: str, level: str = "info", **fields: Any) -> None:
    """Write ``{"level", "event", **bound fields, **fields}`` as one JSON line."""
    line = json.dumps({"level": level, "event": event, **_bound, **fields}, default=str, separators=(",", ":"))
    sys.stdout.write(line + "\n")


def write(document: dict[str, Any]) -> None:
    """Write ``document`` as one JSON line exactly as given (metric lines must not gain fields)."""
    sys.stdout.write(json.dumps(document, default=str, separators=(",", ":")) + "\n")


def brief(exc: BaseException) -> str:
    """An exception as a one-line reason: its type and the start of its message."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def preview(data: bytes | str) -> str:
    """Return the start of a payload, safe to log, for a rejected record."""
    if isinstance(data, bytes):
        data = data[:PREVIEW_CHARS].decode("utf-8", errors="replace")
    return data[:PREVIEW_CHARS]
