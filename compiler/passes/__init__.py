"""Optimization passes over expression trees: pure functions run in one ordered list."""

from __future__ import annotations

from dsl.expr import Expr

from .fold_constants import fold_constants

PASSES = (fold_constants,)


def optimize(expr: Expr) -> Expr:
    for rewrite in PASSES:
        expr = rewrite(expr)
    return expr
