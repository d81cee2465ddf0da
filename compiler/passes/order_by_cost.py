"""Order the terms of every and/or cheapest first, so short-circuiting skips the costly ones.

Costs are rough per-record estimates: string tests (one `in` on a field's texts, which the anchor
scan has usually read already) and set lookups are cheapest, presence tests next (they read the
raw value), regexes and Python escape hatches dear. The sort is stable, so equal-cost terms keep
the rule author's order.

Example:
    >>> from compiler.ir import And, Exists, Regex, StrMatch, fmt
    >>> fmt(order_by_cost(And((Regex("c", "a.*b"), StrMatch("c", "contains", "x"), Exists("u")))))
    "and(contains(c, 'x'), exists(u), re(c, 'a.*b', ''))"
"""

from __future__ import annotations

from compiler.ir import (
    And,
    AnyAffix,
    Cidr,
    Const,
    Exists,
    FieldRef,
    InSet,
    IsNull,
    Node,
    Not,
    NumCompare,
    Or,
    PyCall,
    Regex,
    StrMatch,
    TimePart,
    Wildcard,
)

LEAF_COST = {
    Const: 0,
    IsNull: 3,
    Exists: 3,
    InSet: 2,
    NumCompare: 4,
    Cidr: 8,
    FieldRef: 8,
    Wildcard: 10,
    Regex: 12,
    TimePart: 15,
    PyCall: 50,
}
STR_COST = {"eq": 2, "startswith": 2, "endswith": 2, "contains": 2}


def cost(node: Node) -> int:
    match node:
        case And(items) | Or(items):
            return sum(map(cost, items))
        case Not(item):
            return cost(item)
        case StrMatch(field, op, _, _):
            return STR_COST[op] * (4 if field is None else 1)
        case AnyAffix(field, op, values, _):
            return (STR_COST[op] + len(values) // 8) * (4 if field is None else 1)
    return LEAF_COST[type(node)]


def order_by_cost(node: Node) -> Node:
    match node:
        case And(items) | Or(items):
            return type(node)(tuple(sorted(map(order_by_cost, items), key=cost)))
        case Not(item):
            return Not(order_by_cost(item))
    return node
