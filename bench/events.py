"""Realistic process-creation events, built deterministically from SigmaHQ's regression events.

Each synthetic event resamples a real Sysmon process-creation event and gives it a new user, host,
process GUIDs, process ids and time, so field values vary the way they do across a fleet.
"""

from __future__ import annotations

import glob
import json
import random
import uuid
from pathlib import Path
from typing import Any

from runtime.parsers.evtx import flatten

SYSMON = "Microsoft-Windows-Sysmon/Operational"
USERS = [f"CORP\\{name}" for name in ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "svc_backup", "svc_sql")]
HOSTS = [f"{prefix}-{n:03d}.corp.example" for prefix in ("ws", "srv", "dc", "lab") for n in range(25)]


def regression_events(sigma_dir: Path) -> list[dict[str, Any]]:
    """Every regression event, flattened from the evtx_dump layout."""
    events = []
    decoder = json.JSONDecoder()
    for path in sorted(glob.glob(str(sigma_dir / "regression_data" / "**" / "*.json"), recursive=True)):
        text, index = Path(path).read_text(encoding="utf-8"), 0
        while index < len(text):
            while index < len(text) and text[index].isspace():
                index += 1
            if index >= len(text):
                break
            value, index = decoder.raw_decode(text, index)
            events.extend(flatten(v) for v in (value if isinstance(value, list) else [value]))
    return events


def process_creations(sigma_dir: Path) -> list[dict[str, Any]]:
    return [e for e in regression_events(sigma_dir) if e.get("EventID") == 1 and e.get("Channel") == SYSMON]


def synthesize(bases: list[dict[str, Any]], count: int, seed: int = 20261125) -> list[bytes]:
    """`count` JSON lines: resampled base events with fresh users, hosts, GUIDs, PIDs and times."""
    rng = random.Random(seed)
    lines = []
    for n in range(count):
        event = dict(rng.choice(bases))
        event["User"] = rng.choice(USERS)
        event["Computer"] = rng.choice(HOSTS)
        for key in ("ProcessGuid", "ParentProcessGuid", "LogonGuid"):
            if key in event:
                event[key] = "{" + str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper() + "}"
        for key in ("ProcessId", "ParentProcessId"):
            if key in event:
                event[key] = rng.randrange(4, 65536, 4)
        event["UtcTime"] = f"2026-11-{1 + n % 28:02d} {n % 24:02d}:{n % 60:02d}:{(n * 7) % 60:02d}.{n % 1000:03d}"
        lines.append(json.dumps(event, sort_keys=True).encode())
    return lines


def with_distinct_command_lines(lines: list[bytes]) -> list[bytes]:
    """The same events with every CommandLine and ParentCommandLine made unique (a trailing ` #n`):
    the worst case for the runtime's memo of recently seen field values."""
    out = []
    for n, line in enumerate(lines):
        event = json.loads(line)
        for key in ("CommandLine", "ParentCommandLine"):
            if isinstance(event.get(key), str):
                event[key] += f" #{n}"
        out.append(json.dumps(event, sort_keys=True).encode())
    return out
