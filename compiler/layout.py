"""Print a planned module (compiler/module_plan.py) as Python source a reviewer can read and diff.

Expressions come from `compiler.codegen.ExprWriter` as `Code`: a string, or a `Chain` of operands that
prints one operand per line, indented by depth, with the names of the selections they come from as
comments. Tables print one entry per line and long literals one element per line
(`compiler.literals.literal_lines`). The Jinja2 template only lays out the blocks this module prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from compiler.literals import INDENT, WIDTH, comment_text, literal, literal_lines

if TYPE_CHECKING:
    from compiler.module_plan import ModulePlan


@dataclass(frozen=True)
class Chain:
    """Operands joined by `op` (`and`, `or`) in parentheses, preceded by `prefix` (`not `): one operand
    per line. `labels[i]`, text or "", is written as a comment (escaped) on the lines before operand i."""

    op: str
    items: tuple[Code, ...]
    labels: tuple[str, ...] = ()
    prefix: str = ""

    def negated(self) -> Chain:
        return replace(self, prefix="not " + self.prefix)


Code = str | Chain  # a string may span lines (a long literal): its later lines are indented with it


def code_lines(code: Code) -> list[str]:
    """The lines of an expression, relative to the indentation of its first line."""
    if isinstance(code, str):
        return code.split("\n")
    lines = [code.prefix + "("]
    for i, item in enumerate(code.items):
        if code.labels and code.labels[i]:
            lines.extend(INDENT + line for line in comment_lines(code.labels[i], WIDTH - 20))
        item_lines = code_lines(item)
        if i:
            item_lines[0] = f"{code.op} {item_lines[0]}"
        lines.extend(INDENT + line for line in item_lines)
    lines.append(")")
    return lines


def lit(value: str | tuple[Any, ...] | int | float | bool | None) -> str:
    """A literal inside an expression: one line, or adjacent string literals over several when long."""
    return "\n".join(literal_lines(value, WIDTH - 40))


def block(head: str, lines: list[str], tail: str = "") -> list[str]:
    """`head` joined to the first line, `tail` to the last."""
    lines = list(lines)
    lines[0] = head + lines[0]
    lines[-1] += tail
    return lines


def names_lines(names: tuple[str, ...], width: int = WIDTH) -> list[str]:
    """A tuple of names (rule functions): on one line when it fits, else one name per line."""
    text = "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"
    if len(text) <= width:
        return [text]
    return ["(", *(f"{INDENT}{n}," for n in names), ")"]


def indent(lines: list[str], depth: int = 1) -> list[str]:
    return [INDENT * depth + line if line else line for line in lines]


def comment_lines(text: str, width: int = WIDTH) -> list[str]:
    """`text` (rule text: escaped by `comment_text`) as comment lines of about `width` characters at
    most, broken after a space where there is one (a later line starts with two spaces)."""
    lines, line = [], ""
    for word in re.split(r"(?<= )", comment_text(text)):
        while len(line) + len(word) > width - 2 and (line.strip() or len(word) > width - 4):
            if line.strip():
                lines.append(line)
                line = "  "
            else:  # a word longer than a line: cut it
                cut = width - 2 - len(line)
                lines.append(line + word[:cut])
                line, word = "  ", word[cut:].lstrip(" ")  # a space at the cut is the line break itself
        line += word
    lines.append(line)
    return ["# " + line.rstrip() if line.strip() else "#" for line in lines]


@cache
def environment() -> Environment:
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


def render_module(plan: ModulePlan, generator: str) -> str:
    """The module's source: each block printed here, laid out by templates/matcher_module.py.j2."""
    metadata = [
        line for key, meta in plan.metadata for line in indent(block_pair(literal_lines(key, WIDTH - 6), literal_lines(meta, WIDTH - 4)))
    ]
    constants = [constant_lines(name, kind, data) for name, kind, data in plan.constants]
    whens = [
        {"name": w.name, "comments": w.comments, "body": indent(block("return ", code_lines(w.test)))}
        for w in plan.whens
    ]
    rules = [
        {"name": r.name, "comments": r.comments, "body": indent(block("return ", code_lines(r.check)))}
        for r in plan.rules
    ]
    rule_table = [
        line
        for r in plan.rules
        for line in indent(block("(", literal_lines(r.key, WIDTH - 8 - len(r.when) - len(r.name)), f", {r.when}, {r.name}),"))
    ]
    when_table = [line for w in plan.whens for line in indent(block(f"({w.name}, ", literal_lines(w.paths, WIDTH - 8 - len(w.name)), "),"))]
    anchors = []
    for path, literals in plan.anchors.items():
        anchors.extend(indent(block("", literal_lines(path, WIDTH - 8), ": {")))
        for wrapped, names in literals.items():
            key = literal_lines(wrapped, WIDTH - 12)
            anchors.extend(indent(block_pair(key, names_lines(names, WIDTH - 12 - len(key[-1]) - 3)), 2))
        anchors.extend(indent(["},"]))
    return environment().get_template("matcher_module.py.j2").render(
        log_type=plan.log_type,
        generator=generator,
        helpers=plan.helpers,
        hook_modules=plan.hook_modules,
        metadata=metadata,
        constants=constants,
        whens=whens,
        rules=rules,
        rule_table=rule_table,
        when_table=when_table,
        always=names_lines(plan.always, WIDTH - 9),
        anchors=anchors,
    )


def block_pair(key: list[str], value: list[str]) -> list[str]:
    """`key: value,` over the lines of both."""
    lines = [*key[:-1], key[-1] + ": " + value[0], *value[1:]]
    lines[-1] += ","
    return lines


def constant_lines(name: str, kind: str, data: tuple[Any, ...]) -> list[str]:
    """One shared constant: a lazily compiled regex, a frozenset (values sorted) or a tuple."""
    if kind == "rx":
        pattern, flags = data
        lines = literal_lines(pattern, WIDTH - len(name) - 20)
        return block(f"{name} = LazyRegex(", lines, f", {literal(flags)})")
    if kind == "set":
        return block(f"{name} = frozenset(", literal_lines(sorted(data[0]), WIDTH - len(name) - 14), ")")
    return block(f"{name} = ", literal_lines(tuple(data[0]), WIDTH - len(name) - 3))
