"""Hypothesis strategies for random valid rules, their conditions, and events that exercise them.

Strategies are built once at import and drawn from inside composites: building them afresh on
every draw costs Hypothesis a validation each time and made generation ten times slower.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache
from typing import Any

from eventgen import events_for, leaf_literals
from hypothesis import strategies as st

from dsl import sigma_string as ss
from dsl.ast import (
    AndCond,
    Condition,
    Dedup,
    Detection,
    FieldItem,
    LogSource,
    NotCond,
    Of,
    OrCond,
    Ref,
    Rule,
    RuleTest,
    Selection,
)
from dsl.condition import parse_condition
from dsl.diagnostics import Loc
from dsl.expr import any_of
from dsl.lower import selection_expr
from runtime.outputs import ALIASES, OUTPUTS
from runtime.regex import problem

FIELDS = ("CommandLine", "Image", "User.Name", "src_ip", "count", "EventID", "ts")
NOT_IDENTIFIERS = frozenset(("and", "or", "not", "of", "them", "condition", "timeframe"))
POSITIONS = ("contains", "startswith", "endswith")
COMPARES = ("lt", "lte", "gt", "gte")
ENCODINGS = ("wide", "utf16le", "utf16be", "utf16")
TIME_PARTS = ("minute", "hour", "day", "month", "year")
STRING_FLAGS = ("cased", "all", "neq")
# Text YAML would read as something other than a string unless it is quoted, and Sigma escapes.
TRICKY = (
    "true", "False", "null", "~", "yes", "no", "on", "off", "1", "-0", "0x1F", "0o7", "1_000", "1e3",
    "1.5", ".5", "-.inf", ".nan", "2024-01-01", "12:30:00", "", " ", "a: b", "- x", "#c", "'q'", '"q"',
    "*", "?", "\\", "\\*", "a\\b", "C:\\Windows\\*", "%x%", "@at", "`t", "!tag", "&a", "|", ">", "[a]", "{b}",
)
# Placeholder values for `expand` items: names with values, one with none, and one never defined (both of
# the last two match nothing). Tests that lower generated rules pass this mapping.
PLACEHOLDERS = {"admins": ["root", "Alice", "svc-*"], "hosts": ["dc01"], "empty": []}
PLACEHOLDER_NAMES = (*PLACEHOLDERS, "undefined")
# Nested and overlapping repeats too: RE2 runs them in linear time in both engines.
REGEX_PIECES = (".*", "^", "$", "[a-z]+", "\\d+", "(?:ab|cd)", "x?", "\\s", "\\\\", "|", "(?:a|ab)*", "(?:x+x+)+")


def _compiles(pattern: str) -> bool:
    """Does the rules' regex engine (RE2, runtime/regex.py) run it? Others are lint errors."""
    return problem(pattern) is None


# -- identifiers and values ------------------------------------------------------------------

IDENTIFIERS = st.one_of(
    st.builds(
        lambda prefix, suffix: prefix + suffix,
        st.sampled_from(("sel", "selection", "filter", "_hidden", "_", "kw", "Sel", "x")),
        st.sampled_from(("", "1", "2", "_a", "-b", ".c", "_main", "Two")),
    ),
    st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,7}", fullmatch=True),
).filter(lambda n: n not in NOT_IDENTIFIERS)
"""Search identifiers: structured ones that share prefixes, odd but legal ones, hidden `_` ones."""

SIGMA_TEXT = st.one_of(
    st.text(st.one_of(st.sampled_from("abcXYZ019 -/\\*?.:'\"#%ßİ\n\t"), st.characters()), max_size=10),
    st.sampled_from(TRICKY),
)
"""Sigma string values: wildcards, escapes, dashes, unicode that folds oddly, and anything else."""

NUMBERS = st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False))
SCALARS = st.one_of(SIGMA_TEXT, NUMBERS, st.booleans())
SCALARS_OR_NULL = st.one_of(SCALARS, st.none())
LITERAL_TEXT = st.text(st.sampled_from("abcXY09 -/\\*?ß"), min_size=1, max_size=8).map(ss.escape)
"""Sigma text without wildcards (they are escaped), as the base64 modifiers require."""
DASHED_TEXT = st.text(st.sampled_from("ab -/*"), min_size=1, max_size=6)
EXPAND_TEXT = st.builds(
    lambda before, name, after: f"{before}%{name}%{after}",
    st.sampled_from(("", "", "x", "a-")), st.sampled_from(PLACEHOLDER_NAMES), st.sampled_from(("", "", "y", "*")),
)
"""Values of `expand` items: a `%placeholder%` in some text."""
REGEXES = st.lists(
    st.one_of(st.text(st.sampled_from("abc09 -.*\\/"), min_size=1, max_size=4).map(re.escape), st.sampled_from(REGEX_PIECES)),
    min_size=1,
    max_size=4,
).map("".join).filter(_compiles)
NETWORKS = st.one_of(
    st.builds(lambda a, p: f"{a}/{p}", st.ip_addresses(v=4), st.integers(0, 32)),
    st.builds(lambda a, p: f"{a}/{p}", st.ip_addresses(v=6), st.integers(0, 128)),
    st.ip_addresses().map(str),
)


# -- modifier chains with values of the right type -------------------------------------------


@cache
def _values(strategy: st.SearchStrategy, min_size: int = 1, max_size: int = 3) -> st.SearchStrategy[tuple]:
    return st.lists(strategy, min_size=min_size, max_size=max_size).map(tuple)


@cache
def _flag_sets(flags: tuple[str, ...]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(flags), unique=True)


def _chain(draw, core: tuple[str, ...], flags: tuple[str, ...]) -> tuple[str, ...]:
    """`core` in order, with a subset of `flags` slotted in anywhere."""
    mods = list(core)
    for flag in draw(_flag_sets(flags)):
        mods.insert(draw(st.integers(0, len(mods))), flag)
    return tuple(mods)


def _string_item(draw, field: str | None) -> FieldItem:
    """Plain, contains/startswith/endswith, windash and base64 items (the only kinds keywords take), and
    `expand` items on named fields."""
    kinds = ("plain", "position", "windash", "base64offset", "base64") + (("expand",) if field is not None else ())
    kind = draw(st.sampled_from(kinds))
    if kind == "expand":
        core = ("expand", draw(st.sampled_from(POSITIONS))) if draw(st.booleans()) else ("expand",)
        return FieldItem(field, _chain(draw, core, STRING_FLAGS), draw(_values(EXPAND_TEXT)))
    if kind == "plain":
        mods = _chain(draw, (), STRING_FLAGS)
        values = SCALARS if field is None else SCALARS_OR_NULL
        return FieldItem(field, mods, draw(_values(values, 0 if field is not None and not mods else 1)))
    position = draw(st.sampled_from(POSITIONS))
    if kind == "position":
        return FieldItem(field, _chain(draw, (position,), STRING_FLAGS), draw(_values(SCALARS)))
    if kind == "windash":
        core = ("windash", position) if draw(st.booleans()) else (position, "windash")
        return FieldItem(field, _chain(draw, core, STRING_FLAGS), draw(_values(DASHED_TEXT)))
    encoding = (draw(st.sampled_from(ENCODINGS)),) if draw(st.booleans()) else ()
    core = (*encoding, "base64offset", "contains") if kind == "base64offset" else (*encoding, "base64")
    return FieldItem(field, _chain(draw, core, STRING_FLAGS), draw(_values(LITERAL_TEXT)))


def _typed_item(draw, field: str) -> FieldItem:
    """Items only a named field takes: re, cidr, comparisons, exists, fieldref, time parts."""
    kind = draw(st.sampled_from(("re", "cidr", "compare", "exists", "fieldref", "time")))
    if kind == "re":
        mods = ("re", *_chain(draw, (), ("i", "m", "s", "all", "neq")))
        return FieldItem(field, mods, draw(_values(st.one_of(REGEXES, st.integers(0, 99)))))
    if kind == "cidr":
        return FieldItem(field, ("cidr", *_chain(draw, (), ("all", "neq"))), draw(_values(NETWORKS)))
    if kind == "compare":
        return FieldItem(field, _chain(draw, (draw(st.sampled_from(COMPARES)),), ("all", "neq")), draw(_values(NUMBERS)))
    if kind == "exists":
        return FieldItem(field, ("exists",), (draw(st.booleans()),))
    if kind == "fieldref":
        core = ("fieldref", draw(st.sampled_from(POSITIONS))) if draw(st.booleans()) else ("fieldref",)
        return FieldItem(field, _chain(draw, core, STRING_FLAGS), draw(_values(st.sampled_from(FIELDS))))
    compare = (draw(st.sampled_from(COMPARES)),) if draw(st.booleans()) else ()
    core = (draw(st.sampled_from(TIME_PARTS)), *compare)
    return FieldItem(field, _chain(draw, core, ("all", "neq")), draw(_values(st.integers(0, 2030))))


@st.composite
def _field_item(draw) -> FieldItem:
    field = draw(st.sampled_from((*FIELDS, None)))
    if field is not None and draw(st.booleans()):
        return _typed_item(draw, field)
    return _string_item(draw, field)


FIELD_ITEMS = _field_item()
"""One `field|mods: values` entry over the field pool, or a keyword entry (`|mods: values`)."""


def item_key(item: FieldItem) -> str:
    return "|".join([item.field or "", *item.modifiers])


ALTERNATIVES = st.lists(FIELD_ITEMS, min_size=1, max_size=3, unique_by=item_key).map(tuple)
"""A mapping of items (ANDed); one key at most once, as YAML requires."""

SELECTION_BODIES = st.one_of(
    st.lists(ALTERNATIVES, min_size=1, max_size=2).map(tuple),
    _values(SCALARS, 1, 4).map(lambda values: ((FieldItem(None, (), values),),)),
)
"""A map, a list of maps (ORed), or a plain keyword list."""

NAME_LISTS = st.lists(IDENTIFIERS, min_size=1, max_size=4, unique=True)


@st.composite
def _selections(draw) -> tuple[Selection, ...]:
    return tuple(Selection(name, draw(SELECTION_BODIES)) for name in draw(NAME_LISTS))


SELECTIONS = _selections()


# -- conditions ------------------------------------------------------------------------------


def matching(names: list[str], pattern: str | None) -> list[str]:
    """The identifiers `x of pattern` names, worked out apart from `dsl.lower`: never `_` ones (patterns hold only `*`)."""
    visible = [n for n in names if not n.startswith("_")]
    if pattern is None:
        return visible
    rx = re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
    return [n for n in visible if rx.fullmatch(n)]


def patterns(names: list[str]) -> list[str | None]:
    """Every `x of` target that selects at least one identifier: them, exact names, prefixes*, *suffixes."""
    candidates: set[str] = {"*", "_*"}  # `_*` selects nothing, so it is never offered
    for name in names:
        candidates.update({name, *(name[:k] + "*" for k in range(len(name))), *("*" + name[k:] for k in range(1, len(name)))})
    usable = sorted(p for p in candidates if p not in NOT_IDENTIFIERS and matching(names, p))
    return ([None] if matching(names, None) else []) + usable


def _and(items: list[Condition]) -> AndCond:
    """An AND node in the parser's shape: directly nested ANDs are flattened."""
    return AndCond(tuple(x for i in items for x in (i.items if isinstance(i, AndCond) else (i,))))


def _or(items: list[Condition]) -> OrCond:
    return OrCond(tuple(x for i in items for x in (i.items if isinstance(i, OrCond) else (i,))))


def _pick(draw, options: list):
    return options[draw(st.integers(0, len(options) - 1))]


def _atom(draw, names: list[str], targets: list[str | None]) -> Condition:
    if targets and draw(st.booleans()):
        return Of(draw(st.sampled_from(("1", "all"))), _pick(draw, targets))
    return Ref(_pick(draw, names))


@st.composite
def atoms(draw, names: list[str]) -> Condition:
    """An identifier, or `1 of` / `all of` over a pattern that selects something."""
    return _atom(draw, names, patterns(names))


@st.composite
def conditions(draw, names: list[str], max_leaves: int = 6) -> Condition:
    """Condition trees over `names` in the shape the parser builds (flattened AND and OR chains)."""
    targets = patterns(names)
    budget = [max_leaves]

    def node(depth: int) -> Condition:
        kind = draw(st.integers(0, 3)) if depth < 4 and budget[0] > 1 else 0
        if kind == 0:
            budget[0] -= 1
            return _atom(draw, names, targets)
        if kind == 1:
            return NotCond(node(depth + 1))
        items = [node(depth + 1) for _ in range(draw(st.integers(2, 3)))]
        return _and(items) if kind == 2 else _or(items)

    return node(0)


@st.composite
def condition_text(draw, cond: Condition) -> str:
    """`cond` written with optional redundant parentheses, `any of` for `1 of`, and spare whitespace."""
    space = draw(st.sampled_from((" ", "  ", "\t")))

    def group(c: Condition, required: bool) -> str:
        inner = text_of(c)
        if required or draw(st.integers(0, 3)) == 0:
            return f"({draw(st.sampled_from(('', ' ')))}{inner})"
        return inner

    def text_of(c: Condition) -> str:
        match c:
            case Ref(name):
                return name
            case Of(quantifier, pattern):
                word = "any" if quantifier == "1" and draw(st.booleans()) else quantifier
                return f"{word} of {pattern or 'them'}"
            case NotCond(item):
                return f"not{space}{group(item, isinstance(item, AndCond | OrCond))}"
            case AndCond(items):
                return f"{space}and{space}".join(group(i, isinstance(i, OrCond)) for i in items)
            case OrCond(items):
                return f"{space}or{space}".join(group(i, False) for i in items)
        raise TypeError(c)

    return text_of(cond)


# -- rules -----------------------------------------------------------------------------------


@st.composite
def _detection(draw) -> Detection:
    sels = draw(SELECTIONS)
    names = [s.name for s in sels]
    texts = tuple(draw(condition_text(draw(conditions(names)))) for _ in range(draw(st.integers(1, 2))))
    return Detection(sels, tuple(parse_condition(t, Loc("<rulegen>")) for t in texts), texts)


DETECTIONS = _detection()
"""Selections and one or two conditions that use them, written as a person might."""


def _maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


def _texts(strategy: st.SearchStrategy) -> st.SearchStrategy[tuple[str, ...]]:
    return st.lists(strategy, max_size=2).map(tuple)


def _templates(max_size: int) -> st.SearchStrategy[str]:
    """Title and description text: free text (no lone braces), `{field.path}` placeholders, `{{` and `}}`."""
    plain = st.text(st.characters(blacklist_characters="{}"), max_size=max_size)
    placeholder = st.sampled_from(FIELDS).map(lambda f: "{" + f + "}")
    return st.lists(st.one_of(plain, plain, placeholder, st.sampled_from(("{{", "}}"))), max_size=3).map("".join)


LEVELS = st.sampled_from(("informational", "low", "medium", "high", "critical"))
DATES = st.builds(lambda d, sep: d.strftime(f"%Y{sep}%m{sep}%d"), st.dates(date(1990, 1, 1), date(2099, 12, 31)), st.sampled_from("-/"))
CONTEXTS = st.one_of(
    st.lists(st.sampled_from(FIELDS), max_size=3).map(lambda paths: tuple((p, p) for p in paths)),
    st.dictionaries(st.text(min_size=1, max_size=6), st.sampled_from(FIELDS), max_size=3).map(lambda d: tuple(d.items())),
)
"""Alert context: field paths under their own names, or under names of their own."""
DEDUPS = st.builds(Dedup, st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2).map(tuple), st.integers(0, 10**7))
TEST_EVENTS = st.dictionaries(
    st.text(max_size=6),
    st.recursive(
        st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=8)),
        lambda kids: st.lists(kids, max_size=2) | st.dictionaries(st.text(max_size=4), kids, max_size=2),
        max_leaves=4,
    ),
    max_size=3,
)
"""Events of rule tests: any JSON-like mapping."""

RULES = st.builds(
    Rule,
    title=_templates(20),
    logsource=st.builds(LogSource, *[_maybe(st.text(max_size=8)) for _ in range(4)]),
    detection=DETECTIONS,
    id=_maybe(st.uuids().map(str)),
    name=_maybe(st.text(max_size=8)),
    status=_maybe(st.sampled_from(("stable", "test", "experimental", "deprecated", "unsupported"))),
    level=_maybe(LEVELS),
    description=_maybe(_templates(30)),
    author=_maybe(st.text(max_size=8)),
    references=_texts(st.text(max_size=12)),
    tags=_texts(st.from_regex(r"[a-z0-9_-]{1,6}\.[a-z0-9._-]{1,6}", fullmatch=True)),
    falsepositives=_texts(st.text(max_size=12)),
    date=_maybe(DATES),
    modified=_maybe(DATES),
    fields=_texts(st.sampled_from(FIELDS)),
    outputs=_texts(
        st.builds(
            lambda service, name: f"{service}:{name}",
            st.sampled_from(sorted([*OUTPUTS, *ALIASES])),  # a service the loader knows (E021 otherwise)
            st.from_regex(r"[A-Za-z0-9_.\-/]{1,8}", fullmatch=True),
        )
    ),
    severity=_maybe(LEVELS),
    enabled=st.booleans(),
    context=CONTEXTS,
    dedup=_maybe(DEDUPS),
    tests=st.lists(st.builds(RuleTest, st.text(min_size=1, max_size=8), TEST_EVENTS, st.booleans()), max_size=2).map(tuple),
)
"""Whole rules: random metadata in every field the loader reads, and a random detection."""


def events_for_rule(rule: Rule) -> st.SearchStrategy[dict[str, Any]]:
    """Events over the field pool built from the literals of every selection of `rule`, mutated."""
    expr = any_of([selection_expr(s) for s in rule.detection.selections])
    return events_for(leaf_literals(expr), extra_fields=FIELDS)
