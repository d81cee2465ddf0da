"""Size limits that keep one hostile payload from exhausting the Lambda's memory or time."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

MIB = 1024 * 1024
BUDGET_ENV = "SIGIL_RECORD_BUDGET_MS"


@dataclass(frozen=True, slots=True)
class Limits:
    """``max_record_bytes`` bounds one payload (a line, a message); the next three bound decompression.

    ``record_budget_ms`` bounds the time of one record: parsing and classifying a payload may take it
    once per record the payload holds, matching a record once; a record over it is quarantined (0: no
    budget). It is measured on Lambda's remaining-time clock, so it applies only in the Lambda.
    """

    max_record_bytes: int = 8 * MIB
    max_inflated_bytes: int = 32 * MIB  # an in-memory payload (Kinesis, CloudWatch Logs) after gunzip
    max_gzip_ratio: int = 200  # a streamed object inflating more than this is a gzip bomb...
    ratio_grace_bytes: int = 16 * MIB  # ...once it has inflated past this many bytes
    record_budget_ms: int = 2000  # a record takes well under a millisecond; seconds mean a pathological one

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Limits:
        """Read ``SIGIL_MAX_RECORD_BYTES``, ``SIGIL_MAX_INFLATED_BYTES``, ``SIGIL_MAX_GZIP_RATIO``,
        ``SIGIL_GZIP_RATIO_GRACE_BYTES`` and ``SIGIL_RECORD_BUDGET_MS``."""
        defaults = cls()
        return cls(
            max_record_bytes=int(environ.get("SIGIL_MAX_RECORD_BYTES", defaults.max_record_bytes)),
            max_inflated_bytes=int(environ.get("SIGIL_MAX_INFLATED_BYTES", defaults.max_inflated_bytes)),
            max_gzip_ratio=int(environ.get("SIGIL_MAX_GZIP_RATIO", defaults.max_gzip_ratio)),
            ratio_grace_bytes=int(environ.get("SIGIL_GZIP_RATIO_GRACE_BYTES", defaults.ratio_grace_bytes)),
            record_budget_ms=int(environ.get(BUDGET_ENV, defaults.record_budget_ms)),
        )
