"""Shared by the passes that fold several tests of one field into one: find them, then rebuild."""

from __future__ import annotations

from collections.abc import Callable, Hashable

from compiler.ir import And, Node, Not, Or


def group_terms(node: And | Or, key_of: Callable[[Node], Hashable | None], build: Callable[[Hashable, list[Node]], Node]) -> Node:
    """Merge the terms of an or (or the negated terms of an and) that share a key.

    `key_of(test)` names the group a test joins (None: it joins none); `build(key, tests)` makes the
    one test that replaces a group of two or more. Under `and`, only negated tests group, and the
    result stays negated: `not a and not b` is `not (a or b)`.
    """
    negated = isinstance(node, And)
    groups: dict[Hashable, list[Node]] = {}
    order: list[tuple[str, object]] = []
    for item in node.items:
        test = (item.item if isinstance(item, Not) else None) if negated else item
        key = key_of(test) if test is not None else None
        if key is None:
            order.append(("item", item))
            continue
        if key not in groups:
            groups[key] = []
            order.append(("group", key))
        groups[key].append(test)
    if all(len(tests) < 2 for tests in groups.values()):
        return node
    items: list[Node] = []
    for kind, entry in order:
        if kind == "item":
            items.append(entry)
            continue
        tests = groups[entry]
        merged = tests[0] if len(tests) == 1 else build(entry, tests)
        items.append(Not(merged) if negated else merged)
    return items[0] if len(items) == 1 else type(node)(tuple(items))
