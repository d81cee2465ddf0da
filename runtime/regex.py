"""Every regex of rules and schemas is compiled and run here, on RE2: time linear in the text, whatever the pattern.

Python's `re` backtracks: `(a|a)*$` or `(.*a){10}$` take seconds on a 30-byte near miss, and no static
check bounds it (`.*a.*a.*a$` is already polynomial). RE2 (the `google-re2` wheel, shipped in the Lambda
bundle for both architectures) runs every pattern it accepts in time linear in the text; what it cannot
run (backreferences, lookaround, possessive and atomic groups, `\\Z`, repeats over 1000) is refused when
the rule or schema is checked, with a hint (`problem`). The meaning is RE2's: `\\d`, `\\w`, `\\s` and `\\b`
are ASCII, `$` without `m` is the end of the text only, and `i` folds by Unicode simple case folding
(an `i` matches `I`, not the Turkish dotless i U+0131 nor the dotted capital I U+0130).

Without the wheel (a bundle built without it, or a platform it does not exist for), Python's `re` runs
only the patterns `fallback_problem` proves bounded and equal in meaning: at most one repeat, of a single
character, few alternatives, no class shorthands, no `$` without `m`, no case-insensitive `i`, `k`, `s` or
non-ASCII letter. Any other pattern raises RegexError when compiled: the rule fails (counted as a rule
error) instead of running in unbounded time or with another meaning, and `sigil lint` reports it (E130).
`sigil bundle` warns when it packs no google-re2 wheel.
"""

from __future__ import annotations

import re
import re._constants as sre_constants  # type: ignore[import-not-found]  # private (3.11+): typeshed has no stub
import re._parser as sre_parse  # type: ignore[import-not-found]  # as above
from typing import Any

try:
    from re2 import _re2
except ImportError:  # pragma: no cover - exercised by tests through use_engine("re")
    _re2 = None

__all__ = ["ENGINE", "FLAGS", "Regex", "RegexError", "compile_regex", "fallback_problem", "problem"]

FLAGS = "ims"
ENGINE = "re2" if _re2 is not None else "re"
MAX_REPEAT = 1000  # RE2's limit on a counted repeat
SHORTHAND = "a class shorthand (\\d, \\w, \\s, \\b) or an anchor other than ^, \\A and $ under m"
MAX_TRIES = 8  # how many ways the fallback's alternatives may be tried at one place (64: 0.35 s on 2 KB)


class RegexError(ValueError):
    """A pattern the engine refuses: `message` says why, `hint` how to write it instead (may be empty)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


class Regex:
    """A compiled pattern: `search` and `fullmatch` tell whether the text matches; `groups` gives named groups."""

    __slots__ = ("_find", "names", "pattern")

    def __init__(self, pattern: str, find: Any, names: dict[str, int]) -> None:
        self.pattern, self._find, self.names = pattern, find, names

    def search(self, text: str) -> bool:
        return self._find(text, False) is not None

    def fullmatch(self, text: str) -> bool:
        return self._find(text, True) is not None

    def groups(self, text: str, whole: bool) -> dict[str, str] | None:
        """The named groups that took part in a match (of the whole text if `whole`), None without a match."""
        spans = self._find(text, whole)
        if spans is None:
            return None
        return {name: spans[i] for name, i in self.names.items() if spans[i] is not None}


def compile_regex(pattern: str, flags: str = "", captures: bool = False) -> Regex:
    """Compile `pattern` with Sigma's flags (`i`, `m`, `s`); RegexError when the engine refuses it."""
    unknown = set(flags) - set(FLAGS)
    if unknown:
        raise RegexError(f"unknown regex flag {''.join(sorted(unknown))!r}", "the flags are i, m and s")
    text = f"(?{''.join(sorted(set(flags)))}){pattern}" if flags else pattern
    if ENGINE == "re2":
        return _compile_re2(pattern, text, captures)
    reason = fallback_problem(pattern, flags)
    if reason:
        raise RegexError(f"RE2 is not installed, and Python's re cannot be trusted with this pattern: {reason}", "install google-re2 (make wheels ships it in the Lambda bundle)")
    try:
        compiled = re.compile(text)
    except re.error as exc:
        raise RegexError(str(exc)) from None
    return Regex(pattern, _re_finder(compiled, captures), dict(compiled.groupindex))


def problem(pattern: str, flags: str = "") -> RegexError | None:
    """Why the engine cannot run this pattern (with a hint), or None: what `sigil lint` reports."""
    try:
        compile_regex(pattern, flags)
    except RegexError as exc:
        return exc
    return None


# -- RE2 ---------------------------------------------------------------------------------------------

# What Python's re reads and RE2 does not, each with how to write it for RE2 (the first that applies).
UNSUPPORTED = (
    (re.compile(r"\(\?<?[=!]"), "RE2 has no lookahead or lookbehind", "match the context itself, or test it with a second selection"),
    (re.compile(r"\\[1-9]|\(\?P(=|$)"), "RE2 has no backreferences", "spell out the repeated part, e.g. (ab)(ab) instead of (ab)\\1"),
    (re.compile(r"\(\?>|[*+?}]\+"), "RE2 has no possessive repeats or atomic groups", "drop the extra + or the (?>...): RE2 never backtracks, so they are not needed"),
    (re.compile(r"\\Z"), "RE2 spells the end of the text \\z", "write \\z instead of \\Z"),
    (re.compile(r"\(\?[a-zA-Z]*x"), "RE2 has no verbose mode (x)", "remove the (?x) and the whitespace and comments it allowed"),
    (re.compile(r"\(\?\("), "RE2 has no conditional groups", "split the rule's alternatives into separate selections"),
    (re.compile(r"\{\d{4,}|\{\d+,\d{4,}"), f"RE2 repeats a part at most {MAX_REPEAT} times", "use a smaller count or an unbounded repeat such as + or *"),
)


def _unsupported(pattern: str, reason: str) -> RegexError:
    """RE2's refusal explained: its message ends with the part of the pattern it stopped at."""
    stopped_at = reason.partition(": ")[2]
    for construct, message, hint in UNSUPPORTED:
        if construct.search(stopped_at):
            return RegexError(f"{message}: {reason}", hint)
    try:
        re.compile(pattern)
    except (re.error, RecursionError) as exc:
        return RegexError(f"invalid regular expression: {exc}")
    return RegexError(f"RE2 cannot run this regular expression: {reason}")


def _options(captures: bool) -> Any:
    options = _re2.RE2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.never_capture = not captures
    return options


_OPTIONS: dict[bool, Any] = {}


def _compile_re2(pattern: str, text: str, captures: bool) -> Regex:
    options = _OPTIONS.get(captures) or _OPTIONS.setdefault(captures, _options(captures))
    compiled = _re2.RE2(text.encode("utf-8", "surrogatepass"), options)
    if not compiled.ok():
        error = compiled.error()
        raise _unsupported(pattern, error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error))
    match = compiled.Match
    unanchored, both = _re2.RE2.Anchor.UNANCHORED, _re2.RE2.Anchor.ANCHOR_BOTH
    names = {(n.decode() if isinstance(n, bytes) else n): i for n, i in compiled.NamedCapturingGroups()} if captures else {}

    def find(value: str, whole: bool) -> list[str | None] | None:
        data = value.encode("utf-8", "surrogatepass")  # JSON can carry lone surrogates; RE2 reads bytes
        spans = match(both if whole else unanchored, data, 0, len(data))
        if spans[0][0] < 0:
            return None
        return [None if s < 0 else data[s:e].decode("utf-8", "surrogatepass") for s, e in spans]

    return Regex(pattern, find, names)


# -- the fallback: Python's re on patterns proven bounded and equal ----------------------------------

SINGLE = frozenset({sre_constants.LITERAL, sre_constants.NOT_LITERAL, sre_constants.ANY, sre_constants.IN})
REPEATS = frozenset({sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT})
CASE_APART = frozenset("iIkKsS")  # letters whose case orbits differ between re and RE2 (ı, İ) or are hard to prove equal (K, ſ)


def _re_finder(compiled: re.Pattern, captures: bool) -> Any:
    def find(value: str, whole: bool) -> list[str | None] | None:
        found = compiled.fullmatch(value) if whole else compiled.search(value)
        if found is None:
            return None
        return [found.group(0), *found.groups()] if captures else []

    return find


def fallback_problem(pattern: str, flags: str = "") -> str | None:
    """Why Python's re may not run this pattern in place of RE2, or None when it provably may.

    Bounded: at most one repeat (`*`, `+`, `?`, `{m,n}`), of a single character or class, and
    alternatives tried in at most MAX_TRIES ways at one place (those starting with distinct literal
    characters, like the compiler's tries, count once), so a search takes at most MAX_TRIES *
    (pattern length) * (text length)^2 steps. Equal: nothing whose meaning differs between the
    engines (`\\d \\w \\s \\b` are Unicode in re, `$` also matches before a final newline in re,
    case-insensitive `i` matches the Turkish U+0131 and U+0130 in re).

    >>> fallback_problem("^a.*b$", "m"), fallback_problem("(a|a)*$"), fallback_problem(r"\\d")
    (None, 'more than one repeat, or a repeat of more than one character', 'a class shorthand (\\\\d, \\\\w, \\\\s, \\\\b) or an anchor other than ^, \\\\A and $ under m')
    """
    if "[:" in pattern:
        return "a POSIX class such as [[:alpha:]]"
    try:
        parsed = sre_parse.parse(f"(?{flags})" + pattern if flags else pattern)
    except (re.error, RecursionError) as exc:
        return f"not read by Python's re: {exc}"
    if parsed.state.flags & (re.VERBOSE | re.ASCII | re.LOCALE):
        return "an inline flag other than i, m and s"
    state = {"repeats": 0, "tries": 1}
    return _walk(parsed, bool(parsed.state.flags & re.IGNORECASE), bool(parsed.state.flags & re.MULTILINE), state)


def _walk(items: Any, icase: bool, multiline: bool, state: dict[str, int]) -> str | None:
    for op, arg in items:
        reason = None
        if op in REPEATS:
            _low, high, body = arg
            state["repeats"] += 1
            if state["repeats"] > 1 or len(body) != 1 or body[0][0] not in SINGLE or MAX_REPEAT < high != sre_constants.MAXREPEAT:
                return "more than one repeat, or a repeat of more than one character"
            reason = _walk(body, icase, multiline, state)
        elif op is sre_constants.SUBPATTERN:
            _group, add, remove, body = arg
            if (add | remove) & ~(re.IGNORECASE | re.MULTILINE | re.DOTALL):
                return "an inline flag other than i, m and s"
            reason = _walk(body, (icase or bool(add & re.IGNORECASE)) and not remove & re.IGNORECASE, (multiline or bool(add & re.MULTILINE)) and not remove & re.MULTILINE, state)
        elif op is sre_constants.BRANCH:
            firsts = [b[0] for b in arg[1] if b]
            deterministic = len(firsts) == len(arg[1]) and all(o is sre_constants.LITERAL for o, _ in firsts) and len({a for _, a in firsts}) == len(firsts)
            if not deterministic:  # a failed alternative is followed by the next: the tries multiply
                state["tries"] *= len(arg[1])
                if state["tries"] > MAX_TRIES:
                    return f"alternatives that could be tried in more than {MAX_TRIES} ways at one place"
            reason = next((r for b in arg[1] if (r := _walk(b, icase, multiline, state))), None)
        elif op is sre_constants.IN:
            reason = _walk(arg, icase, multiline, state)
        elif op in (sre_constants.LITERAL, sre_constants.NOT_LITERAL):
            char = chr(arg)
            if icase and char.isalpha() and (char in CASE_APART or not char.isascii()):
                return f"case-insensitive {char!r}, which re and RE2 fold differently"
        elif op is sre_constants.RANGE:
            if icase:
                return "a case-insensitive range"
        elif op is sre_constants.AT:
            if arg not in (sre_constants.AT_BEGINNING, sre_constants.AT_BEGINNING_STRING) and not (multiline and arg is sre_constants.AT_END):
                return SHORTHAND
        elif op is sre_constants.CATEGORY:
            return SHORTHAND
        elif op not in (sre_constants.ANY, sre_constants.NEGATE):
            return f"{str(op).lower()}, which RE2 does not have"
        if reason:
            return reason
    return None


def use_engine(name: str) -> str:
    """Switch the engine ("re2" or "re"), returning the previous one: for tests of the fallback."""
    global ENGINE
    if name == "re2" and _re2 is None:
        raise RegexError("RE2 is not installed")
    previous, ENGINE = ENGINE, name
    return previous
