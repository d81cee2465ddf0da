"""Python code generation: expressions from IR trees, then a module planned and printed.

`ExprWriter` writes one Python expression per rule (one method per node kind) over `F`, the
record's lazily read fields (`runtime.helpers.Fields`), as `compiler.layout.Code`: operands of
`and`/`or` one per line. `compiler.module_plan` plans the module as data (rules, logsource
conditions, shared constants, anchors) and `compiler.layout` prints it through the Jinja2 template.
Every literal goes through `compiler/literals.py`, dicts with sorted keys, names are hashes of
content, so the output is the same on every run and a one-rule change gives a local diff.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import runtime.helpers
from compiler.anchors import required_literal
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
from compiler.layout import Chain, Code, environment, lit, render_module
from compiler.literal_trie import trie_regex
from compiler.literals import identifier, number
from compiler.module_plan import RuleInput, fields_read, plan_module
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

__all__ = ["ExprWriter", "GeneratedModule", "RuleInput", "fields_read", "generate_module", "generate_package_init", "module_name"]

# The helpers generated modules may import: exactly what the runtime exports.
HELPERS = tuple(runtime.helpers.__all__)
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
    # The selections a node's tests come from, in the rule's order: written as a comment above an operand.
    label: Callable[[Node], tuple[str, ...]] | None = None
    _within: tuple[str, ...] = ()  # the selections of the operand being written
    _names: set[str] = field(default_factory=set)  # of the constants

    def helper(self, name: str) -> str:
        self.used.add(name)
        return name

    def constant(self, kind: str, *args: Any) -> str:
        """The name of a shared constant: `KIND_` and a hash of its content, so it does not change with
        the other rules of the module (longer on the rare clash of eight hex digits)."""
        if kind == "set":  # one content, one name, whatever order the values came in
            args = (tuple(sorted(args[0])),)
        key = (kind, *args)
        if key not in self.constants:
            digest = hashlib.sha256(repr(key).encode("utf-8", "surrogatepass")).hexdigest()
            size = 8
            while f"{kind.upper()}_{digest[:size]}" in self._names:
                size += 4
            self.constants[key] = f"{kind.upper()}_{digest[:size]}"
            self._names.add(self.constants[key])
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

    def write(self, node: Node) -> Code:
        method: Callable[[Node], Code] = getattr(self, "write_" + type(node).__name__)
        return method(node)

    def write_And(self, node: And) -> Code:
        return self.chain("and", node.items)

    def write_Or(self, node: Or) -> Code:
        return self.chain("or", node.items)

    def chain(self, op: str, items: tuple[Node, ...]) -> Chain:
        """One operand per line, each below the names of the selections it comes from, unless they are
        those of the operand before or the operand holds the enclosing operand's selections too."""
        within, previous = self._within, self._within
        written, labels = [], []
        for item in items:
            names = self.label(item) if self.label else ()
            if not names or (within and set(names) >= set(within)):
                names = within
            labels.append(", ".join(names) if names != previous else "")
            previous = self._within = names
            written.append(self.write(item))
        self._within = within
        return Chain(op, tuple(written), tuple(labels) if any(labels) else ())

    def write_Not(self, node: Not) -> Code:
        """The negated test itself where Python has one (`not in`, `is`, `isdisjoint`), else `not (...)`.

        >>> w = ExprWriter()
        >>> w.write(Not(InSet("Image", ("system", "vmmem")))), w.write(Not(Exists("User")))
        ("SET_e9e8e5c3.isdisjoint(F['f:Image'])", "(F['v:User'] is MISSING)")
        """
        item = node.item
        if isinstance(item, StrMatch) and item.op == "eq":
            return f"({lit(item.value)} not in {self.texts_var(item.field, folded=not item.cased)})"
        if isinstance(item, StrMatch) and item.field is not None and wrappable(item.value):
            return f"({lit(WRAPPED[item.op].format(item.value))} not in {self.wrapped_var(item.field, not item.cased)})"
        if isinstance(item, Exists):
            return f"({self.raw(item.field)} is {self.helper('MISSING')})"
        if isinstance(item, InSet):
            return self.disjoint(item)
        inner = self.write(item)
        return inner.negated() if isinstance(inner, Chain) else f"(not {inner})"

    def write_Const(self, node: Const) -> str:
        return repr(node.value)

    def write_StrMatch(self, node: StrMatch) -> str:
        var = self.texts_var(node.field, folded=not node.cased)
        if node.op == "eq":
            return f"({lit(node.value)} in {var})"
        if node.field is not None and wrappable(node.value):
            return f"({lit(WRAPPED[node.op].format(node.value))} in {self.wrapped_var(node.field, not node.cased)})"
        return f"any({STR_TESTS[node.op].format(lit=lit(node.value))} for t in {var})"

    def write_InSet(self, node: InSet) -> str:
        return "not " + self.disjoint(node)

    def disjoint(self, node: InSet) -> str:
        """The test that none of the field's texts is in the set: `InSet` negated."""
        values = self.constant("set", node.values)
        return f"{values}.isdisjoint({self.texts_var(node.field, folded=not node.cased)})"

    def write_AnyAffix(self, node: AnyAffix) -> Code:
        var = self.texts_var(node.field, folded=not node.cased)
        if node.field is not None and all(wrappable(v) for v in node.values):
            wrapped = self.wrapped_var(node.field, not node.cased)
            if len(node.values) <= INLINE_TESTS:
                first, *rest = (lit(WRAPPED[node.op].format(v)) for v in node.values)
                if not rest:
                    return f"({first} in {wrapped})"
                return Chain("or", (f"{first} in (w := {wrapped})", *(f"{v} in w" for v in rest)))
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
        return f"any(t.{node.op}({lit(tuple(node.values))}) for t in {var})"

    def write_Wildcard(self, node: Wildcard) -> str:
        rx = self.constant("rx", node.regex, "s")
        return f"any({rx}.fullmatch(t) for t in {self.texts_var(node.field, folded=not node.cased)})"

    def write_Regex(self, node: Regex) -> Code:
        rx = self.constant("rx", node.pattern, node.flags)
        search = f"any({rx}.search(t) for t in {self.texts_var(node.field, folded=False)})"
        literal = required_literal(node.pattern, node.flags) if node.field is not None else None
        if node.field is not None and literal and wrappable(literal.casefold()):  # a text without the literal cannot match: skip the scan
            return Chain("and", (f"({lit(literal.casefold())} in {self.wrapped_var(node.field, True)})", search))
        return search

    def write_NumCompare(self, node: NumCompare) -> str:
        return f"any(n {COMPARE_OPS[node.op]} {number(node.number)} for n in F[{field_key(NUMBERS, node.field)!r}])"

    def write_Cidr(self, node: Cidr) -> str:
        return f"{self.helper('ip_in')}({self.raw(node.field)}, {lit(node.network)})"

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

@dataclass(frozen=True)
class GeneratedModule:
    source: str
    hooks: dict[str, str | None]  # hook module name in sigil_rules._hooks -> the user's file


def generate_module(
    log_type: str, inputs: Sequence[RuleInput | tuple[Any, ...]], generator: str
) -> GeneratedModule:
    """The matcher module for one log type (a plain 4-tuple is (key, origin, tree, metadata))."""
    rules = [r if isinstance(r, RuleInput) else RuleInput(*r) for r in inputs]
    writer = ExprWriter()
    plan = plan_module(log_type, rules, writer, HELPERS)
    source = render_module(plan, generator)
    compile(source, f"<{PACKAGE}.{module_name(log_type)}>", "exec")  # fail at build time, never in Lambda
    return GeneratedModule(source, plan.hooks)


def generate_package_init(modules: dict[str, str], generator: str) -> str:
    return environment().get_template("package_init.py.j2").render(modules=sorted(modules.items()), generator=generator, contract=CONTRACT)


def module_name(log_type: str) -> str:
    """A Python module name for a log type (ASCII letters, digits and underscores)."""
    name = re.sub(r"[^a-z0-9_]", "_", log_type.lower())
    return name if name[:1].isalpha() else "lt_" + name
