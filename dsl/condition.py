"""Parse a Sigma condition string into `dsl.ast` condition nodes, with positions."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, v_args
from lark.exceptions import VisitError
from lark.tree import Meta

from .ast import AndCond, Condition, NotCond, Of, OrCond, Ref
from .diagnostics import Diagnostic, Loc, error

KEYWORDS = ("and", "or", "not", "of")
QUANTIFIERS = {"1": "1", "any": "1", "all": "all"}


@cache
def _parser() -> Lark:
    return Lark.open(
        "condition.lark", rel_to=__file__, parser="lalr", propagate_positions=True, maybe_placeholders=False
    )


class ConditionError(Exception):
    """A condition that does not parse; carries the column (from 1) inside the condition text."""

    def __init__(self, code: str, message: str, column: int, hint: str | None = None):
        super().__init__(message)
        self.code, self.message, self.column, self.hint = code, message, column, hint


@v_args(meta=True, inline=True)
class _ToAst(Transformer[Token, Condition]):
    """Lark tree → frozen condition nodes; `at` turns a Lark column into a file location."""

    def __init__(self, at: Callable[[int], Loc]) -> None:
        super().__init__()
        self.at = at

    def or_(self, meta: Meta, left: Condition, right: Condition) -> OrCond:
        return OrCond(_chain(OrCond, left, right), self.at(meta.column))

    def and_(self, meta: Meta, left: Condition, right: Condition) -> AndCond:
        return AndCond(_chain(AndCond, left, right), self.at(meta.column))

    def not_(self, meta: Meta, item: Condition) -> NotCond:
        return NotCond(item, self.at(meta.column))

    def ref(self, meta: Meta, name: Token) -> Ref:
        if "*" in name:
            raise ConditionError(
                "E201",
                f"wildcard identifier '{name}' outside of 'x of'",
                name.column or 1,
                f"write '1 of {name}' or 'all of {name}'",
            )
        return Ref(str(name), self.at(name.column or 1))

    def of(self, meta: Meta, quantifier: Token, target: Token) -> Of:
        if quantifier not in QUANTIFIERS:
            hint = "Sigma allows only '1 of' and 'all of'"
            raise ConditionError("E202", f"unknown quantifier '{quantifier}' before 'of'", quantifier.column or 1, hint)
        pattern = None if target == "them" else str(target)
        return Of(QUANTIFIERS[quantifier], pattern, self.at(quantifier.column or 1))


def _chain(kind: type[AndCond | OrCond], left: Condition, right: Condition) -> tuple[Condition, ...]:
    """Operands of a flat and/or chain: `a and (b and c)` is the same chain as `a and b and c`."""
    return tuple(item for side in (left, right) for item in (side.items if isinstance(side, kind) else (side,)))


def parse_condition(text: str, loc: Loc | Callable[[int], Loc]) -> Condition:
    """Parse `text`; `loc` is where its first character sits, or maps a column (from 1) to a place."""
    if "|" in text:
        column = text.index("|") + 1
        raise ConditionError(
            "E203",
            "pipe aggregations ('| count() by', '| near') are not part of Sigma v2",
            column,
            "write a correlation rule (event_count, value_count, temporal) that references this rule",
        )
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _friendly(exc, text) from None

    def at(column: int) -> Loc:
        return loc(column) if callable(loc) else loc.shifted(column - 1)

    try:
        return _ToAst(at).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ConditionError):
            raise exc.orig_exc from None
        raise


def _friendly(exc: UnexpectedInput, text: str) -> ConditionError:
    column = getattr(exc, "column", None) or len(text) + 1
    token = getattr(exc, "token", None)
    at_end = token is not None and token.type == "$END"
    if isinstance(exc, UnexpectedEOF) or at_end or column < 1 or column > len(text):
        return ConditionError("E200", "condition ends too early", len(text) + 1, _unbalanced_hint(text))
    if isinstance(exc, UnexpectedCharacters):
        char = text[column - 1]
        return ConditionError("E200", f"unexpected character '{char}' in condition", column)
    word = str(token) if token is not None else text[column - 1 :].split()[0]
    if word.lower() in KEYWORDS and word not in KEYWORDS:
        return ConditionError(
            "E204", f"operator '{word}' must be lowercase", column, f"write '{word.lower()}'"
        )
    if word == ")":
        return ConditionError("E200", "unbalanced ')' in condition", column, _unbalanced_hint(text))
    return ConditionError("E200", f"unexpected '{word}' in condition", column, "expected an operator ('and', 'or') or the end")


def _unbalanced_hint(text: str) -> str | None:
    depth = text.count("(") - text.count(")")
    if depth > 0:
        return "a '(' is not closed"
    if depth < 0:
        return "there is a ')' without its '('"
    return "an operator is missing its right-hand side"


def condition_diagnostic(exc: ConditionError, loc: Loc | Callable[[int], Loc]) -> Diagnostic:
    where = loc(exc.column) if callable(loc) else loc.shifted(exc.column - 1)
    return error(exc.code, exc.message, where, exc.hint)


def unparse(cond: Condition) -> str:
    """Print a condition back as text that parses to an equal tree."""
    match cond:
        case Ref(name):
            return name
        case Of(quantifier, pattern):
            return f"{quantifier} of {pattern or 'them'}"
        case NotCond(item):
            inner = unparse(item)
            return f"not {inner}" if isinstance(item, Ref | Of | NotCond) else f"not ({inner})"
        case AndCond(items):
            return " and ".join(unparse(i) if not isinstance(i, OrCond) else f"({unparse(i)})" for i in items)
        case OrCond(items):
            return " or ".join(unparse(i) for i in items)
    raise TypeError(cond)
