"""Tests of runtime.helpers (what generated code calls) and of runtime/'s import boundary."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from runtime import helpers
from runtime.helpers import MISSING, get_field

RUNTIME_DIR = Path(__file__).resolve().parents[1] / "runtime"


class TestGetField:
    @pytest.mark.parametrize(
        ("record", "path", "expected"),
        [
            ({"a": 1}, "a", 1),
            ({"a": None}, "a", None),
            ({"a": {"b": {"c": 3}}}, "a.b.c", 3),
            ({"a.b": 1, "a": {"b": 2}}, "a.b", 1),
            ({"a.b": {"c": 4}}, "a.b.c", 4),
            ({"a": {"b.c": 5}}, "a.b.c", 5),
            ({"a": {"b": 1}, "a.b": {"c": 6}}, "a.b.c", 6),
            ({"a": [{"b": 1}, {"c": 2}, {"b": [3, 4]}]}, "a.b", [1, 3, 4]),
            ({"a": [[{"b": {"c": 7}}], {"b": {"c": 8}}]}, "a.b.c", [7, 8]),
        ],
    )
    def test_found(self, record: dict, path: str, expected: object) -> None:
        """Exact keys win, then dotted paths descend through nested dicts, keys with dots included, and
        through lists of maps (the values of every element that has the path)."""
        assert get_field(record, path) == expected

    @pytest.mark.parametrize(
        ("record", "path"),
        [
            ({}, "a"),
            ({"a": 1}, "a.b"),
            ({"a": [{"c": 1}, 2, "b"]}, "a.b"),
            ({"a": [1]}, "a.0"),
            ({"a": {"b": 1}}, "a.c"),
            ({"a": {}}, "a."),
        ],
    )
    def test_missing(self, record: dict, path: str) -> None:
        """An absent field is MISSING, which is falsy and distinct from None."""
        assert get_field(record, path) is MISSING
        assert not MISSING and MISSING is not None and repr(MISSING) == "MISSING"


class TestBoundary:
    def test_all_is_exported(self) -> None:
        """Every name in helpers.__all__ exists: the compiler imports exactly that list."""
        assert all(hasattr(helpers, name) for name in helpers.__all__)

    def test_helpers_are_pure_stdlib(self) -> None:
        """Generated code imports helpers, so importing it loads no third-party module (boto3 included)."""
        assert _imports(RUNTIME_DIR / "helpers.py") <= set(sys.stdlib_module_names) | {
            "__future__",
            "runtime",
        }
        probe = "import sys, runtime.helpers; print(sorted(set(sys.modules) & {'boto3', 'botocore', 'dsl', 'compiler', 'cli'}))"
        completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        assert completed.stdout.strip() == "[]"

    @pytest.mark.parametrize(
        "path", sorted(RUNTIME_DIR.rglob("*.py")), ids=lambda p: str(p.relative_to(RUNTIME_DIR))
    )
    def test_runtime_imports(self, path: Path) -> None:
        """runtime/ imports only the standard library, boto3 and itself: never dsl/ or compiler/.

        The compiled wheels are imported each by one module with a fallback for when it is missing:
        pyahocorasick by the anchor index (a pure-Python equivalent, tests/test_anchor_index.py), RE2
        by runtime/regex.py (Python's re on patterns proven bounded and equal, tests/test_regex_engine.py).
        """
        allowed = set(sys.stdlib_module_names) | {"__future__", "boto3", "botocore", "runtime", "sigil_rules"}
        if path.name == "anchor_index.py":
            allowed.add("ahocorasick")
        if path.name == "regex.py":
            allowed.add("re2")
        assert _imports(path) <= allowed


def _imports(path: Path) -> set[str]:
    """Return the top-level module names imported by a source file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


class TestNumberRules:
    def test_rules_and_conditions_are_numbered_in_table_order(self) -> None:
        """A module names rules and conditions by function; number_rules gives run_rules its numbered
        tables: rules in RULE_TABLE order, conditions in WHENS order, anchors and ALWAYS as sorted numbers."""

        def when_a(F):
            return True

        def when_b(F):
            return False

        def check_x(F):
            return True

        def check_y(F):
            return True

        def check_z(F):
            return True

        rules = (("x", when_b, check_x), ("y", when_a, check_y), ("z", when_a, check_z))
        index, conditions, rule_whens, checks, ids = helpers.number_rules(
            rules, ((when_a, ("Channel",)), (when_b, None)), {"Image": {"\x02a\x03": (check_z, check_x)}}, (check_y,)
        )
        assert ids == ("x", "y", "z") and checks == (check_x, check_y, check_z)
        assert rule_whens == (1, 0, 0) and conditions.tests == (when_a, when_b)
        assert index.anchors == {"Image": {"\x02a\x03": (0, 2)}} and index.always == (1,)
        fields = helpers.Fields({"Image": "A"})
        assert sorted(index.candidates(fields)) == [0, 1, 2]
        assert helpers.run_rules(fields, (index, conditions, rule_whens, checks, ids)) == ["y", "z"]  # x's condition fails
