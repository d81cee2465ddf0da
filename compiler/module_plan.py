"""Plan one generated matcher module as data, before compiler/layout.py prints it.

The plan holds, for one log type: each rule's check (as `compiler.layout.Code`), its name, its
logsource condition and the comments above it; the distinct logsource conditions; the shared
constants; the anchors by field; the helpers and hook modules the module imports. Every name is
derived from content, never from a position, so a change to one rule leaves the other rules' lines,
and their names in the tables, as they were: rule checks `_r` + the first 8 hex digits of a UUID id
(else of the sha256 of the id), conditions `_when_` + 8 hex digits of the sha256 of their code,
constants `SET_`/`RX_`/`TUPLE_` + 8 of their content's. The runtime numbers rules and conditions
at import (`runtime.helpers.number_rules`).
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compiler.anchors import anchor_stats, anchors, build_index
from compiler.ir import And, AnyAffix, Const, FieldRef, InSet, Node, Not, Or, PyCall, StrMatch
from compiler.layout import Code, code_lines, comment_lines

if TYPE_CHECKING:
    from compiler.codegen import ExprWriter

ALWAYS_TRUE = Const(True)
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


@dataclass(frozen=True)
class RuleInput:
    """One rule for a module: `check` is its optimized tree, `when` the logsource condition it needs.

    The module tests each distinct `when` at most once per record, and only for rules whose anchors
    hit. The rest is for the reader of the module: `logsource` (the Sigma logsource and how it maps to
    the log type), `condition` (as written) and `selections` (each selection's name and tree, fields
    renamed as in `check`: an operand of the check is labelled with the selections it comes from).
    """

    key: str
    origin: str
    check: Node
    meta: Mapping[str, Any]  # a runtime.contract.RuleMeta
    when: Node = ALWAYS_TRUE
    logsource: str = ""
    condition: str = ""
    selections: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True)
class RulePlan:
    key: str
    name: str  # of its check function
    when: str  # name of its logsource condition's function
    comments: tuple[str, ...]  # comment lines (escaped) above the check
    check: Code


@dataclass(frozen=True)
class WhenPlan:
    name: str
    comments: tuple[str, ...]
    test: Code
    paths: tuple[str, ...] | None  # the top-level fields it reads (None: something else)


@dataclass(frozen=True)
class ModulePlan:
    log_type: str
    helpers: tuple[str, ...]
    hook_modules: tuple[str, ...]
    metadata: tuple[tuple[str, Mapping[str, Any]], ...]  # rule id -> RULES entry, in rule order (once per id)
    constants: tuple[tuple[str, str, tuple[Any, ...]], ...]  # (name, kind, content), by name
    whens: tuple[WhenPlan, ...]  # by name
    rules: tuple[RulePlan, ...]  # in rule order
    always: tuple[str, ...]  # checks of the rules without anchors
    anchors: dict[str, dict[str, tuple[str, ...]]]  # field -> wrapped literal -> checks, rule order
    hooks: dict[str, str | None] = field(default_factory=dict)  # hook module -> the user's file


def sha8(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def rule_names(rules: list[RuleInput]) -> list[str]:
    """A check function name per rule, from its id alone unless two rules would share it."""
    names: list[str] = []
    taken: set[str] = set()
    for rule in rules:
        candidates = itertools.chain(
            [rule.key[:8].lower()] if UUID.fullmatch(rule.key) else [],
            [sha8(rule.key)],
            (sha8(f"{rule.key}\n{rule.logsource}\n{n}") for n in itertools.count()),
        )
        name = next(f"_r{c}" for c in candidates if f"_r{c}" not in taken)
        taken.add(name)
        names.append(name)
    return names


def plan_module(log_type: str, rules: list[RuleInput], writer: ExprWriter, helpers: tuple[str, ...]) -> ModulePlan:
    """The module for one log type's rules (in rule order), its expressions written by `writer`."""
    names = rule_names(rules)
    when_names: dict[Node, str] = {}  # two trees written alike share one function
    tests: dict[str, tuple[Code, tuple[str, ...] | None]] = {}
    logsources: dict[str, set[str]] = {}
    for rule in rules:
        if rule.when not in when_names:
            test = writer.write(rule.when)
            name = when_names[rule.when] = f"_when_{sha8(chr(10).join(code_lines(test)))}"
            tests.setdefault(name, (test, fields_read(rule.when)))
        logsources.setdefault(when_names[rule.when], set()).update([rule.logsource] if rule.logsource else [])
    whens = [
        WhenPlan(name, tuple(line for text in sorted(logsources[name]) for line in comment_lines(f"logsource: {text}")), test, paths)
        for name, (test, paths) in sorted(tests.items())
    ]
    planned = []
    for rule, name in zip(rules, names, strict=True):
        writer.label = selection_labels(rule.selections)
        check = writer.write(rule.check)
        writer.label = None
        planned.append(RulePlan(rule.key, name, when_names[rule.when], rule_comments(rule, when_names[rule.when]), check))
    metadata: dict[str, Mapping[str, Any]] = {}  # once per id (a rule of two logsource mappings has two checks)
    for rule in rules:
        metadata.setdefault(rule.key, rule.meta)
    stats = anchor_stats([r.check for r in rules])
    always, index = build_index([(i, anchors(r.check, stats)) for i, r in enumerate(rules)])
    writer.used.update(("Fields", "number_rules", "run_rules", *(["LazyRegex"] if any(k == "rx" for k, *_ in writer.constants) else [])))
    return ModulePlan(
        log_type=log_type,
        helpers=tuple(h for h in helpers if h in writer.used),
        hook_modules=tuple(sorted(writer.hooks)),
        metadata=tuple(metadata.items()),
        constants=tuple(sorted(((name, kind, tuple(args)) for (kind, *args), name in writer.constants.items()))),
        whens=tuple(whens),
        rules=tuple(planned),
        always=tuple(names[i] for i in always),
        anchors={f: {w: tuple(names[i] for i in rs) for w, rs in lits.items()} for f, lits in index.items()},
        hooks=dict(sorted(writer.hooks.items())),
    )


def rule_comments(rule: RuleInput, when: str) -> tuple[str, ...]:
    """The comment above a rule's check: id, file:line and title, logsource mapping, condition."""
    lines = [*comment_lines(rule.key), *comment_lines(f"  {rule.origin}")]
    if rule.logsource:
        lines += comment_lines(f"  logsource: {rule.logsource} (tested by {when})")
    if rule.condition:
        lines += comment_lines(f"  condition: {rule.condition}")
    return tuple(lines)


def selection_labels(selections: tuple[tuple[str, Node], ...]) -> Callable[[Node], tuple[str, ...]]:
    """A function giving, for a node of the rule's optimized check, the selections its tests come from,
    matched by test (passes merge and reorder tests but keep them): those all its tests share, else any."""
    owners: dict[Node, set[str]] = {}
    for name, tree in selections:
        for test in tests_of(tree):
            owners.setdefault(test, set()).add(name)
    order = [name for name, _ in selections]

    def label(node: Node) -> tuple[str, ...]:
        found = [owners[t] for t in tests_of(node) if t in owners]
        if not found:
            return ()
        names = set.intersection(*found) or set.union(*found)
        return tuple(n for n in order if n in names)

    return label


def tests_of(node: Node) -> list[Node]:
    """The single tests of a tree, set-based tests split back into one test per value."""
    match node:
        case And(items) | Or(items):
            return [t for i in items for t in tests_of(i)]
        case Not(item):
            return tests_of(item)
        case InSet(field_, values, cased):
            return [StrMatch(field_, "eq", v, cased) for v in values]
        case AnyAffix(field_, op, values, cased):
            return [StrMatch(field_, op, v, cased) for v in values]
        case Const():
            return []
    return [node]


def fields_read(node: Node) -> tuple[str, ...] | None:
    """The top-level fields a tree reads, sorted; None if it reads anything else (nested paths,
    keywords, the whole record in a Python hook), so that its value cannot be remembered by them."""
    match node:
        case And(items) | Or(items):
            parts = [fields_read(i) for i in items]
            known = [p for p in parts if p is not None]
            return None if len(known) < len(parts) else tuple(sorted({f for p in known for f in p}))
        case Not(item):
            return fields_read(item)
        case Const():
            return ()
        case PyCall():
            return None
    names = [node.field, *([node.other] if isinstance(node, FieldRef) else [])]
    fields = [n for n in names if n is not None and "." not in n]
    return None if len(fields) < len(names) else tuple(sorted(set(fields)))
