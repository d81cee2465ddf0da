"""Group contains / startswith / endswith tests on one field into one multi-pattern test.

Under `or`, several `f contains x` become `any_contains(f, [x, y])` (one pass over the texts; Python's
`str.startswith`/`endswith` take a tuple); under `and`, negated ones group the same way.

Example:
    >>> from compiler.ir import Or, StrMatch, fmt
    >>> fmt(group_affixes(Or((StrMatch("i", "endswith", "b.exe"), StrMatch("i", "endswith", "a.exe")))))
    "any_endswith(i, ['a.exe', 'b.exe'])"
"""

from __future__ import annotations

from compiler.ir import And, AnyAffix, Node, Or, StrMatch, children, rebuild

from .grouping import group_terms

AFFIXES = ("contains", "startswith", "endswith")


def group_affixes(node: Node) -> Node:
    node = rebuild(node, [group_affixes(c) for c in children(node)]) if children(node) else node
    if isinstance(node, And | Or):
        return group_terms(node, _key, _merge)
    return node


def _key(test: Node) -> tuple[str | None, str, bool] | None:
    return (test.field, test.op, test.cased) if isinstance(test, StrMatch) and test.op in AFFIXES else None


def _merge(key: tuple[str | None, str, bool], tests: list[Node]) -> Node:
    field, op, cased = key
    return AnyAffix(field, op, tuple(sorted({t.value for t in tests if isinstance(t, StrMatch)})), cased)
