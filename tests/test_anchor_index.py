"""The anchor index gives exactly the rules whose anchors hold, by pyahocorasick and by pure-Python tables.

A brute-force oracle decodes every wrapped literal with `literal_kind` and tests it against each case-folded
text of its field; both probing modes must give the oracle's rules (a superset only for texts that hold the
sentinel characters themselves), for a fresh index and for one reused record after record (its memo of
recent values), and leave in `Fields` what `Fields` would compute itself.
"""

from __future__ import annotations

import contextlib
import copy
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import anchor_index
from runtime.anchor_index import FEW, AnchorIndex, literal_kind
from runtime.fields import END, MISSING, START, Fields, get_field, wrap
from runtime.values import folded_texts

PROPERTY = settings(max_examples=200, deadline=None, database=None)

NESTED = "a.b"
FLAT_PATHS = ("cmd", "img", "a")
PATHS = (*FLAT_PATHS, NESTED)
WRAPPERS = {"eq": START + "{}" + END, "startswith": START + "{}", "endswith": "{}" + END, "contains": "{}"}

Rules = tuple[int, ...]
Anchors = dict[str, dict[str, Rules]]
Case = tuple[Anchors, Rules, dict[str, Any]]
Stream = tuple[Anchors, Rules, list[dict[str, Any]]]


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, each drawn in proportion to its weight (`|` and `text` would drop repeats)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(range(len(table))).flatmap(table.__getitem__)


# Mostly a small alphabet (so literals and texts collide), now and then characters that change under casefold.
PLAIN = st.sampled_from("ab\\.x")
ODD = st.sampled_from(("ß", "s", "İ", "i", "\u212a", "k", "A", "1", "\U0001d538"))
CHARS = weighted((6, PLAIN), (1, ODD))
SENTINEL_CHARS = weighted((6, PLAIN), (1, ODD), (1, st.sampled_from((START, END))))


# --- the oracle --------------------------------------------------------------------------------------


def literal_holds(wrapped: str, text: str) -> bool:
    """Does the decoded wrapped literal hold on one folded text?"""
    kind, literal = literal_kind(wrapped)
    if kind == "eq":
        return text == literal
    if kind == "startswith":
        return text.startswith(literal)
    if kind == "endswith":
        return text.endswith(literal)
    return literal in text


def field_texts(record: Any, path: str) -> list[str]:
    value = get_field(record, path)
    return [] if value is MISSING else folded_texts(value)


def oracle(anchors: Anchors, always: Rules, record: dict[str, Any]) -> set[int]:
    """The rules of every anchor that holds on some folded text of its field, plus `always`."""
    found = set(always)
    for path, literals in anchors.items():
        texts = field_texts(record, path)
        for wrapped, rules in literals.items():
            if any(literal_holds(wrapped, text) for text in texts):
                found.update(rules)
    return found


def candidates(anchors: Anchors, always: Rules, record: Any, automaton: bool | None) -> set[int]:
    """The candidates of a fresh index (nothing remembered from earlier records)."""
    return AnchorIndex(anchors, always, automaton=automaton).candidates(Fields(record))


# --- strategies --------------------------------------------------------------------------------------

RULE_NUMBERS = st.lists(st.integers(0, 11), min_size=1, max_size=3, unique=True).map(sorted).map(tuple)
# Short literals (first-character table) and literals of 4..8 characters (the 4-gram table) alike, mostly
# case-folded as the compiler writes them; an unfolded one can never hold.
TEXTS = st.text(CHARS, min_size=1, max_size=3) | st.text(CHARS, min_size=4, max_size=8)
LITERALS = weighted((3, TEXTS.map(str.casefold)), (1, TEXTS))
NO_BACKSLASH_LITERALS = LITERALS.filter(lambda literal: "\\" not in literal)
BACKSLASH_SUFFIXES = st.builds(
    lambda head, tail: (head + "\\" + tail).casefold(), st.text(CHARS, max_size=3), st.text(CHARS, max_size=4)
)
NUMBERS = st.integers(-5, 120) | st.floats(width=16) | st.booleans()


@st.composite
def wrapped_literals(draw: st.DrawFn, equality_only: bool) -> str:
    kind = "eq" if equality_only else draw(st.sampled_from(tuple(WRAPPERS)))
    if kind == "endswith":  # half with a backslash (path-segment table), half without (suffix tables)
        literal = draw(BACKSLASH_SUFFIXES if draw(st.booleans()) else NO_BACKSLASH_LITERALS)
    else:
        literal = draw(LITERALS)
    return WRAPPERS[kind].format(literal)


@st.composite
def field_anchors(draw: st.DrawFn) -> dict[str, Rules]:
    """1..10 wrapped literals of one field: sometimes equality only, else every kind (few tests or a scan)."""
    equality_only = draw(st.sampled_from((True, False, False, False)))
    size = draw(st.integers(1, 10))
    return draw(st.dictionaries(wrapped_literals(equality_only), RULE_NUMBERS, min_size=size, max_size=size))


ANCHORS = st.dictionaries(st.sampled_from(PATHS), field_anchors(), min_size=1, max_size=len(PATHS))
ALWAYS = st.lists(st.integers(0, 15), max_size=2, unique=True).map(tuple)


def embed(wrapped: str, prefix: str, suffix: str, upper: bool, keep_kind: bool) -> str:
    """A text holding a wrapped literal's literal, with its prefix/suffix dropped where the kind needs it."""
    kind, literal = literal_kind(wrapped)
    if keep_kind and kind in ("eq", "startswith"):
        prefix = ""
    if keep_kind and kind in ("eq", "endswith"):
        suffix = ""
    return prefix + (literal.upper() if upper else literal) + suffix


def text_strategy(chars: st.SearchStrategy[str], pool: list[str]) -> st.SearchStrategy[str]:
    """Mostly one of the field's literals (upper-cased or not) between a short prefix and suffix."""
    affix = st.text(chars, max_size=3)
    keep_kind = st.sampled_from((True, True, False))
    embedded = st.builds(embed, st.sampled_from(pool), affix, affix, st.booleans(), keep_kind)
    return weighted((2, embedded), (1, st.text(chars, max_size=10)))


def value_strategy(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    other = NUMBERS | st.none() | st.lists(text, max_size=1)
    several = st.lists(text, min_size=2, max_size=5)
    mixed = st.lists(text | other, max_size=4)
    return weighted((2, text), (2, several), (1, mixed), (1, NUMBERS), (1, st.none()))


def literal_pool(anchors: Anchors, path: str) -> list[str]:
    """The wrapped literals a field's texts are built from: its own, or every field's when it has none."""
    return list(anchors.get(path) or {w: () for table in anchors.values() for w in table})


@st.composite
def records(draw: st.DrawFn, anchors: Anchors, chars: st.SearchStrategy[str]) -> dict[str, Any]:
    """A record with each flat field missing or holding a value, and `a.b` nested, dotted, both or absent."""

    def value(path: str) -> Any:
        return draw(value_strategy(text_strategy(chars, literal_pool(anchors, path))))

    record = {path: value(path) for path in FLAT_PATHS if draw(st.sampled_from((True, True, True, False)))}
    placement = draw(st.sampled_from(("nested", "dotted", "both", "absent")))
    if placement in ("nested", "both"):
        record["a"] = {"b": value(NESTED)}
    if placement in ("dotted", "both"):
        record[NESTED] = value(NESTED)
    return record


@st.composite
def cases(draw: st.DrawFn, chars: st.SearchStrategy[str] = CHARS) -> Case:
    anchors = draw(ANCHORS)
    return anchors, draw(ALWAYS), draw(records(anchors, chars))


def remix(base: dict[str, Any], cmd_from: dict[str, Any], img_from: dict[str, Any]) -> dict[str, Any]:
    """`base` with its `cmd` and `img` fields taken from other records (missing where they miss them)."""
    record = {key: value for key, value in base.items() if key not in ("cmd", "img")}
    for path, source in (("cmd", cmd_from), ("img", img_from)):
        if path in source:
            record[path] = source[path]
    return record


@st.composite
def streams(draw: st.DrawFn, chars: st.SearchStrategy[str] = CHARS) -> Stream:
    """Records for one index in turn, that meet the same field values again in other combinations."""
    anchors = draw(ANCHORS)
    sources = draw(st.lists(records(anchors, chars), min_size=1, max_size=3))
    source = st.sampled_from(sources)
    remixed = st.lists(st.builds(remix, source, source, source), min_size=2, max_size=8)
    return anchors, draw(ALWAYS), draw(remixed)


# --- 1. both modes are the oracle ----------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_automaton_tables_and_oracle_agree(case: Case) -> None:
    anchors, always, record = case
    expected = oracle(anchors, always, record)
    assert candidates(anchors, always, record, automaton=True) == expected
    assert candidates(anchors, always, record, automaton=False) == expected
    assert candidates(anchors, always, record, automaton=None) == expected


MEMO_LIMITS = {  # the index remembers recent string values: as shipped, and forgetting them at every value
    "memo": {},
    "memo of one value": {"MEMO_SIZE": 1},
}


def memo_limits(limits: dict[str, int]) -> contextlib.AbstractContextManager:
    return mock.patch.multiple(anchor_index, **limits) if limits else contextlib.nullcontext()


@pytest.mark.parametrize("limits", MEMO_LIMITS.values(), ids=MEMO_LIMITS)
@PROPERTY
@given(streams())
def test_a_reused_index_agrees_with_the_oracle_in_turn(limits: dict[str, int], stream: Stream) -> None:
    """One index per mode over many records (values met again, in other records): each is the oracle's."""
    anchors, always, stream_records = stream
    with memo_limits(limits):
        for automaton in (True, False):
            index = AnchorIndex(anchors, always, automaton=automaton)
            for record in stream_records * 2:
                fields = Fields(record)
                assert index.candidates(fields) == oracle(anchors, always, record)
                assert_probe_left_what_fields_computes(fields, anchors)


def related_values(text: str) -> list[str]:
    """Strings a memo of recent values must keep apart: a text, its case variants, prefixes and suffixes."""
    return [text, text.upper(), text.casefold(), text[:-1], text[1:], text + "x", "x" + text]


@PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_a_reused_index_keeps_related_values_apart(case: Case, random: Any) -> None:
    """Each string a field meets in turn gets its own rules, next to case variants, prefixes and suffixes."""
    anchors, always, record = case
    values = [related for text in string_texts(record, "cmd") for related in related_values(text)] * 2
    random.shuffle(values)
    for automaton in (True, False):
        index = AnchorIndex(anchors, always, automaton=automaton)
        for value in values:
            assert index.candidates(Fields({"cmd": value})) == oracle(anchors, always, {"cmd": value})


def probe_mode(literals: Mapping[str, Any]) -> str:
    """How the index probes a field (mirrors the documented choice: equality dict, few `in` tests, a scan)."""
    if all(literal_kind(wrapped)[0] == "eq" for wrapped in literals):
        return "equals"
    return "few" if len(literals) <= FEW else "scan"


def literal_shape(wrapped: str) -> str:
    """The kind of a wrapped literal, told apart further where the pure-Python tables use other tables."""
    kind, literal = literal_kind(wrapped)
    if kind == "endswith" and "\\" in literal:
        return "endswith\\"
    if kind == "contains":
        return "contains>=4" if len(literal) >= 4 else "contains<4"
    return kind


def labels(case: Case) -> Iterator[tuple]:
    """What a generated case exercises: (probe mode, literal shape, holds?), nested and case-folded hits."""
    anchors, _, record = case
    for path, literals in anchors.items():
        mode = probe_mode(literals)
        for wrapped in literals:
            texts = field_texts(record, path)
            held = [t for t in texts if literal_holds(wrapped, t)]
            yield mode, literal_shape(wrapped), bool(held)
            if held and path == NESTED:
                yield "nested hit", mode
            if any(t.casefold() in held and t != t.casefold() for t in string_texts(record, path)):
                yield "case-folded hit", mode


def string_texts(record: dict[str, Any], path: str) -> list[str]:
    """The field's own (unfolded) string texts."""
    value = get_field(record, path)
    items = [] if value is MISSING else value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, str)]


SHAPES = ("eq", "startswith", "endswith", "endswith\\", "contains>=4", "contains<4")
REQUIRED_LABELS = [
    ("equals", "eq", True),
    ("equals", "eq", False),
    *[(mode, shape, holds) for mode in ("few", "scan") for shape in SHAPES for holds in (True, False)],
    *[(hit, mode) for hit in ("nested hit", "case-folded hit") for mode in ("equals", "few", "scan")],
]


def sample_labels(count: int) -> Counter:
    """How many of `count` generated cases (a fixed, derandomized sample) carry each label."""
    seen: Counter = Counter()

    @settings(max_examples=count, derandomize=True, database=None, deadline=None)
    @given(cases())
    def collect(case: Case) -> None:
        seen.update(set(labels(case)))

    collect()
    return seen


def test_generated_cases_hold_hits_and_misses() -> None:
    """The properties are not vacuous: the generator yields hits and misses of every shape in every mode."""
    seen = sample_labels(500)
    assert [label for label in REQUIRED_LABELS if not seen[label]] == []


EXAMPLES = {  # wrapped literal → (a text it holds on, a text it does not hold on)
    START + "cmd.exe" + END: ("CMD.EXE", "cmd.exe "),
    START + "pow": ("PowerShell", "xpow"),
    "\\cmd.exe" + END: ("C:\\Windows\\CMD.exe", "C:\\Windows\\xcmd.exe"),
    ".ps1" + END: ("a.PS1", "a.ps1x"),
    "-enc": ("x -ENC y", "-en c"),
    "encoded": ("xENCODEDx", "encode"),
    "ss": ("Straße", "s-s"),
    START + "4688" + END: (4688, 46880),
}


def with_fillers(literals: dict[str, Rules], count: int) -> dict[str, Rules]:
    """`literals` padded with substrings that never hold (rule 9) to `count`: a few `in` tests or a scan."""
    return {**literals, **{f"zz{n}qq": (9,) for n in range(count - len(literals))}}


@pytest.mark.parametrize("automaton", [True, False])
@pytest.mark.parametrize("literal_count", [1, FEW + 1], ids=["few", "scan"])
@pytest.mark.parametrize("wrapped", list(EXAMPLES), ids=repr)
def test_each_literal_kind_hits_and_misses(wrapped: str, literal_count: int, automaton: bool) -> None:
    """Deterministic examples: every kind, probed by `in` tests and by a scan, hits and misses, then again."""
    index = AnchorIndex({"cmd": with_fillers({wrapped: (1,)}, literal_count)}, (), automaton=automaton)
    hit, miss = EXAMPLES[wrapped]
    for _ in range(2):  # the second time from the index's memo
        assert index.candidates(Fields({"cmd": hit})) == {1}
        assert index.candidates(Fields({"cmd": miss})) == set()
        assert index.candidates(Fields({"cmd": [miss, None, hit]})) == {1}


# --- 2. texts holding the sentinels ----------------------------------------------------------------------


@PROPERTY
@given(cases(SENTINEL_CHARS))
def test_sentinel_texts_never_miss_an_anchor(case: Case) -> None:
    """Texts holding START or END may add rules, never lose one."""
    anchors, always, record = case
    expected = oracle(anchors, always, record)
    assert candidates(anchors, always, record, automaton=True) >= expected
    assert candidates(anchors, always, record, automaton=False) >= expected


@PROPERTY
@given(streams(SENTINEL_CHARS))
def test_sentinel_texts_never_miss_an_anchor_of_a_reused_index(stream: Stream) -> None:
    anchors, always, stream_records = stream
    for automaton in (True, False):
        index = AnchorIndex(anchors, always, automaton=automaton)
        for record in stream_records * 2:
            assert index.candidates(Fields(record)) >= oracle(anchors, always, record)


@pytest.mark.parametrize("automaton", [True, False])
@pytest.mark.parametrize("literal_count", [1, FEW + 1], ids=["few", "scan"])
def test_sentinel_text_finds_its_real_anchors(automaton: bool, literal_count: int) -> None:
    anchors = {
        "cmd": with_fillers({START + "ab" + END: (1,)}, literal_count),
        NESTED: {"b" + END: (2,), "q" + END: (3,)},
    }
    record = {"cmd": ["x" + START + "y", "AB"], "a": {"b": END + "B"}}
    assert candidates(anchors, (), record, automaton) >= {1, 2}


# --- 3. always, and records that are not dicts -------------------------------------------------------------


@PROPERTY
@given(cases())
def test_always_rules_are_always_returned(case: Case) -> None:
    anchors, always, record = case
    for automaton in (True, False):
        assert set(always) <= candidates(anchors, always, record, automaton)
        assert candidates(anchors, always, {}, automaton) == set(always)


@pytest.mark.parametrize("automaton", [True, False])
@pytest.mark.parametrize("record", [["cmd"], ["x"], "cmd", None, 7], ids=repr)
def test_a_record_that_is_not_a_dict_gives_only_always_for_flat_anchors(record: Any, automaton: bool) -> None:
    anchors = {"cmd": {"cmd": (1,), START + "x" + END: (2,)}}
    assert candidates(anchors, (5,), record, automaton) == {5}


@pytest.mark.parametrize("automaton", [True, False])
@pytest.mark.parametrize("record", [["x"], [], [NESTED], NESTED, None], ids=repr)
def test_a_record_not_a_dict_raises_on_nested_anchors_as_get_field_does(record: Any, automaton: bool) -> None:
    """Nested paths go through `get_field`, which only reads mappings (records are dicts by contract)."""
    with pytest.raises((AttributeError, TypeError)):
        get_field(record, NESTED)
    with pytest.raises((AttributeError, TypeError)):
        candidates({NESTED: {"x": (1,)}}, (5,), record, automaton)


# --- 4. what the probe leaves in Fields ------------------------------------------------------------------


def assert_probe_left_what_fields_computes(fields: Fields, anchors: Anchors) -> None:
    """`f:` of every probed field is what a fresh Fields computes, and `w:`, when set, is `wrap` of it."""
    for path in anchors:
        value = get_field(fields.record, path)
        if value is MISSING:
            continue
        assert fields["f:" + path] == Fields(fields.record)["f:" + path] == folded_texts(value)
        if "w:" + path in fields:
            expected = wrap(fields["f:" + path])
            assert type(fields["w:" + path]) is type(expected)
            assert fields["w:" + path] == expected


@PROPERTY
@given(cases(SENTINEL_CHARS))
def test_probe_leaves_the_texts_fields_would_compute(case: Case) -> None:
    anchors, always, record = case
    for automaton in (True, False):
        fields = Fields(record)
        AnchorIndex(anchors, always, automaton=automaton).candidates(fields)
        assert_probe_left_what_fields_computes(fields, anchors)


@pytest.mark.parametrize("automaton", [True, False])
@pytest.mark.parametrize("literal_count", [1, FEW + 1], ids=["few", "scan"])
@pytest.mark.parametrize("text", ["Straße", "a" + START + "B"], ids=repr)
def test_string_field_leaves_folded_and_wrapped_texts(text: str, literal_count: int, automaton: bool) -> None:
    index = AnchorIndex({"cmd": with_fillers({"ss": (1,)}, literal_count)}, (), automaton=automaton)
    for _ in range(2):  # the second time from the index's memo
        fields = Fields({"cmd": text})
        index.candidates(fields)
        assert fields["f:cmd"] == [text.casefold()]
        assert_probe_left_what_fields_computes(fields, {"cmd": {}})


# --- 5. determinism and lazy building ----------------------------------------------------------------------


@PROPERTY
@given(streams(SENTINEL_CHARS))
def test_indexes_built_from_the_same_anchors_agree(stream: Stream) -> None:
    """Two indexes built lazily from one anchors dict give the same rules (false positives included),
    whatever order they meet the records in, and leave the dict as it was."""
    anchors, always, stream_records = stream
    before = copy.deepcopy(anchors)
    for automaton in (True, False):
        forward, backward = AnchorIndex(anchors, always, automaton), AnchorIndex(anchors, always, automaton)
        forward_rules = [forward.candidates(Fields(record)) for record in stream_records]
        backward_rules = [backward.candidates(Fields(record)) for record in reversed(stream_records)]
        assert forward_rules == backward_rules[::-1]
    assert anchors == before


class CountingAnchors(dict):
    """An anchors mapping that counts how often its fields are listed (the index reads them to build)."""

    reads = 0

    def items(self) -> Any:
        self.reads += 1
        return super().items()


def test_index_is_built_on_first_use_only() -> None:
    anchors = CountingAnchors({"cmd": {"ab": (1,)}, NESTED: {START + "x" + END: (2,)}})
    index = AnchorIndex(anchors, (0,))
    assert anchors.reads == 0
    assert index.candidates(Fields({"cmd": "xABx", "a": {"b": "X"}})) == {0, 1, 2}
    assert index.candidates(Fields({"cmd": "b"})) == {0}
    assert anchors.reads == 1
