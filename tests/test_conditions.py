"""Logsource conditions remember their verdicts by field values (runtime.helpers.Conditions), and the
compiler tells which fields a condition reads (compiler.codegen.fields_read)."""

from __future__ import annotations

import pytest

from compiler.codegen import fields_read
from compiler.ir import And, Const, Exists, FieldRef, Not, Or, PyCall, StrMatch
from runtime.helpers import MISSING, Conditions, Fields


def counting(test):
    """A condition test that counts how often it really runs."""
    calls = []

    def run(fields):
        calls.append(1)
        return test(fields)

    return run, calls


def event_id_is_one(fields):
    return "1" in fields["t:EventID"]


class TestConditions:
    def test_a_repeated_value_reuses_the_verdicts(self) -> None:
        test, calls = counting(event_id_is_one)
        conditions = Conditions((test,), (("EventID",),))
        assert [conditions.verdicts(Fields({"EventID": 1, "n": n}))[0] for n in range(5)] == [True] * 5
        assert len(calls) == 1
        assert conditions.verdicts(Fields({"EventID": 2}))[0] is False and len(calls) == 2

    def test_all_verdicts_are_remembered_by_the_fields_any_condition_reads(self) -> None:
        first, first_calls = counting(event_id_is_one)
        second, second_calls = counting(lambda f: "security" in f["f:Channel"])
        conditions = Conditions((first, second), (("EventID",), ("Channel",)))
        assert conditions.verdicts(Fields({"EventID": 1, "Channel": "Security"})) == (True, True)
        assert conditions.verdicts(Fields({"EventID": 1, "Channel": "System"})) == (True, False)
        assert conditions.verdicts(Fields({"EventID": 1, "Channel": "Security", "x": 2})) == (True, True)
        assert len(first_calls) == len(second_calls) == 2

    @pytest.mark.parametrize("value", [True, 1.0, -0.0, 0.0, [1], {"a": 1}])
    def test_values_that_equal_others_of_another_text_are_never_remembered(self, value) -> None:
        """True == 1 and 0.0 == -0.0, but their texts differ: each is tested afresh, lists and maps too."""
        test, calls = counting(event_id_is_one)
        conditions = Conditions((test,), (("EventID",),))
        conditions.verdicts(Fields({"EventID": 1}))
        expected = "1" in Fields({"EventID": value})["t:EventID"]
        assert conditions.verdicts(Fields({"EventID": value}))[0] is expected
        assert conditions.verdicts(Fields({"EventID": value}))[0] is expected
        assert len(calls) == 3

    def test_missing_and_null_are_told_apart(self) -> None:
        conditions = Conditions((lambda f: f["v:a"] is not MISSING,), (("a",),))
        assert conditions.verdicts(Fields({"a": None}))[0] is True
        assert conditions.verdicts(Fields({}))[0] is False
        assert conditions.verdicts(Fields({"a": None}))[0] is True

    def test_a_condition_reading_anything_else_is_tested_per_record_and_only_when_asked(self) -> None:
        first, first_calls = counting(lambda f: f.record.get("x") == 1)
        second, second_calls = counting(event_id_is_one)
        conditions = Conditions((first, second), (None, ("EventID",)))
        for _ in range(2):
            verdicts = conditions.verdicts(Fields({"x": 1, "EventID": 1}))
            assert verdicts[0] is True and verdicts[0] is True
        assert len(first_calls) == 2 and second_calls == []

    def test_a_record_that_is_not_a_dict_is_tested_directly(self) -> None:
        conditions = Conditions((lambda f: isinstance(f.record, list),), (("a",),))
        assert conditions.verdicts(Fields([1, 2]))[0] is True

    def test_memory_is_bounded(self) -> None:
        conditions = Conditions((event_id_is_one,), (("EventID",),))
        for n in range(Conditions.MEMO_SIZE * 2 + 5):
            conditions.verdicts(Fields({"EventID": str(n)}))
        assert len(conditions._memo) <= Conditions.MEMO_SIZE


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
