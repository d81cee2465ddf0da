"""Rule and schema regexes run in bounded time: RE2, or a lint error; the fallback without RE2 is bounded and equal.

Generated patterns (nested repeats, overlapping alternations, counted repeats of unbounded groups,
and constructs RE2 refuses) meet adversarial texts: every pattern the engine accepts must answer each
text of up to 2 KB well within LIMIT seconds, and every pattern it refuses must be a lint error.
LIMIT is a safety bound against catastrophic backtracking (seconds to hours), not a performance test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compiler.codegen import generate_module
from dsl.loader import load_text
from dsl.lower import rule_expr
from runtime import regex
from runtime.parsers import regex_parser
from runtime.parsers.errors import ParseError

LIMIT = 0.2  # seconds per match, for texts of at most 2 KB

# -- generated patterns -----------------------------------------------------------------------------

ATOMS = st.sampled_from(["a", "b", "ab", ".", "[ab]", "[^b]", "\\d", "\\w", "\\s", "x"])
REPEATS = st.sampled_from(["*", "+", "?", "*?", "+?", "{2}", "{1,}", "{0,5}", "{3,10}", "{10}"])
REFUSED = st.sampled_from(["(a)\\1", "(?=a)", "(?!b)", "(?<=a)", "a++", "(?>a+)", "\\Z", "a{1001}", "("])


@st.composite
def nested(draw, depth: int = 3) -> str:
    """A pattern built from atoms by concatenation, alternation (often overlapping) and repeats of groups."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(ATOMS)
    kind = draw(st.sampled_from(["concat", "alt", "repeat", "repeat"]))
    if kind == "concat":
        return "".join(draw(st.lists(nested(depth - 1), min_size=2, max_size=3)))
    if kind == "alt":  # `(a|a)`, `(a|ab)`: alternatives that match the same text
        first = draw(nested(depth - 1))
        second = draw(st.one_of(st.just(first), nested(depth - 1)))
        return f"({first}|{second})"
    return f"(?:{draw(nested(depth - 1))}){draw(REPEATS)}"


@st.composite
def patterns(draw) -> str:
    body = draw(nested())
    if draw(st.integers(0, 4)) == 0:  # sometimes a construct RE2 cannot run
        body += draw(REFUSED)
    return draw(st.sampled_from(["", "^"])) + body + draw(st.sampled_from(["", "$", "y", "!"]))


@st.composite
def adversarial(draw) -> str:
    """A near miss: a long run of what the pattern repeats, then a character that spoils the match."""
    unit = draw(st.sampled_from(["a", "b", "ab", "aab", "x", "1", " a"]))
    length = draw(st.integers(1, 2000 // len(unit)))
    tail = draw(st.sampled_from(["", "!", "b", "y", "\n"]))
    return (unit * length)[: 2048 - len(tail)] + tail


def _timed(find, text: str) -> float:
    start = time.perf_counter()
    find(text)
    return time.perf_counter() - start


def lint_codes(pattern: str, flags: str = "") -> set[str]:
    """The error codes `sigil lint` gives a rule whose only value is this regex."""
    chain = "re" + "".join(f"|{f}" for f in flags)
    text = (
        "title: fuzz\nlogsource:\n    product: conformance\ndetection:\n"
        f"    selection:\n        Text|{chain}: {json.dumps(pattern)}\n    condition: selection\n"
    )
    return {d.code for d in load_text(text, "<fuzz>").errors}


@pytest.fixture
def fallback():
    """Python's re in place of RE2, as when the wheel is missing."""
    previous = regex.use_engine("re")
    yield
    regex.use_engine(previous)


# -- RE2 ----------------------------------------------------------------------------------------------


@pytest.mark.skipif(regex.ENGINE != "re2", reason="RE2 is not installed")
class TestBoundedOnRe2:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(patterns(), st.lists(adversarial(), min_size=1, max_size=4), st.sampled_from(["", "i", "s", "m"]))
    def test_accepted_patterns_are_fast_refused_ones_are_lint_errors(self, pattern, texts, flags):
        """Every generated pattern either answers each near miss quickly or is an error at lint."""
        refused = regex.problem(pattern, flags)
        codes = lint_codes(pattern, flags)
        if refused is not None:
            assert codes & {"E119", "E130"}, (pattern, refused.message)
            return
        assert not codes & {"E119", "E130"}
        compiled = regex.compile_regex(pattern, flags)
        for text in texts:
            assert _timed(compiled.search, text) < LIMIT, (pattern, text[:40])
            assert _timed(compiled.fullmatch, text) < LIMIT, (pattern, text[:40])

    @pytest.mark.parametrize(
        ("pattern", "text", "expected"),
        [("(a|a)*$", "a" * 29 + "!", True), ("^(a|a)*$", "a" * 29 + "!", False), ("(.*a){10}$", "a" * 29 + "!", False), ("(x+x+)+y", "x" * 30, False)],
    )
    def test_catastrophic_patterns_of_the_issue_are_fast(self, pattern, text, expected):
        """The patterns that took seconds on a 30-byte value in Python's re answer at once, and correctly."""
        compiled = regex.compile_regex(pattern)
        start = time.perf_counter()
        assert compiled.search(text) is expected
        assert time.perf_counter() - start < LIMIT

    def test_schema_patterns_are_bounded_too(self):
        """The regex parser runs on the same engine: a nested repeat over a hostile line is quick."""
        line = "x" * 2000
        start = time.perf_counter()
        with pytest.raises(ParseError, match="does not match"):
            regex_parser.parse(line.encode(), {"pattern": r"(?P<a>(x+x+)+)y"})
        assert time.perf_counter() - start < LIMIT

    def test_schema_pattern_re2_refuses_says_why(self):
        """A lookahead in a schema pattern is refused with the construct and a hint (S012 at lint)."""
        with pytest.raises(ParseError, match=r"invalid pattern: RE2 has no lookahead or lookbehind.*\(match the context"):
            regex_parser.compile_pattern("(?P<a>x)(?=y)", ())

    def test_named_groups_and_lone_surrogates(self):
        """Groups come back by name as text (not bytes offsets); a lone surrogate from JSON is no crash."""
        compiled = regex.compile_regex(r"(?P<user>\w+)@(?P<host>\S+)(?P<port>:\d+)?", captures=True)
        assert compiled.groups("bob@h\u00f4st", True) == {"user": "bob", "host": "h\u00f4st"}
        assert regex.compile_regex("a.b").search("\ud800a\u00e9b") is True


# -- the fallback: Python's re without RE2 -----------------------------------------------------------

SAFE_CHARS = ["a", "b", "i", "I", "k", "\u0131", "\u0130", "\u212a", "\u00e9", "\n", "1", " "]
SAFE_ATOMS = st.sampled_from(["a", "b", "i", "k", "\u00e9", ".", "[ab]", "[^a]", "[a-c]", "\\.", "^", "\\A", "$", "(?:ab|ac)", "(?:a|b|ba)"])


@st.composite
def fallback_patterns(draw) -> str:
    """Short sequences of atoms, some repeated (one repeat is what the fallback accepts; more are hostile)."""
    atoms = draw(st.lists(SAFE_ATOMS, min_size=1, max_size=4))
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(atoms) - 1))
        if atoms[at][-1] not in "*+?}":
            atoms[at] += draw(st.sampled_from(["*", "+", "?", "{1,3}", "*?"]))
    return "".join(atoms)


class TestFallback:
    def test_refuses_what_it_cannot_bound(self, fallback):
        """Without RE2, the issue's patterns are refused when compiled and at lint, never run unbounded."""
        for pattern in ("(a|a)*$", "(.*a){10}$", "(x+x+)+y", ".*a.*a.*a", "a?a?a?aaa", "(?:a|aa)(?:a|aa)(?:a|aa)(?:a|aa)(?:a|aa)(?:a|aa).*b", "(?x)a b"):
            with pytest.raises(regex.RegexError, match="RE2 is not installed"):
                regex.compile_regex(pattern)
            assert "E130" in lint_codes(pattern)

    @pytest.mark.skipif(regex._re2 is None, reason="RE2 is not installed: nothing to compare with")
    @settings(max_examples=500, deadline=None)
    @given(fallback_patterns(), st.sampled_from(["", "i", "m", "s", "ims"]), st.lists(st.text(st.sampled_from(SAFE_CHARS), max_size=6), min_size=1, max_size=8))
    @example("ki", "i", ["\u212a\u0131"])  # where re and RE2 fold case apart: must be refused, not run
    def test_what_it_runs_means_what_re2_says(self, pattern, flags, texts):
        """Every pattern the fallback accepts matches exactly the texts RE2 matches (the fallback proven equal)."""
        if regex.fallback_problem(pattern, flags) is not None:
            return
        previous = regex.use_engine("re")
        try:
            mine = regex.compile_regex(pattern, flags)
        finally:
            regex.use_engine(previous)
        theirs = regex.compile_regex(pattern, flags)
        for text in texts:
            assert mine.search(text) == theirs.search(text), (pattern, flags, text)
            assert mine.fullmatch(text) == theirs.fullmatch(text), (pattern, flags, text)

    @settings(max_examples=200, deadline=None)
    @given(st.one_of(fallback_patterns(), patterns()), st.lists(adversarial(), min_size=1, max_size=3))
    def test_what_it_runs_is_bounded(self, pattern, texts):
        """Every pattern the fallback accepts (generated hostile ones included) answers each near miss quickly."""
        if regex.fallback_problem(pattern) is not None:
            return
        previous = regex.use_engine("re")
        try:
            compiled = regex.compile_regex(pattern)
        except regex.RegexError:  # accepted by the proof, refused by Python's syntax: nothing runs
            return
        finally:
            regex.use_engine(previous)
        for text in texts:
            assert _timed(compiled.search, text) < LIMIT, (pattern, text[:40])
            assert _timed(compiled.fullmatch, text) < LIMIT, (pattern, text[:40])

    def test_compiler_made_regexes_mostly_run(self, fallback):
        """A wildcard with one star and a literal trie run without RE2; a second star needs RE2."""
        assert regex.compile_regex("C:\\\\Windows\\\\.*\\.exe", "s").fullmatch("C:\\Windows\\x.exe")
        assert regex.compile_regex("(?:ab[cd]|b)").search("xxabd")
        with pytest.raises(regex.RegexError):
            regex.compile_regex(".*a.*", "s")

    def test_a_missing_wheel_selects_the_fallback(self):
        """With `re2` not importable, the runtime runs on Python's re, refusing what it cannot prove."""
        probe = (
            "import sys; sys.modules['re2'] = None\n"
            "from runtime import regex\n"
            "print(regex.ENGINE, regex.compile_regex('^a.*b').search('axxb'))\n"
            "try:\n    regex.compile_regex('(a|a)*$')\nexcept regex.RegexError as exc:\n    print(exc.message[:24])\n"
        )
        completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        assert completed.stdout.splitlines() == ["re True", "RE2 is not installed, an"]


class TestRuleErrorsWithoutRe2:
    def test_a_refused_regex_fails_its_rule_only(self):
        """Without RE2, a rule whose regex the fallback refuses is a rule error; the other rules still match."""
        text = (
            "title: {title}\nlogsource:\n    product: conformance\ndetection:\n"
            "    selection:\n        Text|re: '{pattern}'\n    condition: selection\n"
        )
        rules = [load_text(text.format(title=t, pattern=p), "<rule>").rules[0] for t, p in (("hostile", "(a|a)*!"), ("plain", "^ab"))]
        module = generate_module("json", [(r.key, "case", rule_expr(r, None), {}) for r in rules], "fallback")
        namespace: dict = {}
        exec(compile(module.source, "<fallback>", "exec"), namespace)
        previous = regex.use_engine("re")
        try:
            errors: list = []
            assert namespace["match"]({"Text": "abc!"}, errors) == [rules[1].key]
        finally:
            regex.use_engine(previous)
        assert [(key, type(exc).__name__) for key, exc in errors] == [(rules[0].key, "RegexError")]
