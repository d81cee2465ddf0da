"""The examples in docstrings run (sqlglot-style `Example:` blocks stay true)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "compiler.anchors",
    "compiler.codegen",
    "compiler.schemas",
    "compiler.literal_trie",
    "compiler.passes.fold_constants",
    "compiler.passes.group_affixes",
    "compiler.passes.merge_equalities",
    "compiler.passes.normalize",
    "compiler.passes.order_by_cost",
    "dsl.rename",
    "runtime.anchor_index",
    "runtime.fields",
    "runtime.parsers.options",
    "runtime.regex",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    """Every example in the module's docstrings gives the output it shows."""
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
