"""Merge equality tests on one field into one set-membership test.

Under `or`, `f = a or f = b` becomes `f in {a, b}`; under `and`, `not f = a and not f = b` becomes
`not f in {a, b}` (the same set, negated). Values keep case folding as lowering did it.

Example:
    >>> from compiler.ir import Or, StrMatch, fmt
    >>> fmt(merge_equalities(Or((StrMatch("e", "eq", "b"), StrMatch("e", "eq", "a"), StrMatch("x", "eq", "a")))))
    "or(in(e, ['a', 'b']), eq(x, 'a'))"
"""

from __future__ import annotations

from compiler.ir import And, InSet, Node, Or, StrMatch, children, rebuild

from .grouping import group_terms


def merge_equalities(node: Node) -> Node:
    node = rebuild(node, [merge_equalities(c) for c in children(node)]) if children(node) else node
    if isinstance(node, And | Or):
        return group_terms(node, _key, _merge)
    return node


def _key(test: Node) -> tuple[str | None, bool] | None:
    return (test.field, test.cased) if isinstance(test, StrMatch) and test.op == "eq" else None


def _merge(key: tuple[str | None, bool], tests: list[Node]) -> Node:
    field, cased = key
    return InSet(field, tuple(sorted({t.value for t in tests if isinstance(t, StrMatch)})), cased)
