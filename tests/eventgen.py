"""Hypothesis strategies for events that exercise a rule: its own literals, mutated into near misses."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

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
            case E.InSet(field, values, _) | E.AnyAffix(field, _, values, _):
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


AFFIX = st.sampled_from(["", "x", "X", " ", "\\", "-", "/", "ß", "İ"])
VARIANTS = st.sampled_from(["same", "same", "same", "upper", "swapcase", "affixed", "affixed", "head", "tail", "noise"])


@st.composite
def mutations(draw, value: Any) -> Any:
    """The value itself (most often, so rules do fire), case flips, with affixes, cut short, or noise."""
    if value is None:
        return None
    if isinstance(value, bool):
        return draw(st.sampled_from([value, value, not value, str(value).lower(), str(value)]))
    if isinstance(value, int | float):
        return draw(st.sampled_from([value, value, str(value), value + 1, -value, f" {value}"]))
    text = str(value).replace(STAR, "").replace(QMARK, "")
    variant = draw(VARIANTS)
    if variant == "upper":
        return text.upper()
    if variant == "swapcase":
        return text.swapcase()
    if variant == "affixed":
        return draw(AFFIX) + text + draw(AFFIX)
    if variant == "head":
        return text[1:]
    if variant == "tail":
        return text[:-1]
    if variant == "noise":
        return draw(st.text(max_size=6))
    return text


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
        value = draw(mutations(draw(st.sampled_from(candidates))))
        if choice == 1:
            value = [value, draw(mutations(draw(st.sampled_from(candidates))))]
        elif choice in (3, 4) and isinstance(value, str) and len(candidates) > 1:
            # several of the field's literals in one text: what `contains|all` and chained tests need
            extra = draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=3))
            value = " ".join([value, *(str(draw(mutations(v))) for v in extra if v is not None)])
        set_path(event, field, value, flat=draw(st.booleans()) if choice == 2 else False)
    if None in literals:
        event["message"] = draw(mutations(draw(st.sampled_from(literals[None]))))
    return event


@st.composite
def witness(draw, node: Any) -> dict:
    """An event built to satisfy the tree: every child of an and, one of an or, nothing for a not.

    Conflicting choices overwrite each other and negations are left to chance, so witnesses still
    miss sometimes; together with `events_for` they give both outcomes often.
    """
    event: dict[str, Any] = {}

    def put(field, value):
        if field is None:
            event["message"] = value
        else:
            set_path(event, field, value, flat=False)

    def satisfy(n) -> None:
        match n:
            case E.And(items):
                for item in items:
                    satisfy(item)
            case E.Or(items):
                satisfy(draw(st.sampled_from(items)))
            case E.StrMatch(field, op, value, _):
                put(field, _affixed(draw, op, value))
            case E.InSet(field, values, _):
                put(field, draw(st.sampled_from(values)))
            case E.AnyAffix(field, op, values, _):
                put(field, _affixed(draw, op, draw(st.sampled_from(values))))
            case E.NumCompare(field, op, number):
                put(field, {"lt": number - 1, "lte": number, "gt": number + 1, "gte": number}[op])
            case E.Exists(field):
                put(field, "present")
            case E.Cidr(field, network):
                put(field, network.split("/")[0])
            case E.FieldRef(field, other, _, _):
                put(field, "same")
                put(other, "same")
            case _:
                pass  # not, null, regexes, wildcards, time parts, hooks: left to the literal-based events

    satisfy(node)
    return event


def _affixed(draw, op: str, value: str) -> str:
    before = draw(AFFIX) if op in ("contains", "endswith") else ""
    after = draw(AFFIX) if op in ("contains", "startswith") else ""
    return before + value + after


def rule_events(node: Any) -> st.SearchStrategy:
    """Events for differential tests: witnesses of the tree and mutations of its literals, half each."""
    return st.one_of(witness(node), events_for(leaf_literals(node)))
