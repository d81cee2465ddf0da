"""Choose, for each rule, cheap necessary tests ("anchors") that the runtime can probe in bulk.

A rule can only be true if at least one of its anchors holds, so the generated module probes all
anchors of a log type through hash tables (`runtime.helpers.run_rules`) and evaluates only the
rules whose anchors hit. Per-record work then grows with the record, not with the rule count.

Anchors test case-folded text: a case-sensitive test implies its folded one (casefold maps each
character on its own), so the folded form is still a necessary condition.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from compiler.ir import And, AnyAffix, InSet, Node, Not, Or, Regex, StrMatch, Wildcard

try:  # Python 3.11+ keeps the regex parser here
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants
    import sre_parse

GRAM = 4  # contains-literals at least this long are indexed by one of their GRAM-character slices
DIRECT = 48  # with no more literals than this on a field, `in` tests beat building the text's gram set
MAX_SLOW = 8  # a rule needing more unindexable (short) literals than this is simply always evaluated


@dataclass(frozen=True, slots=True, order=True)
class Anchor:
    field: str
    kind: str  # eq | startswith | endswith | contains
    value: str  # case-folded

    @property
    def slow(self) -> bool:
        """Probed by a Python loop rather than a hash lookup."""
        return self.kind == "contains" and len(self.value) < GRAM

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


def anchors(node: Node, frequency: Counter | None = None) -> tuple[Anchor, ...] | None:
    """Tests of which at least one holds whenever `node` does; None if no such cheap set exists.

    Under `and`, the option that is cheapest to probe and rarest among the other rules wins:
    `frequency` counts how many trees of the same index test each anchor (see `anchor_frequency`),
    and an anchor many rules share selects many candidates.
    """
    found = _necessary(node, frequency or Counter())
    if found is None or sum(a.slow for a in found) > MAX_SLOW:
        return None
    return found


def anchor_frequency(nodes: list[Node]) -> Counter:
    """How many of the trees test each anchor anywhere: a common anchor selects little."""
    counts: Counter = Counter()
    for node in nodes:
        counts.update(set(_all_anchors(node)))
    return counts


def _all_anchors(node: Node) -> list[Anchor]:
    if isinstance(node, And | Or):
        return [a for item in node.items for a in _all_anchors(item)]
    return list(_necessary(node, Counter()) or ()) if not isinstance(node, Not) else []


def _necessary(node: Node, frequency: Counter) -> tuple[Anchor, ...] | None:
    match node:
        case StrMatch(field, op, value, _) if field is not None:
            return (_anchor(field, op, value),)
        case InSet(field, values, _) if field is not None:
            return tuple(Anchor(field, "eq", v.casefold()) for v in values)
        case AnyAffix(field, op, values, _) if field is not None:
            return tuple(_anchor(field, op, v) for v in values)
        case Regex(field, pattern, _) if field is not None:
            literal = required_literal(pattern)
            return (Anchor(field, "contains", literal.casefold()),) if literal else None
        case Wildcard(field, regex, _) if field is not None:
            literal = required_literal(regex)
            return (Anchor(field, "contains", literal.casefold()),) if literal else None
        case And(items):
            options = [a for a in (_necessary(i, frequency) for i in items) if a is not None]
            return min(options, key=lambda a: (sum(x.weight + min(frequency[x], 64) for x in a), a)) if options else None
        case Or(items):
            parts = [_necessary(i, frequency) for i in items]
            if any(p is None for p in parts):
                return None
            return tuple(sorted({a for p in parts for a in p}))
    return None


def required_literal(pattern: str) -> str | None:
    """The longest run of plain characters every match of the regex contains, if 3 or longer."""
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError):
        return None
    runs, current = [], []
    for op, arg in parsed:
        if op is sre_constants.LITERAL:
            current.append(chr(arg))
        else:
            runs.append("".join(current))
            current = []
    runs.append("".join(current))
    best = max(runs, key=len)
    return best if len(best) >= 3 else None


@dataclass(frozen=True)
class FieldIndex:
    """The probe tables of one field, as plain data for the generated module."""

    field: str
    eq: dict[str, tuple[int, ...]]
    segments: dict[str, tuple[int, ...]]  # endswith literals holding a backslash, by their last path segment
    prefixes: tuple[tuple[int, dict[str, tuple[int, ...]]], ...]
    suffixes: tuple[tuple[int, dict[str, tuple[int, ...]]], ...]
    grams: dict[str, tuple[int, ...]]
    step: int  # texts are sliced into grams at every `step`-th position
    short: tuple[tuple[str, tuple[int, ...]], ...]


def build_index(rule_anchors: list[tuple[int, tuple[Anchor, ...] | None]]) -> tuple[tuple[int, ...], tuple[FieldIndex, ...]]:
    """(rules always evaluated, per-field tables) for (rule number, anchors) pairs."""
    always = tuple(i for i, a in rule_anchors if a is None)
    by_field: dict[str, dict[str, dict[str, set[int]]]] = {}
    for i, found in rule_anchors:
        for anchor in found or ():
            by_field.setdefault(anchor.field, {}).setdefault(anchor.kind, {}).setdefault(anchor.value, set()).add(i)
    return always, tuple(_field_index(field, kinds) for field, kinds in sorted(by_field.items()))


def _frozen(table: dict[str, set[int]]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(sorted(v)) for k, v in sorted(table.items())}


def _by_length(table: dict[str, set[int]]) -> tuple[tuple[int, dict[str, tuple[int, ...]]], ...]:
    lengths: dict[int, dict[str, set[int]]] = {}
    for value, rules in table.items():
        lengths.setdefault(len(value), {})[value] = rules
    return tuple((n, _frozen(t)) for n, t in sorted(lengths.items()))


STEPS = (8, 4, 2, 1)


def _gram_step(contains: dict[str, set[int]]) -> int:
    """How sparsely texts may be sliced into grams (0: no grams at all, test each literal directly).

    A literal of length L can be found from slices every `step` characters if L >= GRAM + step - 1;
    the largest step that leaves at most DIRECT literals to direct `in` tests wins.
    """
    if len(contains) <= DIRECT:
        return 0
    for step in STEPS:
        if sum(len(v) < GRAM + step - 1 for v in contains) <= DIRECT:
            return step
    return 1


def _field_index(field: str, kinds: dict[str, dict[str, set[int]]]) -> FieldIndex:
    contains = kinds.get("contains", {})
    step = _gram_step(contains)
    long_literals = {v: r for v, r in contains.items() if len(v) >= GRAM + step - 1} if step else {}
    frequency = Counter(g for v in long_literals for g in {v[i : i + GRAM] for i in range(len(v) - GRAM + 1)})
    grams: dict[str, set[int]] = {}
    for value, rules in long_literals.items():
        # The text is sliced only at every `step`-th position, so index `step` consecutive grams of the
        # literal (wherever it occurs, one of them sits on a sliced position): the rarest such window.
        windows = [[value[k + i : k + i + GRAM] for i in range(step)] for k in range(len(value) - GRAM - step + 2)]
        for gram in min(windows, key=lambda w: (sum(frequency[g] for g in w), windows.index(w))):
            grams.setdefault(gram, set()).update(rules)
    short = {v: r for v, r in contains.items() if v not in long_literals}
    endswith = kinds.get("endswith", {})
    segments: dict[str, set[int]] = {}
    for value, rules in endswith.items():
        if "\\" in value:  # a text ending with it has the same last path segment
            segments.setdefault(value.rpartition("\\")[2], set()).update(rules)
    return FieldIndex(
        field=field,
        eq=_frozen(kinds.get("eq", {})),
        segments=_frozen(segments),
        prefixes=_by_length(kinds.get("startswith", {})),
        suffixes=_by_length({v: r for v, r in endswith.items() if "\\" not in v}),
        grams=_frozen(grams),
        step=step or 1,
        short=tuple((v, tuple(sorted(r))) for v, r in sorted(short.items())),
    )
