"""Lower a rule's detection (selections + condition) into one `dsl.expr` tree."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable

from .ast import AndCond, Condition, Detection, NotCond, Of, OrCond, Ref, Rule, Selection
from .expr import Expr, Not, PyCall, all_of, any_of
from .modifiers import lower_item


class LowerError(Exception):
    """A condition that names something the detection lacks."""


def selection_expr(selection: Selection, placeholders: dict[str, list[str]] | None = None) -> Expr:
    return any_of([all_of([lower_item(item, placeholders) for item in alt]) for alt in selection.alternatives])


def matching_names(detection: Detection, pattern: str | None) -> list[str]:
    """Identifiers selected by `x of pattern` (None = them); names starting with `_` never are.

    As in the spec and pySigma, `_` identifiers can only be named directly, even by a pattern such as `_f*`.
    """
    names = [s.name for s in detection.selections if not s.name.startswith("_")]
    return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def condition_expr(cond: Condition, detection: Detection, resolve: Callable[[str], Expr]) -> Expr:
    match cond:
        case Ref(name):
            return resolve(name)
        case Of(quantifier, pattern):
            names = matching_names(detection, pattern)
            if not names:
                raise LowerError(f"'{pattern or 'them'}' selects no search identifier")
            parts = [resolve(n) for n in names]
            return all_of(parts) if quantifier == "all" else any_of(parts)
        case NotCond(item):
            return Not(condition_expr(item, detection, resolve))
        case AndCond(items):
            return all_of([condition_expr(i, detection, resolve) for i in items])
        case OrCond(items):
            return any_of([condition_expr(i, detection, resolve) for i in items])
    raise TypeError(cond)


def rule_expr(rule: Rule, placeholders: dict[str, list[str]] | None = None, extra: dict[str, Expr] | None = None) -> Expr:
    """The whole rule as one expression; `extra` supplies identifiers defined outside the detection."""
    detection = rule.detection
    cache: dict[str, Expr] = {name: PyCall(ref.module_path, ref.function, ref.resolved) for name, ref in rule.python.conditions}
    cache.update(extra or {})

    def resolve(name: str) -> Expr:
        if name not in cache:
            selection = detection.selection(name)
            if selection is None:
                raise LowerError(f"unknown search identifier '{name}'")
            cache[name] = selection_expr(selection, placeholders)
        return cache[name]

    return any_of([condition_expr(c, detection, resolve) for c in detection.conditions])
