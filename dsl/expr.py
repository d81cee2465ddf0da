"""What a rule means, as a small closed set of boolean nodes over field tests.

`dsl.lower` turns a rule into this tree; `dsl.interpreter` evaluates it on events; the compiler's
passes (compiler/passes/) rewrite it and codegen prints it. The set is closed: the set-based tests the
passes make (`InSet`, `AnyAffix`) are nodes here too, so the interpreter gives every tree a pass
returns its meaning. Literals are stored already case-folded when the test is case-insensitive.
A `field` of None means a keyword search: the test applies to every string value in the event.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


@dataclass(frozen=True, slots=True)
class StrMatch:
    """The field's text equals, contains, starts or ends with `value` (`op`: eq|contains|startswith|endswith)."""

    field: str | None
    op: str
    value: str
    cased: bool = False


@dataclass(frozen=True, slots=True)
class InSet:
    """The field's text (case-folded unless `cased`) is one of `values` (sorted): equalities merged
    (compiler/passes/merge_equalities.py)."""

    field: str | None
    values: tuple[str, ...]
    cased: bool = False


@dataclass(frozen=True, slots=True)
class AnyAffix:
    """The field's text contains, starts with or ends with (`op`) one of `values` (sorted): affix tests
    grouped (compiler/passes/group_affixes.py)."""

    field: str | None
    op: str
    values: tuple[str, ...]
    cased: bool = False


@dataclass(frozen=True, slots=True)
class Wildcard:
    """The whole text of the field matches `regex` (built from a Sigma pattern with `*` and `?`)."""

    field: str | None
    regex: str
    cased: bool = False


@dataclass(frozen=True, slots=True)
class Regex:
    """`re.search(pattern, text, flags)` finds a match; `flags` is a subset of "ims"."""

    field: str | None
    pattern: str
    flags: str = ""


@dataclass(frozen=True, slots=True)
class NumCompare:
    """The field's numeric value compares to `number` (`op`: lt|lte|gt|gte)."""

    field: str
    op: str
    number: int | float


@dataclass(frozen=True, slots=True)
class Cidr:
    """The field holds an IP address inside `network`."""

    field: str
    network: str


@dataclass(frozen=True, slots=True)
class IsNull:
    """The field is absent or null."""

    field: str


@dataclass(frozen=True, slots=True)
class Exists:
    """The field is present (its value may be anything, null included)."""

    field: str


@dataclass(frozen=True, slots=True)
class FieldRef:
    """The field's text relates to another field's text (`op` as in StrMatch)."""

    field: str
    other: str
    op: str = "eq"
    cased: bool = False


@dataclass(frozen=True, slots=True)
class TimePart:
    """A part (minute|hour|day|week|month|year) of the field's timestamp compares to `number`."""

    field: str
    part: str
    op: str  # eq|lt|lte|gt|gte
    number: int


@dataclass(frozen=True, slots=True)
class PyCall:
    """A Python escape hatch: `function(record)` is truthy. `module_path` is as written in the rule;
    `resolved` is the file it names, part of the identity (one written path may name two files)."""

    module_path: str
    function: str
    resolved: str | None = None

    @property
    def field(self) -> None:
        return None


Leaf = StrMatch | InSet | AnyAffix | Wildcard | Regex | NumCompare | Cidr | IsNull | Exists | FieldRef | TimePart | PyCall
Expr = And | Or | Not | Const | Leaf
LEAVES = (StrMatch, InSet, AnyAffix, Wildcard, Regex, NumCompare, Cidr, IsNull, Exists, FieldRef, TimePart, PyCall)


def any_of(items: list[Expr] | tuple[Expr, ...]) -> Expr:
    items = tuple(items)
    return items[0] if len(items) == 1 else Or(items) if items else Const(False)


def all_of(items: list[Expr] | tuple[Expr, ...]) -> Expr:
    items = tuple(items)
    return items[0] if len(items) == 1 else And(items) if items else Const(True)


def fields_of(expr: Expr) -> set[str]:
    """Every field name the expression reads (keyword searches excluded)."""
    match expr:
        case And(items) | Or(items):
            return set().union(*(fields_of(i) for i in items))
        case Not(item):
            return fields_of(item)
        case Const():
            return set()
        case FieldRef(field=f, other=o):
            return {f, o}
        case PyCall():
            return set()
        case _:
            return {expr.field} if expr.field is not None else set()
