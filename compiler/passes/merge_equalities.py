"""Merge equality tests on one field into one set-membership test.

Under `or`, `f = a or f = b` becomes `f in {a, b}`; under `and`, `not f = a and not f = b` becomes
`not f in {a, b}` (the same set, negated). Values keep case folding as lowering did it.

Example:
    >>> from compiler.ir import Or, StrMatch, fmt
    >>> fmt(merge_equalities(Or((StrMatch("e", "eq", "b"), StrMatch("e", "eq", "a"), StrMatch("x", "eq", "a")))))
    "or(in(e, ['a', 'b']), eq(x, 'a'))"
"""

from __future__ import annotations

from compiler.ir import And, InSet, Node, Not, Or, StrMatch, children, rebuild


def merge_equalities(node: Node) -> Node:
    node = rebuild(node, [merge_equalities(c) for c in children(node)]) if children(node) else node
    if isinstance(node, Or):
        return _merge(node, negated=False)
    if isinstance(node, And):
        return _merge(node, negated=True)
    return node


def _merge(node: And | Or, negated: bool) -> Node:
    groups: dict[tuple, list[str]] = {}
    order: list[object] = []
    for item in node.items:
        test = item.item if negated and isinstance(item, Not) else (None if negated else item)
        if isinstance(test, StrMatch) and test.op == "eq":
            key = (test.field, test.cased)
            if key not in groups:
                groups[key] = []
                order.append(key)
            groups[key].append(test.value)
        else:
            order.append(item)
    if all(len(values) < 2 for values in groups.values()):
        return node
    items: list[Node] = []
    for entry in order:
        if isinstance(entry, tuple) and entry in groups:
            field, cased = entry
            values = groups[entry]
            test = StrMatch(field, "eq", values[0], cased) if len(values) == 1 else InSet(field, tuple(sorted(set(values))), cased)
            items.append(Not(test) if negated else test)
        else:
            items.append(entry)
    return items[0] if len(items) == 1 else type(node)(tuple(items))
