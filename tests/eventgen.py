"""Hypothesis strategies for events that exercise a rule: its own literals, mutated into near misses."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from compiler.ir import AnyAffix, InSet
from dsl import expr as E
from dsl.sigma_string import QMARK, STAR


def leaf_literals(node: E.Expr) -> dict[str | None, list[Any]]:
    """Field name (None for keywords) → values the expression tests for."""
    out: dict[str | None, list[Any]] = {}

    def add(field, value):
        out.setdefault(field, []).append(value)

    def walk(n: E.Expr) -> None:
        match n:
            case E.And(items) | E.Or(items):
                for i in items:
                    walk(i)
            case E.Not(item):
                walk(item)
            case E.StrMatch(field, _, value, _):
                add(field, value)
            case InSet(field, values, _) | AnyAffix(field, _, values, _):
                for value in values:
                    add(field, value)
            case E.Wildcard(field, regex, _):
                add(field, regex.replace(".*", "").replace("\\", ""))
            case E.Regex(field, pattern, _):
                add(field, pattern.strip("^$").replace("\\", ""))
            case E.NumCompare(field, _, number):
                add(field, number)
                add(field, number + 1)
                add(field, number - 1)
                add(field, str(number))
            case E.Cidr(field, network):
                add(field, network.split("/")[0])
            case E.IsNull(field) | E.Exists(field):
                add(field, None)
            case E.FieldRef(field, other, _, _):
                add(field, "shared")
                add(other, "SHARED")
            case E.TimePart(field, _, _, _):
                add(field, "2024-05-14T09:12:31Z")

    walk(node)
    return out


def mutations(value: Any) -> st.SearchStrategy:
    """The value itself, case flips, with prefixes and suffixes, as number or text, cut short."""
    if value is None:
        return st.just(None)
    if isinstance(value, bool):
        return st.sampled_from([value, not value, str(value).lower(), str(value)])
    if isinstance(value, int | float):
        return st.sampled_from([value, str(value), value + 1, -value, f" {value}"])
    text = str(value).replace(STAR, "").replace(QMARK, "")
    affix = st.sampled_from(["", "x", "X", " ", "\\", "-", "/", "ß", "İ"])
    return st.one_of(
        st.just(text),
        st.just(text.upper()),
        st.just(text.swapcase()),
        st.builds(lambda a, b: a + text + b, affix, affix),
        st.just(text[1:]),
        st.just(text[:-1]),
        st.text(max_size=6),
    )


def set_path(event: dict, path: str, value: Any, flat: bool) -> None:
    if flat or "." not in path:
        event[path] = value
        return
    parts = path.split(".")
    node = event
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


@st.composite
def events_for(draw, literals: dict[str | None, list[Any]], extra_fields: tuple[str, ...] = ()):
    """An event whose fields each take (or lack) a mutated literal of the rule, sometimes a list."""
    event: dict[str, Any] = {}
    fields = sorted({f for f in literals if f is not None} | set(extra_fields))
    for field in fields:
        choice = draw(st.integers(0, 9))
        if choice == 0:
            continue  # missing
        candidates = literals.get(field) or ["value"]
        value = draw(st.sampled_from(candidates).flatmap(mutations))
        if choice == 1:
            value = [value, draw(st.sampled_from(candidates).flatmap(mutations))]
        set_path(event, field, value, flat=draw(st.booleans()) if choice == 2 else False)
    if None in literals:
        event["message"] = draw(st.sampled_from(literals[None]).flatmap(mutations))
    return event
