"""How event values read as text, numbers, addresses and times: one definition for every engine.

The reference interpreter (dsl/) and the generated matchers both call these, so a value means the
same thing everywhere: strings are text; integers, floats and booleans read as "4688", "1.5",
"true"; null, mappings and absent fields have no text; a list offers each element.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any


def text_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def texts(value: Any) -> list[str]:
    """The texts a field value offers to string tests (one per list element)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for v in value if not isinstance(v, list | dict) and (t := text_of(v)) is not None]
    t = text_of(value)
    return [] if t is None else [t]


def folded_texts(value: Any) -> list[str]:
    """`texts` case-folded, for case-insensitive tests."""
    if isinstance(value, str):
        return [value.casefold()]
    return [t.casefold() for t in texts(value)]


def all_texts(event: Any) -> list[str]:
    """Every string, number and boolean anywhere in the event, in document order (keyword searches)."""
    out: list[str] = []
    stack = [event]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            stack.extend(reversed(value))
        else:
            t = text_of(value)
            if t is not None:
                out.append(t)
    return out


def number_of(value: Any) -> int | float | None:
    """A number, or the number a numeric string spells; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return None
    return None


def numbers(value: Any) -> list[int | float]:
    items = value if isinstance(value, list) else [value]
    return [n for v in items if (n := number_of(v)) is not None]


def timestamp_of(value: Any) -> datetime | None:
    """ISO 8601 text or epoch seconds (milliseconds above 1e11), as an aware UTC datetime."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            seconds = value / 1000 if abs(value) > 1e11 else value
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def time_part(value: Any, part: str) -> int | None:
    """minute, hour, day (of month), week (ISO), month or year of a timestamp value."""
    stamp = timestamp_of(value)
    if stamp is None:
        return None
    return stamp.isocalendar()[1] if part == "week" else getattr(stamp, part)


@lru_cache(maxsize=256)
def network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr, strict=False)


def ip_in(value: Any, cidr: str) -> bool:
    """Does any text of the value parse as an IP address inside `cidr`?"""
    net = network(cidr)
    for text in texts(value):
        try:
            if ipaddress.ip_address(text.strip()) in net:
                return True
        except ValueError:
            continue
    return False
