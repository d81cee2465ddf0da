"""Structured logging: one JSON object per line on stdout, which Lambda ships to CloudWatch as is."""

from __future__ import annotations

import json
import sys
from typing import Any

PREVIEW_CHARS = 160


def emit(event: str, level: str = "info", **fields: Any) -> None:
    """Write ``{"level", "event", **fields}`` as one JSON line."""
    line = json.dumps({"level": level, "event": event, **fields}, default=str, separators=(",", ":"))
    sys.stdout.write(line + "\n")


def preview(data: bytes | str) -> str:
    """Return the start of a payload, safe to log, for a rejected record."""
    if isinstance(data, bytes):
        data = data[:PREVIEW_CHARS].decode("utf-8", errors="replace")
    return data[:PREVIEW_CHARS]
