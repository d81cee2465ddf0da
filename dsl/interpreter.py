"""The reference interpreter: what a rule means, evaluated directly on a dict event.

Every other engine (the compiled matchers) must agree with `evaluate` on every event.

Field values: a missing field and null are "no value"; strings are compared as text; integers,
floats and booleans by their text ("4688", "1.5", "true"); a list matches when any element does;
a mapping has no text. Case-insensitive tests compare `str.casefold()` forms (full Unicode folding).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

import netaddr

from .ast import Rule
from .expr import (
    And,
    Cidr,
    Const,
    Exists,
    Expr,
    FieldRef,
    IsNull,
    Not,
    NumCompare,
    Or,
    Regex,
    StrMatch,
    TimePart,
    Wildcard,
)
from .lower import rule_expr

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()


def get_field(event: Any, path: str) -> Any:
    """The value at `path`: an exact key first, then a dotted path through nested mappings."""
    if not isinstance(event, dict):
        return MISSING
    if path in event:
        return event[path]
    current = event
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return MISSING
    return current


def text_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def texts(value: Any) -> list[str]:
    """The texts a value offers to string tests (one per list element)."""
    if isinstance(value, list):
        return [t for v in value for t in texts(v) if not isinstance(v, list)]
    t = text_of(value)
    return [] if t is None else [t]


def all_texts(event: Any) -> list[str]:
    """Every string, number and boolean anywhere in the event, for keyword searches."""
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
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                return float(value.strip())
            except ValueError:
                return None
    return None


@cache
def _regex(pattern: str, flags: str) -> re.Pattern:
    bits = (re.I if "i" in flags else 0) | (re.M if "m" in flags else 0) | (re.S if "s" in flags else 0)
    return re.compile(pattern, bits)


@cache
def _network(network: str) -> netaddr.IPNetwork:
    return netaddr.IPNetwork(network)


def str_test(op: str, text: str, value: str) -> bool:
    if op == "eq":
        return text == value
    if op == "contains":
        return value in text
    if op == "startswith":
        return text.startswith(value)
    return text.endswith(value)


COMPARE = {
    "eq": lambda a, b: a == b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def timestamp_of(value: Any) -> datetime | None:
    """ISO 8601 text or epoch seconds/milliseconds, as an aware UTC datetime."""
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int | float):
            seconds = value / 1000 if abs(value) > 1e11 else value
            return datetime.fromtimestamp(seconds, UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


def time_part(stamp: datetime, part: str) -> int:
    if part == "week":
        return stamp.isocalendar()[1]
    return getattr(stamp, part)


def ip_in(text: str, network: str) -> bool:
    try:
        address = netaddr.IPAddress(text.strip())
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return False
    return address in _network(network)


def eval_expr(expr: Expr, event: Any) -> bool:
    match expr:
        case And(items):
            return all(eval_expr(i, event) for i in items)
        case Or(items):
            return any(eval_expr(i, event) for i in items)
        case Not(item):
            return not eval_expr(item, event)
        case Const(value):
            return value
    return _leaf(expr, event)


def _candidates(field: str | None, event: Any) -> list[str]:
    return all_texts(event) if field is None else texts(get_field(event, field))


def _leaf(expr: Expr, event: Any) -> bool:
    match expr:
        case StrMatch(field, op, value, cased):
            return any(str_test(op, t if cased else t.casefold(), value) for t in _candidates(field, event))
        case Wildcard(field, regex, cased):
            rx = _regex(regex, "s")
            return any(rx.fullmatch(t if cased else t.casefold()) for t in _candidates(field, event))
        case Regex(field, pattern, flags):
            rx = _regex(pattern, flags)
            return any(rx.search(t) for t in _candidates(field, event))
        case NumCompare(field, op, number):
            value = get_field(event, field)
            values = value if isinstance(value, list) else [value]
            return any((n := number_of(v)) is not None and COMPARE[op](n, number) for v in values)
        case Cidr(field, network):
            return any(ip_in(t, network) for t in texts(get_field(event, field)))
        case IsNull(field):
            return get_field(event, field) in (MISSING, None)
        case Exists(field):
            return get_field(event, field) is not MISSING
        case FieldRef(field, other, op, cased):
            fold = (lambda s: s) if cased else str.casefold
            mine = [fold(t) for t in texts(get_field(event, field))]
            theirs = [fold(t) for t in texts(get_field(event, other))]
            return any(str_test(op, a, b) for a in mine for b in theirs)
        case TimePart(field, part, op, number):
            stamp = timestamp_of(get_field(event, field))
            return stamp is not None and COMPARE[op](time_part(stamp, part), number)
    raise TypeError(f"not an expression node: {expr!r}")


@cache
def _rule_expr_cached(rule: Rule) -> Expr:
    return rule_expr(rule)


def evaluate(rule: Rule, event: Any, placeholders: dict[str, list[str]] | None = None) -> bool:
    """Does `rule` fire on `event`? Escape hatches excepted, this is the whole semantics."""
    expr = rule_expr(rule, placeholders) if placeholders else _rule_expr_cached(rule)
    return eval_expr(expr, event)
