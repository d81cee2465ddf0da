"""The compiler's IR is `dsl.expr`'s closed set of nodes (the set-based `InSet` and `AnyAffix` included):
the reference interpreter evaluates every tree a pass returns. Here: the tree helpers the passes share.

All nodes are frozen dataclasses. Passes take a tree and return a new one; codegen prints the result.
"""

from __future__ import annotations

from dsl.expr import (
    And,
    AnyAffix,
    Cidr,
    Const,
    Exists,
    Expr,
    FieldRef,
    InSet,
    IsNull,
    Not,
    NumCompare,
    Or,
    PyCall,
    Regex,
    StrMatch,
    TimePart,
    Wildcard,
)

Node = Expr  # the name passes and codegen use for a tree

__all__ = [
    "And",
    "AnyAffix",
    "Cidr",
    "Const",
    "Exists",
    "FieldRef",
    "InSet",
    "IsNull",
    "Node",
    "Not",
    "NumCompare",
    "Or",
    "PyCall",
    "Regex",
    "StrMatch",
    "TimePart",
    "Wildcard",
    "children",
    "rebuild",
]


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, And | Or):
        return node.items
    if isinstance(node, Not):
        return (node.item,)
    return ()


def rebuild(node: Node, items: list[Node] | tuple[Node, ...]) -> Node:
    """The same kind of node over new children."""
    if isinstance(node, And | Or):
        return type(node)(tuple(items))
    if isinstance(node, Not):
        return Not(items[0])
    return node


def fmt(node: Node) -> str:
    """A compact one-line text of a tree, for golden fixtures and debugging."""
    match node:
        case And(items):
            return "and(" + ", ".join(map(fmt, items)) + ")"
        case Or(items):
            return "or(" + ", ".join(map(fmt, items)) + ")"
        case Not(item):
            return f"not({fmt(item)})"
        case Const(value):
            return "true" if value else "false"
        case StrMatch(field, op, value, cased):
            return f"{op}{'!' if cased else ''}({field}, {value!r})"
        case InSet(field, values, cased):
            return f"in{'!' if cased else ''}({field}, {list(values)!r})"
        case AnyAffix(field, op, values, cased):
            return f"any_{op}{'!' if cased else ''}({field}, {list(values)!r})"
        case Wildcard(field, regex, cased):
            return f"glob{'!' if cased else ''}({field}, {regex!r})"
        case Regex(field, pattern, flags):
            return f"re({field}, {pattern!r}, {flags!r})"
        case NumCompare(field, op, number):
            return f"{op}({field}, {number!r})"
        case Cidr(field, network):
            return f"cidr({field}, {network!r})"
        case IsNull(field):
            return f"null({field})"
        case Exists(field):
            return f"exists({field})"
        case FieldRef(field, other, op, cased):
            return f"fieldref_{op}({field}, {other})"
        case TimePart(field, part, op, number):
            return f"{part}_{op}({field}, {number})"
        case PyCall(module_path, function):
            return f"py({module_path}:{function})"
    raise TypeError(node)
