"""Python code generation: expressions from `dsl.expr` trees, module layout from a Jinja2 template.

Expressions are written by `ExprWriter`, one method per node kind; the template only lays out the
module (imports, constants, field reads, one test per rule). Every literal goes through `repr`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from dsl.expr import (
    And,
    Cidr,
    Const,
    Exists,
    Expr,
    FieldRef,
    IsNull,
    Not,
    NumCompare,
    Or,
    PyCall,
    Regex,
    StrMatch,
    TimePart,
    Wildcard,
)

# The helpers generated modules may import; the runtime exports exactly these (runtime.helpers.__all__).
HELPERS = ("MISSING", "all_texts", "field_ref", "folded_texts", "get_field", "ip_in", "numbers", "texts", "time_part")
COMPARE_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "eq": "=="}
STR_TESTS = {
    "contains": "{lit} in t",
    "startswith": "t.startswith({lit})",
    "endswith": "t.endswith({lit})",
}


@dataclass
class FieldSlot:
    """Variables holding one field's value and the derived forms the tests need."""

    index: int
    name: str
    forms: set[str] = field(default_factory=set)  # "texts", "folded", "numbers"

    @property
    def raw(self) -> str:
        return f"v{self.index}"

    def form(self, kind: str) -> str:
        self.forms.add(kind)
        return {"texts": "t", "folded": "f", "numbers": "n"}[kind] + str(self.index)


@dataclass
class ExprWriter:
    """Writes Python expressions for rule trees, sharing field reads and constants across rules."""

    slots: dict[str, FieldSlot] = field(default_factory=dict)
    constants: dict[tuple, str] = field(default_factory=dict)
    keyword_forms: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)  # helpers the module calls
    hooks: dict[str, str | None] = field(default_factory=dict)  # hook module name -> source file

    def hook_module(self, module_path: str, resolved: str | None) -> str:
        name = hook_module_name(module_path)
        self.hooks[name] = resolved
        return name

    def helper(self, name: str) -> str:
        self.used.add(name)
        return name

    def slot(self, name: str) -> FieldSlot:
        if name not in self.slots:
            self.slots[name] = FieldSlot(len(self.slots), name)
        return self.slots[name]

    def constant(self, kind: str, *args: Any) -> str:
        key = (kind, *args)
        if key not in self.constants:
            self.constants[key] = f"{kind.upper()}{len(self.constants)}"
        return self.constants[key]

    def texts_var(self, name: str | None, folded: bool) -> str:
        if name is None:
            self.keyword_forms.add("folded" if folded else "texts")
            return "kw_f" if folded else "kw_t"
        return self.slot(name).form("folded" if folded else "texts")

    def write(self, expr: Expr) -> str:
        return getattr(self, "write_" + type(expr).__name__)(expr)

    def write_And(self, expr: And) -> str:
        return "(" + " and ".join(self.write(i) for i in expr.items) + ")"

    def write_Or(self, expr: Or) -> str:
        return "(" + " or ".join(self.write(i) for i in expr.items) + ")"

    def write_Not(self, expr: Not) -> str:
        item = expr.item
        if isinstance(item, StrMatch) and item.op == "eq":
            return f"({item.value!r} not in {self.texts_var(item.field, folded=not item.cased)})"
        if isinstance(item, Exists):
            return f"({self.slot(item.field).raw} is {self.helper('MISSING')})"
        return f"(not {self.write(item)})"

    def write_Const(self, expr: Const) -> str:
        return repr(expr.value)

    def write_StrMatch(self, expr: StrMatch) -> str:
        var = self.texts_var(expr.field, folded=not expr.cased)
        if expr.op == "eq":
            return f"({expr.value!r} in {var})"
        test = STR_TESTS[expr.op].format(lit=repr(expr.value))
        return f"any({test} for t in {var})"

    def write_Wildcard(self, expr: Wildcard) -> str:
        var = self.texts_var(expr.field, folded=not expr.cased)
        rx = self.constant("rx", expr.regex, "s")
        return f"any({rx}.fullmatch(t) for t in {var})"

    def write_Regex(self, expr: Regex) -> str:
        var = self.texts_var(expr.field, folded=False)
        rx = self.constant("rx", expr.pattern, expr.flags)
        return f"any({rx}.search(t) for t in {var})"

    def write_NumCompare(self, expr: NumCompare) -> str:
        var = self.slot(expr.field).form("numbers")
        return f"any(n {COMPARE_OPS[expr.op]} {expr.number!r} for n in {var})"

    def write_Cidr(self, expr: Cidr) -> str:
        return f"{self.helper('ip_in')}({self.slot(expr.field).raw}, {expr.network!r})"

    def write_IsNull(self, expr: IsNull) -> str:
        raw = self.slot(expr.field).raw
        return f"({raw} is {self.helper('MISSING')} or {raw} is None)"

    def write_Exists(self, expr: Exists) -> str:
        return f"({self.slot(expr.field).raw} is not {self.helper('MISSING')})"

    def write_FieldRef(self, expr: FieldRef) -> str:
        mine, theirs = self.slot(expr.field).raw, self.slot(expr.other).raw
        return f"{self.helper('field_ref')}({mine}, {theirs}, {expr.op!r}, {expr.cased!r})"

    def write_TimePart(self, expr: TimePart) -> str:
        raw = self.slot(expr.field).raw
        return f"((p := {self.helper('time_part')}({raw}, {expr.part!r})) is not None and p {COMPARE_OPS[expr.op]} {expr.number!r})"

    def write_PyCall(self, expr: PyCall) -> str:
        module = self.hook_module(expr.module_path, expr.resolved)
        return f"bool({module}.{expr.function}(record))"

    # -- module-level pieces -------------------------------------------------------------

    def field_reads(self) -> list[str]:
        lines = []
        for slot in self.slots.values():
            lines.append(f"{slot.raw} = {self.helper('get_field')}(record, {slot.name!r})")
            for form, fn in (("texts", "texts"), ("folded", "folded_texts"), ("numbers", "numbers")):
                if form in slot.forms:
                    lines.append(f"{slot.form(form)} = {self.helper(fn)}({slot.raw})")
        if self.keyword_forms:
            lines.append(f"kw_t = {self.helper('all_texts')}(record)")
            if "folded" in self.keyword_forms:
                lines.append("kw_f = [t.casefold() for t in kw_t]")
        return lines

    def constant_lines(self) -> list[str]:
        lines = []
        for (kind, *args), name in self.constants.items():
            if kind == "rx":
                pattern, flags = args
                flag_code = " | ".join(f"re.{f.upper()}" for f in flags) or "0"
                lines.append(f"{name} = re.compile({pattern!r}, {flag_code})")
        return lines


@dataclass(frozen=True)
class RuleCode:
    """One rule as the template sees it: plain strings only."""

    key: str
    origin: str  # path:line, written as a comment before the rule's test
    test: str
    meta: dict


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
    env.filters["pyrepr"] = repr
    return env


@dataclass(frozen=True)
class GeneratedModule:
    source: str
    hooks: dict[str, str | None]  # hook module name in sigil_rules._hooks -> the user's file


def generate_module(log_type: str, rules: list[tuple[str, str, Expr, dict]], generator: str) -> GeneratedModule:
    """The matcher module for one log type; `rules` are (key, origin, expr, metadata)."""
    writer = ExprWriter()
    codes = [RuleCode(key, origin, writer.write(expr), meta) for key, origin, expr, meta in rules]
    field_reads = writer.field_reads()
    source = _environment().get_template("matcher_module.py.j2").render(
        log_type=log_type,
        generator=generator,
        helpers=[h for h in HELPERS if h in writer.used],
        constants=writer.constant_lines(),
        needs_re=bool(writer.constants),
        hook_modules=sorted(writer.hooks),
        field_reads=field_reads,
        rules=codes,
        rules_table=[(c.key, _literal(c.meta)) for c in codes],
    )
    compile(source, f"<sigil_rules.{log_type}>", "exec")  # fail at build time, never in Lambda
    return GeneratedModule(source, dict(sorted(writer.hooks.items())))


def generate_package_init(modules: dict[str, str], generator: str) -> str:
    return _environment().get_template("package_init.py.j2").render(modules=sorted(modules.items()), generator=generator)


def _literal(value: Any) -> str:
    """A deterministic Python literal for plain data (dict keys in sorted order)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return repr(value)


def hook_module_name(module_path: str) -> str:
    """`rules/helpers/auth.py` → `rules_helpers_auth`: the hook's module name inside the package."""
    return module_name(module_path.removesuffix(".py").replace("/", "_").replace("\\", "_"))


def module_name(log_type: str) -> str:
    """A Python module name for a log type (letters, digits and underscores)."""
    name = re.sub(r"\W", "_", log_type.lower())
    return name if name[:1].isalpha() else "lt_" + name
