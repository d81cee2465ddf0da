"""Shared by the passes that fold several tests of one field into one: find them, then rebuild."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from compiler.ir import And, Node, Not, Or

Key = TypeVar("Key", bound=Hashable)


def group_terms(node: And | Or, key_of: Callable[[Node], Key | None], build: Callable[[Key, list[Node]], Node]) -> Node:
    """Merge the terms of an or (or the negated terms of an and) that share a key.

    `key_of(test)` names the group a test joins (None: it joins none); `build(key, tests)` makes the
    one test that replaces a group of two or more. Under `and`, only negated tests group, and the
    result stays negated: `not a and not b` is `not (a or b)`.
    """
    negated = isinstance(node, And)
    groups: dict[Key, list[Node]] = {}
    order: list[tuple[Node, Key | None]] = []  # (a term, None) or (a group's first term, its key)
    for item in node.items:
        test = (item.item if isinstance(item, Not) else None) if negated else item
        key = key_of(test) if test is not None else None
        if test is None or key is None:
            order.append((item, None))
            continue
        if key not in groups:
            groups[key] = []
            order.append((item, key))
        groups[key].append(test)
    if all(len(tests) < 2 for tests in groups.values()):
        return node
    items: list[Node] = []
    for item, group in order:
        if group is None:
            items.append(item)
            continue
        tests = groups[group]
        merged = tests[0] if len(tests) == 1 else build(group, tests)
        items.append(Not(merged) if negated else merged)
    return items[0] if len(items) == 1 else type(node)(tuple(items))
