"""Logsource conditions remember their verdicts by field values (runtime.helpers.Condition), and the
compiler tells which fields a condition reads (compiler.codegen.fields_read)."""

from __future__ import annotations

import pytest

from compiler.codegen import fields_read
from compiler.ir import And, Const, Exists, FieldRef, Not, Or, PyCall, StrMatch
from runtime.helpers import MISSING, Condition, Fields


def counting(test):
    """A condition test that counts how often it really runs."""
    calls = []

    def run(fields):
        calls.append(1)
        return test(fields)

    return run, calls


def event_id_is_one(fields):
    return "1" in fields["t:EventID"]


class TestCondition:
    def test_a_repeated_value_reuses_the_verdict(self) -> None:
        test, calls = counting(event_id_is_one)
        condition = Condition(test, ("EventID",))
        assert [condition(Fields({"EventID": 1, "n": n})) for n in range(5)] == [True] * 5
        assert len(calls) == 1
        assert condition(Fields({"EventID": 2})) is False and len(calls) == 2

    @pytest.mark.parametrize("value", [True, 1.0, -0.0, 0.0, [1], {"a": 1}])
    def test_values_that_equal_others_of_another_text_are_never_remembered(self, value) -> None:
        """True == 1 and 0.0 == -0.0, but their texts differ: each is tested afresh, lists and maps too."""
        test, calls = counting(event_id_is_one)
        condition = Condition(test, ("EventID",))
        condition(Fields({"EventID": 1}))
        assert condition(Fields({"EventID": value})) is ("1" in Fields({"EventID": value})["t:EventID"])
        assert condition(Fields({"EventID": value})) is ("1" in Fields({"EventID": value})["t:EventID"])
        assert len(calls) == 3

    def test_missing_and_null_are_told_apart(self) -> None:
        condition = Condition(lambda f: f["v:a"] is not MISSING, ("a",))
        assert condition(Fields({"a": None})) is True
        assert condition(Fields({})) is False
        assert condition(Fields({"a": None})) is True

    def test_without_paths_every_record_is_tested(self) -> None:
        test, calls = counting(lambda f: f.record.get("x") == 1)
        condition = Condition(test, None)
        assert condition(Fields({"x": 1})) and condition(Fields({"x": 1}))
        assert len(calls) == 2

    def test_a_record_that_is_not_a_dict_is_tested_directly(self) -> None:
        condition = Condition(lambda f: isinstance(f.record, list), ("a",))
        assert condition(Fields([1, 2])) is True

    def test_memory_is_bounded(self) -> None:
        condition = Condition(event_id_is_one, ("EventID",))
        for n in range(Condition.MEMO_SIZE * 2 + 5):
            condition(Fields({"EventID": str(n)}))
        assert len(condition._memo) <= Condition.MEMO_SIZE


class TestFieldsRead:
    def test_top_level_fields_sorted_and_distinct(self) -> None:
        tree = And((StrMatch("EventID", "eq", "1"), Or((Exists("b"), Not(StrMatch("EventID", "eq", "4"))))))
        assert fields_read(tree) == ("EventID", "b")

    def test_field_references_read_both_fields(self) -> None:
        assert fields_read(FieldRef("a", "c", "eq", False)) == ("a", "c")

    @pytest.mark.parametrize(
        "tree",
        [
            StrMatch(None, "contains", "x"),  # a keyword reads every value
            Exists("a.b"),  # a nested path is not a top-level key
            And((Exists("a"), PyCall("m.py", "f", None))),  # a hook reads the whole record
        ],
    )
    def test_conditions_reading_anything_else_are_not_remembered(self, tree) -> None:
        assert fields_read(tree) is None

    def test_constants_read_nothing(self) -> None:
        assert fields_read(Const(True)) == ()
