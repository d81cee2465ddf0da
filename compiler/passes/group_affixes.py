"""Group contains / startswith / endswith tests on one field into one multi-pattern test.

Under `or`, several `f contains x` become `any_contains(f, [x, y])` (one pass over the texts; Python's
`str.startswith`/`endswith` take a tuple); under `and`, negated ones group the same way.

Example:
    >>> from compiler.ir import Or, StrMatch, fmt
    >>> fmt(group_affixes(Or((StrMatch("i", "endswith", "\\\\b.exe"), StrMatch("i", "endswith", "\\\\a.exe")))))
    "any_endswith(i, ['\\\\\\\\a.exe', '\\\\\\\\b.exe'])"
"""

from __future__ import annotations

from compiler.ir import And, AnyAffix, Node, Not, Or, StrMatch, children, rebuild

AFFIXES = ("contains", "startswith", "endswith")


def group_affixes(node: Node) -> Node:
    node = rebuild(node, [group_affixes(c) for c in children(node)]) if children(node) else node
    if isinstance(node, Or):
        return _group(node, negated=False)
    if isinstance(node, And):
        return _group(node, negated=True)
    return node


def _group(node: And | Or, negated: bool) -> Node:
    groups: dict[tuple, list[str]] = {}
    order: list[object] = []
    for item in node.items:
        test = item.item if negated and isinstance(item, Not) else (None if negated else item)
        if isinstance(test, StrMatch) and test.op in AFFIXES:
            key = (test.field, test.op, test.cased)
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
            field, op, cased = entry
            values = groups[entry]
            test = StrMatch(field, op, values[0], cased) if len(values) == 1 else AnyAffix(field, op, tuple(sorted(set(values))), cased)
            items.append(Not(test) if negated else test)
        else:
            items.append(entry)
    return items[0] if len(items) == 1 else type(node)(tuple(items))
