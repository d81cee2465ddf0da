"""Python code generation: expressions from IR trees, module layout from a Jinja2 template.

`ExprWriter` writes one Python expression per rule (one method per node kind) over `F`, the
record's lazily read fields (`runtime.helpers.Fields`). The template lays out the module: imports,
constants, the anchor index, one check function per rule, and `match`. Every literal goes through
`repr`, and dicts are written with sorted keys, so the output is the same on every run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

import runtime.helpers
from compiler.anchors import anchor_stats, anchors, build_index, required_literal
from compiler.ir import (
    And,
    AnyAffix,
    Cidr,
    Const,
    Exists,
    FieldRef,
    InSet,
    IsNull,
    Node,
    Not,
    NumCompare,
    Or,
    PyCall,
    Regex,
    StrMatch,
    TimePart,
    Wildcard,
)
from compiler.literal_trie import trie_regex
from compiler.literals import comment_text, identifier, literal, number
from dsl import python_hooks
from runtime.contract import (
    CONTRACT,
    FOLDED,
    KEYWORD_FOLDED,
    KEYWORD_TEXTS,
    NUMBERS,
    PACKAGE,
    TEXTS,
    VALUE,
    WRAPPED_FOLDED,
    WRAPPED_TEXTS,
    field_key,
)
from runtime.fields import END, START

# The helpers generated modules may import: exactly what the runtime exports.
HELPERS = tuple(runtime.helpers.__all__)
ALWAYS_TRUE = Const(True)
COMPARE_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "=="}
STR_TESTS = {
    "contains": "{lit} in t",
    "startswith": "t.startswith({lit})",
    "endswith": "t.endswith({lit})",
}
# A field's texts in wrapped form (runtime/fields.py): one `in` test checks them all.
WRAPPED = {"eq": START + "{}" + END, "startswith": START + "{}", "endswith": "{}" + END, "contains": "{}"}
INLINE_TESTS = 12  # up to this many literals are tested one `in` each; more share one trie regex


def wrappable(value: str) -> bool:
    """Can `value` be tested in a field's wrapped texts? Not empty (the empty substring needs a text)
    and free of the sentinels."""
    return bool(value) and START not in value and END not in value


@dataclass
class ExprWriter:
    """Writes Python expressions for rule trees, sharing constants and hook imports across rules."""

    constants: dict[tuple[Any, ...], str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)  # helpers the module calls
    hooks: dict[str, str | None] = field(default_factory=dict)  # hook module name -> source file

    def helper(self, name: str) -> str:
        self.used.add(name)
        return name

    def constant(self, kind: str, *args: Any) -> str:
        key = (kind, *args)
        if key not in self.constants:
            self.constants[key] = f"{kind.upper()}{len(self.constants)}"
        return self.constants[key]

    def hook_module(self, module_path: str, resolved: str | None) -> str:
        name = identifier(python_hooks.hook_module(module_path, resolved))
        self.hooks[name] = resolved
        return name

    @staticmethod
    def texts_var(name: str | None, folded: bool) -> str:
        if name is None:
            return f"F[{KEYWORD_FOLDED if folded else KEYWORD_TEXTS!r}]"
        return f"F[{field_key(FOLDED if folded else TEXTS, name)!r}]"

    @staticmethod
    def wrapped_var(name: str, folded: bool) -> str:
        return f"F[{field_key(WRAPPED_FOLDED if folded else WRAPPED_TEXTS, name)!r}]"

    @staticmethod
    def raw(name: str) -> str:
        return f"F[{field_key(VALUE, name)!r}]"

    def write(self, node: Node) -> str:
        method: Callable[[Node], str] = getattr(self, "write_" + type(node).__name__)
        return method(node)

    def write_And(self, node: And) -> str:
        return "(" + " and ".join(self.write(i) for i in node.items) + ")"

    def write_Or(self, node: Or) -> str:
        return "(" + " or ".join(self.write(i) for i in node.items) + ")"

    def write_Not(self, node: Not) -> str:
        """The negated test itself where Python has one (`not in`, `is`, `isdisjoint`), else `not (...)`.

        >>> w = ExprWriter()
        >>> w.write(Not(InSet("Image", ("system", "vmmem")))), w.write(Not(Exists("User")))
        ("SET0.isdisjoint(F['f:Image'])", "(F['v:User'] is MISSING)")
        """
        item = node.item
        if isinstance(item, StrMatch) and item.op == "eq":
            return f"({item.value!r} not in {self.texts_var(item.field, folded=not item.cased)})"
        if isinstance(item, StrMatch) and item.field is not None and wrappable(item.value):
            return f"({WRAPPED[item.op].format(item.value)!r} not in {self.wrapped_var(item.field, not item.cased)})"
        if isinstance(item, Exists):
            return f"({self.raw(item.field)} is {self.helper('MISSING')})"
        if isinstance(item, InSet):
            return self.disjoint(item)
        return f"(not {self.write(item)})"

    def write_Const(self, node: Const) -> str:
        return repr(node.value)

    def write_StrMatch(self, node: StrMatch) -> str:
        var = self.texts_var(node.field, folded=not node.cased)
        if node.op == "eq":
            return f"({node.value!r} in {var})"
        if node.field is not None and wrappable(node.value):
            return f"({WRAPPED[node.op].format(node.value)!r} in {self.wrapped_var(node.field, not node.cased)})"
        return f"any({STR_TESTS[node.op].format(lit=repr(node.value))} for t in {var})"

    def write_InSet(self, node: InSet) -> str:
        return "not " + self.disjoint(node)

    def disjoint(self, node: InSet) -> str:
        """The test that none of the field's texts is in the set: `InSet` negated."""
        values = self.constant("set", node.values)
        return f"{values}.isdisjoint({self.texts_var(node.field, folded=not node.cased)})"

    def write_AnyAffix(self, node: AnyAffix) -> str:
        var = self.texts_var(node.field, folded=not node.cased)
        if node.field is not None and all(wrappable(v) for v in node.values):
            wrapped = self.wrapped_var(node.field, not node.cased)
            if len(node.values) <= INLINE_TESTS:
                first, *rest = (repr(WRAPPED[node.op].format(v)) for v in node.values)
                return "(" + " or ".join([f"{first} in (w := {wrapped})", *(f"{v} in w" for v in rest)]) + ")"
            if node.op == "contains":  # a literal free of sentinels can only match within one text
                return f"bool({self.constant('rx', trie_regex(node.values), '')}.search({wrapped}))"
        if node.op == "contains":
            if len(node.values) <= 12:
                return f"any(v in t for t in {var} for v in {self.constant('tuple', node.values)})"
            # Many literals: single characters by set intersection, the rest by one trie-shaped regex scan.
            chars = tuple(v for v in node.values if len(v) == 1)
            longer = tuple(v for v in node.values if len(v) != 1)
            tests = []
            if chars:
                tests.append(f"not {self.constant('set', chars)}.isdisjoint(t)")
            if longer:
                scan = f"{self.constant('rx', trie_regex(longer), '')}.search(t)"
                starts = frozenset(v[0] for v in longer)
                if all(not c.isascii() for c in starts):  # e.g. emoji: a set test skips almost every text
                    scan = f"not {self.constant('set', tuple(sorted(starts)))}.isdisjoint(t) and {scan}"
                tests.append(scan)
            return f"any({' or '.join(tests)} for t in {var})"
        return f"any(t.{node.op}({node.values!r}) for t in {var})"

    def write_Wildcard(self, node: Wildcard) -> str:
        rx = self.constant("rx", node.regex, "s")
        return f"any({rx}.fullmatch(t) for t in {self.texts_var(node.field, folded=not node.cased)})"

    def write_Regex(self, node: Regex) -> str:
        rx = self.constant("rx", node.pattern, node.flags)
        search = f"any({rx}.search(t) for t in {self.texts_var(node.field, folded=False)})"
        literal = required_literal(node.pattern, node.flags) if node.field is not None else None
        if node.field is not None and literal and wrappable(literal.casefold()):  # without the literal no match: skip the scan
            return f"({literal.casefold()!r} in {self.wrapped_var(node.field, True)} and {search})"
        return search

    def write_NumCompare(self, node: NumCompare) -> str:
        return f"any(n {COMPARE_OPS[node.op]} {number(node.number)} for n in F[{field_key(NUMBERS, node.field)!r}])"

    def write_Cidr(self, node: Cidr) -> str:
        return f"{self.helper('ip_in')}({self.raw(node.field)}, {node.network!r})"

    def write_IsNull(self, node: IsNull) -> str:
        raw = self.raw(node.field)
        return f"({raw} is {self.helper('MISSING')} or {raw} is None)"

    def write_Exists(self, node: Exists) -> str:
        return f"({self.raw(node.field)} is not {self.helper('MISSING')})"

    def write_FieldRef(self, node: FieldRef) -> str:
        return f"{self.helper('field_ref')}({self.raw(node.field)}, {self.raw(node.other)}, {node.op!r}, {node.cased!r})"

    def write_TimePart(self, node: TimePart) -> str:
        part = f"{self.helper('time_part')}({self.raw(node.field)}, {node.part!r})"
        return f"((p := {part}) is not None and p {COMPARE_OPS[node.op]} {number(node.number)})"

    def write_PyCall(self, node: PyCall) -> str:
        module = self.hook_module(node.module_path, node.resolved)
        return f"bool({module}.{identifier(node.function)}(F.record))"

    def constant_lines(self) -> list[str]:
        lines = []
        for (kind, *args), name in self.constants.items():
            if kind == "rx":
                pattern, flags = args
                lines.append(f"{name} = {self.helper('LazyRegex')}({pattern!r}, {flags!r})")
            elif kind == "set":  # sorted here, whatever order the caller's values came in: a set's own
                # order changes with PYTHONHASHSEED, and the module must be the same in every process
                lines.append(f"{name} = frozenset({sorted(args[0])!r})")
            else:
                lines.append(f"{name} = {tuple(args[0])!r}")
        return lines


@dataclass(frozen=True)
class RuleCode:
    """One rule as the template sees it: plain strings only."""

    key: str
    origin: str  # path:line and title, written as a comment before the rule's check
    test: str


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("compiler", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["pyrepr"] = literal
    env.filters["literal"] = literal
    env.filters["comment"] = comment_text
    return env


@dataclass(frozen=True)
class GeneratedModule:
    source: str
    hooks: dict[str, str | None]  # hook module name in sigil_rules._hooks -> the user's file


@dataclass(frozen=True)
class RuleInput:
    """One rule for a module: `check` is its optimized tree, `when` the logsource condition it needs.

    The module tests each distinct `when` at most once per record, and only for rules whose anchors hit.
    """

    key: str
    origin: str
    check: Node
    meta: Mapping[str, Any]  # a runtime.contract.RuleMeta
    when: Node = ALWAYS_TRUE


def generate_module(
    log_type: str, inputs: Sequence[RuleInput | tuple[str, str, Node, Mapping[str, Any]]], generator: str
) -> GeneratedModule:
    """The matcher module for one log type (a plain 4-tuple is (key, origin, tree, metadata))."""
    rules = [r if isinstance(r, RuleInput) else RuleInput(*r) for r in inputs]
    writer = ExprWriter()
    codes = [RuleCode(r.key, r.origin, writer.write(r.check)) for r in rules]
    whens = list(dict.fromkeys(r.when for r in rules))  # distinct logsource conditions, in rule order
    stats = anchor_stats([r.check for r in rules])
    always, index = build_index([(i, anchors(r.check, stats)) for i, r in enumerate(rules)])
    when_codes = [writer.write(w) for w in whens]
    writer.used.update(("AnchorIndex", "Conditions", "Fields", "MatchTables", "run_rules"))
    constants = writer.constant_lines()
    source = _environment().get_template("matcher_module.py.j2").render(
        log_type=log_type,
        generator=generator,
        helpers=[h for h in HELPERS if h in writer.used],
        constants=constants,
        hook_modules=sorted(writer.hooks),
        rules=codes,
        rules_table=[(r.key, literal(r.meta)) for r in rules],
        whens=when_codes,
        when_paths=[fields_read(w) for w in whens],
        rule_whens=tuple(whens.index(r.when) for r in rules),
        always=always,
        anchors=[f"{path!r}: {literal(literals)}" for path, literals in index.items()],
    )
    compile(source, f"<{PACKAGE}.{module_name(log_type)}>", "exec")  # fail at build time, never in Lambda
    return GeneratedModule(source, dict(sorted(writer.hooks.items())))


def fields_read(node: Node) -> tuple[str, ...] | None:
    """The top-level fields a tree reads, sorted; None if it reads anything else (nested paths,
    keywords, the whole record in a Python hook), so that its value cannot be remembered by them."""
    match node:
        case And(items) | Or(items):
            parts = [p for p in map(fields_read, items) if p is not None]
            return None if len(parts) < len(items) else tuple(sorted({f for p in parts for f in p}))
        case Not(item):
            return fields_read(item)
        case Const():
            return ()
        case PyCall():
            return None
    names = [node.field, *([node.other] if isinstance(node, FieldRef) else [])]
    fields = {n for n in names if n is not None and "." not in n}
    return None if len(fields) < len(set(names)) else tuple(sorted(fields))


def generate_package_init(modules: dict[str, str], generator: str) -> str:
    return _environment().get_template("package_init.py.j2").render(
        modules=sorted(modules.items()), generator=generator, contract=CONTRACT
    )




def module_name(log_type: str) -> str:
    """A Python module name for a log type (ASCII letters, digits and underscores)."""
    name = re.sub(r"[^a-z0-9_]", "_", log_type.lower())
    return name if name[:1].isalpha() else "lt_" + name
