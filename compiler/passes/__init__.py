"""Optimization passes: pure functions over the IR, run in the order of `PASSES`.

Each pass keeps the meaning of the tree: tests/test_pass_keeps_meaning.py checks each against the reference
interpreter on random rules (the IR is dsl.expr's closed set, which the interpreter evaluates whole), and
tests/test_passes.py checks the generated code on sample events and has golden before/after fixtures
(tests/fixtures/passes/<pass>.txt).
"""

from __future__ import annotations

from compiler.ir import Node

from .fold_constants import fold_constants
from .group_affixes import group_affixes
from .merge_equalities import merge_equalities
from .normalize import normalize
from .order_by_cost import order_by_cost

PASSES = (normalize, fold_constants, merge_equalities, group_affixes, order_by_cost)


def optimize(node: Node) -> Node:
    for rewrite in PASSES:
        node = rewrite(node)
    return node
