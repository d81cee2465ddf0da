"""Coerce parsed values to the field types of a log type (``integer``, ``boolean``...), without mutating.

Text parsers yield strings; JSON yields what the producer wrote. A value that cannot take its field's
type is a reason for the log type to refuse the record. ``null`` and the empty string pass unchanged
(an empty CSV cell is not a type error), as do fields the schema does not type.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runtime.values import text_of

TRUE = frozenset({"true", "t", "yes", "y", "1"})
FALSE = frozenset({"false", "f", "no", "n", "0"})


class Mismatch(ValueError):
    """A value that cannot be coerced to its field's type."""


def _integer(value: Any) -> Any:
    if isinstance(value, bool):
        raise Mismatch("is a boolean, not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return _decimal(int(value.strip(), 0)) if value.strip().lower().startswith("0x") else int(value.strip())
        except ValueError:  # not a number, or more digits than Python converts (sys.get_int_max_str_digits())
            pass
    raise Mismatch("is not an integer")


def _decimal(number: int) -> int:
    """``number`` if it can be written in decimal: hexadecimal has no digit limit, but str() and JSON do."""
    str(number)  # ValueError past the limit; it checks the size first, so a huge number fails at once
    return number


def _float(value: Any) -> Any:
    if isinstance(value, float):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            raise Mismatch("is too large for a number") from None
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            pass
    raise Mismatch("is not a number")


def _boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        folded = value.strip().lower()
        if folded in TRUE:
            return True
        if folded in FALSE:
            return False
    raise Mismatch("is not a boolean")


def _string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    text = text_of(value)
    if text is None:
        raise Mismatch("is not a string")
    return text


def _ip(value: Any) -> Any:
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value.strip())
            return value
        except ValueError:
            pass
    raise Mismatch("is not an IP address")


def _timestamp(value: Any) -> Any:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return value
    raise Mismatch("is not a timestamp")


def _kind(expected: type, name: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, expected):
            return value
        raise Mismatch(f"is not {name}")

    return check


COERCERS: dict[str, Callable[[Any], Any]] = {
    "integer": _integer,
    "float": _float,
    "boolean": _boolean,
    "string": _string,
    "ip": _ip,
    "timestamp": _timestamp,
    "list": _kind(list, "a list"),
    "object": _kind(dict, "an object"),
}


SCALARS = frozenset(COERCERS[kind] for kind in ("integer", "float", "boolean", "string", "ip", "timestamp"))


def _each(coerce_one: Callable[[Any], Any], values: list[Any]) -> list[Any]:
    """A scalar type taken by every element of a list (a repeated kv key, a JSON array): the same list
    when nothing changed; null and empty elements pass, as single values do."""
    new = [v if v is None or v == "" else coerce_one(v) for v in values]
    return values if all(a is b for a, b in zip(new, values, strict=True)) else new


@dataclass(frozen=True, slots=True)
class Field:
    """How to coerce one key and, for objects, the keys below it."""

    coerce: Callable[[Any], Any] | None
    children: Mapping[str, Field]


def field_tree(types: Mapping[str, str]) -> Mapping[str, Field]:
    """Build the tree of typed fields from ``{dotted path: type}``; dotted paths also match flat dotted keys."""
    nested: dict[str, Any] = {}
    for path, kind in sorted(types.items()):
        parts = path.split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {"": None})
        node.setdefault(parts[-1], {"": None})[""] = kind
    tree = _freeze(nested)
    flat = {path: Field(COERCERS.get(kind), {}) for path, kind in types.items() if "." in path}
    return {**flat, **tree}


def _freeze(node: Mapping[str, Any]) -> dict[str, Field]:
    return {
        key: Field(COERCERS.get(child[""] or ""), _freeze({k: v for k, v in child.items() if k}))
        for key, child in node.items()
        if key
    }


def coerce(record: dict[str, Any], tree: Mapping[str, Field], prefix: str = "") -> dict[str, Any]:
    """Return ``record`` with its typed fields coerced (a copy when anything changed); raise Mismatch."""
    changed: dict[str, Any] | None = None
    for key, value in record.items():
        spec = tree.get(key)
        if spec is None or value is None or value == "":
            continue
        new = value
        if spec.coerce is not None:
            try:
                new = _each(spec.coerce, value) if type(value) is list and spec.coerce in SCALARS else spec.coerce(value)
            except Mismatch as exc:
                raise Mismatch(f"{prefix}{key} {_show(value)} {exc}") from None
        if spec.children and isinstance(new, dict):
            new = coerce(new, spec.children, f"{prefix}{key}.")
        if new is not value:
            changed = changed if changed is not None else {}
            changed[key] = new
    return {**record, **changed} if changed else record


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
