"""Flatten nested and/or and push `not` down to the tests (negation normal form).

Example:
    >>> from compiler.ir import And, Exists, IsNull, Not, Or, fmt
    >>> fmt(normalize(Not(And((Exists("a"), Or((IsNull("b"), Not(Not(Exists("c"))))))))))
    'or(not(exists(a)), and(not(null(b)), not(exists(c))))'
"""

from __future__ import annotations

from compiler.ir import And, Const, Node, Not, Or


def normalize(node: Node) -> Node:
    match node:
        case Not(item):
            return _negate(item)
        case And(items) | Or(items):
            kind = type(node)
            flat: list[Node] = []
            for item in map(normalize, items):
                flat.extend(item.items if isinstance(item, kind) else (item,))
            return flat[0] if len(flat) == 1 else kind(tuple(flat))
    return node


def _negate(node: Node) -> Node:
    match node:
        case Not(item):
            return normalize(item)
        case And(items):
            return normalize(Or(tuple(Not(i) for i in items)))
        case Or(items):
            return normalize(And(tuple(Not(i) for i in items)))
        case Const(value):
            return Const(not value)
    return Not(node)
