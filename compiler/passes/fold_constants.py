"""Fold constants and flatten nested and/or.

Example:
    >>> from dsl.expr import And, Const, Exists, Not, Or
    >>> fold_constants(And((Const(True), Or((Exists("a"), Or((Exists("b"),)))))))
    Or(items=(Exists(field='a'), Exists(field='b')))
    >>> fold_constants(Or((Exists("a"), Const(True))))
    Const(value=True)
    >>> fold_constants(And((Exists("a"), Not(Exists("a")))))
    Const(value=False)
"""

from __future__ import annotations

from dsl.expr import And, Const, Expr, Not, Or


def fold_constants(expr: Expr) -> Expr:
    match expr:
        case And(items) | Or(items):
            kind = type(expr)
            absorbing = isinstance(expr, Or)  # True absorbs an Or, False absorbs an And
            flat: list[Expr] = []
            for item in map(fold_constants, items):
                if isinstance(item, Const):
                    if item.value == absorbing:
                        return Const(absorbing)
                    continue
                flat.extend(item.items if isinstance(item, kind) else (item,))
            if not flat:
                return Const(not absorbing)
            negated = {item.item for item in flat if isinstance(item, Not)}
            if negated and any(item in negated for item in flat if not isinstance(item, Not)):
                return Const(absorbing)  # x and not x: never; x or not x: always
            return flat[0] if len(flat) == 1 else kind(tuple(flat))
        case Not(item):
            inner = fold_constants(item)
            if isinstance(inner, Const):
                return Const(not inner.value)
            if isinstance(inner, Not):
                return inner.item
            return Not(inner)
    return expr
