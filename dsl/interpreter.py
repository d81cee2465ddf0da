"""The reference interpreter: what a rule means, evaluated directly on a dict event.

Every other engine (the compiled matchers) must agree with `evaluate` on every event.

How a field value reads as text, a number, an address or a time is defined once, in
`runtime.values`, and shared with the generated code; how tests combine is defined here.
Case-insensitive tests compare `str.casefold()` forms (full Unicode folding).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from runtime.helpers import MISSING, get_field
from runtime.regex import Regex as Compiled
from runtime.regex import compile_regex
from runtime.values import all_texts, ip_in, number_of, texts, time_part

from .ast import PyRef, Rule
from .expr import (
    And,
    AnyAffix,
    Cidr,
    Const,
    Exists,
    Expr,
    FieldRef,
    InSet,
    IsNull,
    Not,
    NumCompare,
    Or,
    PyCall,
    Regex,
    StrMatch,
    TimePart,
    Wildcard,
)
from .lower import rule_expr
from .python_hooks import load_function


@cache
def _regex(pattern: str, flags: str) -> Compiled:
    """The runtime's engine (RE2), so the interpreter and the generated matchers read a regex alike."""
    return compile_regex(pattern, flags)


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
        case InSet(field, values, cased):
            return any((t if cased else t.casefold()) in values for t in _candidates(field, event))
        case AnyAffix(field, op, values, cased):
            return any(str_test(op, t if cased else t.casefold(), v) for t in _candidates(field, event) for v in values)
        case Wildcard(field, regex, cased):
            rx = _regex(regex, "s")
            return any(rx.fullmatch(t if cased else t.casefold()) for t in _candidates(field, event))
        case Regex(field, pattern, flags):
            rx = _regex(pattern, flags)
            return any(rx.search(t) for t in _candidates(field, event))
        case NumCompare(field, op, number):
            found = get_field(event, field)
            return any((n := number_of(v)) is not None and COMPARE[op](n, number) for v in (found if isinstance(found, list) else [found]))
        case Cidr(field, network):
            return ip_in(get_field(event, field), network)
        case IsNull(field):
            return get_field(event, field) in (MISSING, None)
        case Exists(field):
            return get_field(event, field) is not MISSING
        case FieldRef(field, other, op, cased):
            fold = (lambda s: s) if cased else str.casefold
            mine = [fold(t) for t in texts(get_field(event, field))]
            theirs = [fold(t) for t in texts(get_field(event, other))]
            return any(str_test(op, a, b) for a in mine for b in theirs)
        case PyCall(module_path, function, resolved):
            return bool(_hook(module_path, function, resolved)(event))
        case TimePart(field, part, op, number):
            part_value = time_part(get_field(event, field), part)
            return part_value is not None and COMPARE[op](part_value, number)
    raise TypeError(f"not an expression node: {expr!r}")


@cache
def _hook(module_path: str, function: str, resolved: str | None) -> Callable[..., Any]:
    return load_function(PyRef(module_path, function, resolved=resolved), resolved or ".")


@cache
def _rule_expr_cached(rule: Rule) -> Expr:
    return rule_expr(rule)


def evaluate(rule: Rule, event: Any, placeholders: dict[str, list[str]] | None = None) -> bool:
    """Does `rule` fire on `event`? Escape hatches excepted, this is the whole semantics."""
    expr = rule_expr(rule, placeholders) if placeholders else _rule_expr_cached(rule)
    return eval_expr(expr, event)
