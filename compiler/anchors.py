"""Choose, for each rule, cheap necessary tests ("anchors") that the runtime can probe in bulk.

A rule can only be true if at least one of its anchors holds, so the generated module lists every
anchor of its log type by field, the runtime finds those that hold in one multi-pattern scan per
field (`runtime/anchor_index.py`), and only their rules are checked. Per-record work then grows with
the record, not with the rule count.

Anchors test case-folded text: a case-sensitive test implies its folded one (casefold maps each
character on its own), so the folded form is still a necessary condition.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeGuard

import ahocorasick

from compiler.ir import And, AnyAffix, InSet, Node, Not, Or, Regex, StrMatch, Wildcard
from runtime.fields import END, START

SENTINELS = frozenset(START + END)

try:  # Python 3.11+ keeps the regex parser here
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants
    import sre_parse

GRAM = 4  # contains-literals shorter than this are weak anchors: many texts hold them


@dataclass(frozen=True, slots=True, order=True)
class Anchor:
    field: str
    kind: str  # eq | startswith | endswith | contains
    value: str  # case-folded

    @property
    def weight(self) -> int:
        """Lower is better: cheaper to probe and likelier to be rare."""
        if self.kind == "eq":
            return 1
        if self.kind in ("startswith", "endswith"):
            return 2 if len(self.value) >= 3 else 8
        return 3 if len(self.value) >= GRAM else 6 + (GRAM - len(self.value)) * 4


def _anchor(field: str, op: str, value: str) -> Anchor:
    # An empty affix holds for every text: probe it as the (always true) empty substring.
    return Anchor(field, "contains" if not value else op, value.casefold())


FIELD_PROBE = 200  # the cost of probing one more field, shared by the rules anchored on it


@dataclass(frozen=True)
class AnchorStats:
    """What the rules of one module say about their anchors: how common each is, how popular each field."""

    common: Counter[Anchor]  # anchor -> trees testing a literal it holds on
    fields: Counter[str]  # field -> trees with an anchor on it

    def cost(self, option: tuple[Anchor, ...]) -> int:
        """Lower is better: few, rare anchors on fields other rules probe anyway."""
        fields = {a.field for a in option}
        return sum(a.weight + self.common[a] for a in option) + sum(FIELD_PROBE // max(1, self.fields[f]) for f in fields)


def anchors(node: Node, stats: AnchorStats | None = None) -> tuple[Anchor, ...] | None:
    """Tests of which at least one holds whenever `node` does; None if no such cheap set exists.

    Under `and`, the cheapest option wins (`AnchorStats.cost`, from `anchor_stats` over the rules
    of the same module): an anchor many rules' literals satisfy selects many candidates, and a field
    no other rule needs costs a probe of its own.
    """
    return _necessary(node, stats or AnchorStats(Counter(), Counter()))


def anchor_stats(nodes: list[Node]) -> AnchorStats:
    """How common each anchor is, estimated from the rules themselves: the number of trees testing a
    literal on the same field that the anchor holds on. `endswith .exe` holds on hundreds of the
    literals rules test on an image path, so it is a poor anchor; `contains imphash=0a1b...` on one.
    """
    uses: dict[str, Counter[str]] = {}  # field -> literal -> trees testing it
    for node in nodes:
        for anchor in set(_all_anchors(node)):
            uses.setdefault(anchor.field, Counter())[anchor.value] += 1
    counts: Counter[Anchor] = Counter()
    for node in nodes:
        for anchor in _all_anchors(node):
            counts[anchor] = 0
    by_field: dict[str, list[Anchor]] = {}
    for anchor in counts:
        by_field.setdefault(anchor.field, []).append(anchor)
    for field, field_anchors in by_field.items():
        automaton = ahocorasick.Automaton()
        for anchor in field_anchors:
            if anchor.value:
                automaton.add_word(wrapped(anchor), anchor)
        if not len(automaton):
            continue
        automaton.make_automaton()
        for literal, trees in uses[field].items():
            for _, anchor in automaton.iter(START + literal + END):
                counts[anchor] += trees
    fields = Counter({field: sum(literals.values()) for field, literals in uses.items()})
    return AnchorStats(counts, fields)


def _all_anchors(node: Node) -> list[Anchor]:
    if isinstance(node, And | Or):
        return [a for item in node.items for a in _all_anchors(item)]
    return list(_necessary(node, AnchorStats(Counter(), Counter())) or ()) if not isinstance(node, Not) else []


def _necessary(node: Node, stats: AnchorStats) -> tuple[Anchor, ...] | None:
    match node:
        case StrMatch(field, op, value, _) if field is not None:
            return (_anchor(field, op, value),)
        case InSet(field, values, _) if field is not None:
            return tuple(Anchor(field, "eq", v.casefold()) for v in values)
        case AnyAffix(field, op, values, _) if field is not None:
            return tuple(_anchor(field, op, v) for v in values)
        case Regex(field, pattern, flags) if field is not None:
            literal = required_literal(pattern, flags)
            return (Anchor(field, "contains", literal.casefold()),) if literal else None
        case Wildcard(field, regex, _) if field is not None:
            literal = required_literal(regex)
            return (Anchor(field, "contains", literal.casefold()),) if literal else None
        case And(items):
            options = [a for a in (_necessary(i, stats) for i in items) if a is not None]
            return min(options, key=lambda a: (stats.cost(a), a)) if options else None
        case Or(items):
            parts = [p for p in (_necessary(i, stats) for i in items) if p is not None]
            if len(parts) < len(items):
                return None
            return tuple(sorted({a for p in parts for a in p}))
    return None


def required_literal(pattern: str, flags: str = "") -> str | None:
    """The longest run of plain characters every match of the regex contains, if any.

    Groups are read through and a repeated part counts once when it must occur at least once.
    Under IGNORECASE an `i` ends a run: RE2 matches an `i` to `I` only, but Python's re (the engine the
    fallback of runtime/regex.py may run) also to the dotless i and the dotted capital I, which
    case-fold to something else; ending the run keeps the case-folded literal a necessary test for both.

    >>> required_literal(r'"(?:\\{\\d\\})+"\\s*-f'), required_literal(r"(?i)\\$\\{`?env"), required_literal("a|b")
    ('-f', 'env', None)
    """
    if "[:" in pattern:  # RE2's POSIX classes ([[:alpha:]]), which Python's parser reads as literal characters
        return None
    try:
        parsed = sre_parse.parse(pattern, re.IGNORECASE if "i" in flags else 0)
    except (re.error, RecursionError):  # RE2 syntax Python's parser lacks (\pL, \z, a(?i)b): no literal
        return None
    ignore_case = bool(parsed.state.flags & re.IGNORECASE)
    runs = [""]
    _collect_runs(parsed, runs, ignore_case)
    best = max(runs, key=len)
    return best or None


def _collect_runs(items: Iterable[tuple[Any, Any]], runs: list[str], ignore_case: bool) -> None:
    """Append to `runs` the literal runs of a parsed regex sequence; `runs[-1]` is the open run."""
    for op, arg in items:
        if op is sre_constants.LITERAL and not (ignore_case and chr(arg) in "iI"):
            runs[-1] += chr(arg)
        elif op is sre_constants.SUBPATTERN and not arg[1] and not arg[2]:  # a plain group, no flag changes
            _collect_runs(arg[3], runs, ignore_case)
        elif op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT) and arg[0] >= 1:
            runs.append("")
            _collect_runs(arg[2], runs, ignore_case)
            runs.append("")
        else:
            runs.append("")


WRAPPERS = {"eq": START + "{}" + END, "startswith": START + "{}", "endswith": "{}" + END, "contains": "{}"}


def wrapped(anchor: Anchor) -> str:
    """The anchor as the runtime scans for it in a field's wrapped texts (runtime/anchor_index.py)."""
    return WRAPPERS[anchor.kind].format(anchor.value)


def probeable(found: tuple[Anchor, ...] | None) -> TypeGuard[tuple[Anchor, ...]]:
    """Can the runtime scan for all of these? Not for an empty substring, nor literals holding a sentinel."""
    return found is not None and all(a.value and not (SENTINELS & set(a.value)) for a in found)


def build_index(rule_anchors: list[tuple[int, tuple[Anchor, ...] | None]]) -> tuple[tuple[int, ...], dict[str, dict[str, tuple[int, ...]]]]:
    """(rules always checked, each field's wrapped literals → the rules they anchor) for (rule number, anchors) pairs."""
    always = tuple(i for i, a in rule_anchors if not probeable(a))
    by_field: dict[str, dict[str, set[int]]] = {}
    for i, found in rule_anchors:
        if probeable(found):
            for anchor in found:
                by_field.setdefault(anchor.field, {}).setdefault(wrapped(anchor), set()).add(i)
    return always, {f: {w: tuple(sorted(r)) for w, r in sorted(t.items())} for f, t in sorted(by_field.items())}
