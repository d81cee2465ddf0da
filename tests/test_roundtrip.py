"""Rules survive load → print → load unchanged, and conditions survive unparse → parse."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rulegen import IDENTIFIERS, RULES, condition_text, conditions

from dsl.ast import FieldItem, Rule, Selection
from dsl.condition import parse_condition, unparse
from dsl.diagnostics import Loc
from dsl.loader import LoadResult, load_paths, load_text
from dsl.printer import PrintError, dump_rule

ROOT = Path(__file__).resolve().parents[1]
SIGMA = ROOT.parent / "shared" / "sigma"
HERE = Loc("<test>")
ROUND = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAME_SETS = st.lists(IDENTIFIERS, min_size=1, max_size=4, unique=True)


def _reload(rule: Rule, path: str = "<memory>") -> Rule:
    """Print `rule` and load the text back, insisting it loads cleanly into exactly one rule."""
    result: LoadResult = load_text(dump_rule(rule), path)
    assert result.errors == [], dump_rule(rule)
    assert len(result.rules) == 1
    return result.rules[0]


def _assert_same(rule: Rule, back: Rule) -> None:
    assert back == rule, dump_rule(rule)
    assert [t.event for t in back.tests] == [t.event for t in rule.tests]  # events take no part in equality


@ROUND
@given(RULES)
def test_random_rules_survive_print_and_load(rule):
    """A random rule printed as YAML loads back equal, its test events included."""
    _assert_same(rule, _reload(rule))


@settings(ROUND, max_examples=50)
@given(RULES)
def test_printing_a_reloaded_rule_gives_the_same_text(rule):
    """Printing is deterministic: the text of a reloaded rule is the text it was loaded from."""
    assert dump_rule(_reload(rule)) == dump_rule(rule)


@ROUND
@given(NAME_SETS.flatmap(conditions))
def test_condition_trees_survive_unparse_and_parse(cond):
    """A condition tree in the parser's shape, unparsed, parses back to an equal tree."""
    assert parse_condition(unparse(cond), HERE) == cond, unparse(cond)


@ROUND
@given(NAME_SETS.flatmap(conditions).flatmap(lambda c: st.tuples(st.just(c), condition_text(c))))
def test_redundant_parentheses_and_spacing_do_not_change_the_tree(pair):
    """Extra parentheses, `any of` for `1 of` and extra whitespace parse to the same tree as the bare text."""
    cond, text = pair
    assert parse_condition(text, HERE) == cond, text


@pytest.mark.parametrize("text", ["a and (b and c)", "a or (b or c)", "not (x or (y or z))"])
def test_unparse_keeps_right_nested_groups(text):
    """Parsing, unparsing and parsing again gives the tree the first parse gave."""
    cond = parse_condition(text, HERE)
    assert parse_condition(unparse(cond), HERE) == cond


def test_printer_keeps_condition_text_as_written():
    """A loaded rule prints its condition as written, so a text unparse cannot reproduce still round-trips."""
    text = "title: t\nlogsource: {product: p}\ndetection:\n  a: [x]\n  b: [y]\n  c: [z]\n  condition: a and (b and c)\n"
    rule = load_text(text).rules[0]
    assert "a and (b and c)" in dump_rule(rule)
    _assert_same(rule, _reload(rule))


def _corpus_round_trip(paths: list[Path]) -> None:
    result = load_paths(paths)
    assert result.errors == [] and result.rules
    changed = [rule.path for rule in result.rules if _reload(rule, rule.path) != rule]
    assert changed == []


def test_sigil_rules_round_trip():
    """Every rule of the tests' rule set (Sigil's extensions, in-rule tests) prints and loads back equal."""
    _corpus_round_trip([ROOT / "tests" / "fixtures" / "ruleset"])


def test_templates_round_trip(tmp_path):
    """`templates: true` prints and loads back equal."""
    text = "title: Login by {userIdentity.userName}\ntemplates: true\nlogsource: {product: aws}\ndetection: {sel: {eventName: A}, condition: sel}\n"
    (tmp_path / "t.yml").write_text(text, encoding="utf-8")
    _corpus_round_trip([tmp_path])


@pytest.mark.slow
@pytest.mark.skipif(not SIGMA.is_dir(), reason="../shared/sigma is not beside the project")
def test_sigma_corpus_round_trips():
    """Every SigmaHQ rule (about 3,000 real-world files) prints and loads back equal."""
    _corpus_round_trip([SIGMA / "rules", SIGMA / "rules-placeholder"])


def test_python_hooks_round_trip(tmp_path, monkeypatch):
    """A rule with Python escape hatches prints the references as written and loads back equal beside its module."""
    monkeypatch.chdir(tmp_path)  # hook modules must be inside the working directory
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "hooks.py").write_text("def admin(record):\n    return True\n\ndef title(record):\n    return 't'\n")
    path = tmp_path / "rules" / "r.yml"
    path.parent.mkdir()
    path.write_text(
        "title: t\nlogsource: {product: p}\ndetection:\n  sel: {a: 1}\n  condition: sel and is_admin\n"
        "python:\n  conditions:\n    is_admin: helpers/hooks.py:admin\n  title: helpers/hooks.py:title\n"
    )
    rule = load_paths([path]).rules[0]
    assert rule.python.conditions and rule.python.title
    _assert_same(rule, _reload(rule, str(path)))


def _detection_rule(*selections: Selection) -> Rule:
    rule = load_text("title: t\nlogsource: {}\ndetection:\n  s: [x]\n  condition: s\n").rules[0]
    return replace(rule, detection=replace(rule.detection, selections=selections))


@pytest.mark.parametrize(
    "selection",
    [
        Selection("condition", ((FieldItem("a", (), ("x",)),),)),
        Selection("s", ((FieldItem("a", ("contains",), ("x",)), FieldItem("a", ("contains",), ("y",))),)),
        Selection("s", ((FieldItem("a|b", (), ("x",)),),)),
        Selection("s", ()),
    ],
    ids=["reserved identifier", "same key twice", "pipe in field name", "no alternatives"],
)
def test_rules_yaml_cannot_say_are_refused(selection):
    """A rule whose YAML would load back different is refused with PrintError rather than printed wrong."""
    with pytest.raises(PrintError):
        dump_rule(_detection_rule(selection))


def test_quoted_scalars_keep_their_type():
    """Text that YAML would read as a number, boolean, null or date stays text, and numbers stay numbers."""
    values = ("1", "true", "null", "~", "0x1F", "1_000", "2024-01-01", "", 1, 1.5, True, None)
    rule = _detection_rule(Selection("s", ((FieldItem("a", (), values),),)))
    back = _reload(rule)
    assert back.detection.selections[0].alternatives[0][0].values == values
    assert [type(v) for v in back.detection.selections[0].alternatives[0][0].values] == [type(v) for v in values]


def test_printed_rule_reads_like_sigma():
    """The printed YAML keeps Sigma's layout: a selection as a mapping, `field|modifier` keys, raw values, the condition last."""
    text = (
        "title: t\nlogsource: {product: windows}\ndetection:\n  sel:\n    Image|endswith: '\\cmd.exe'\n"
        "    CommandLine|contains|all: ['/c', 'who*ami']\n  condition: sel\n"
    )
    printed = dump_rule(load_text(text).rules[0])
    assert "  sel:\n    Image|endswith: \\cmd.exe\n    CommandLine|contains|all:\n    - /c\n    - who*ami\n  condition: sel\n" in printed
