"""Value modifiers: check a `field|mod|mod` chain and turn one detection item into `dsl.expr` nodes.

Modifiers apply left to right, as in pySigma. Expansions (windash, base64offset, expand) give
variants that are always ORed, even under `all`; `all` decides how the item's *values* combine.
"""

from __future__ import annotations

import base64
import codecs
import itertools
import re
from dataclasses import dataclass
from typing import Any

import netaddr

from runtime.regex import problem as regex_problem

from . import sigma_string as ss
from .ast import FieldItem
from .diagnostics import did_you_mean
from .expr import (
    Cidr,
    Const,
    Exists,
    Expr,
    FieldRef,
    IsNull,
    Not,
    NumCompare,
    Regex,
    StrMatch,
    TimePart,
    Wildcard,
    all_of,
    any_of,
)

Value = Any  # one value of an item as YAML read it: text, a number, a boolean, null (or a list/map, refused)
Placeholders = dict[str, list[str]] | None  # `expand` names and their values

POSITION = ("contains", "startswith", "endswith")
ENCODINGS = {"wide": "utf-16-le", "utf16le": "utf-16-le", "utf16be": "utf-16-be", "utf16": "utf-16"}
COMPARE = ("lt", "lte", "gt", "gte")
TIME_PARTS = ("minute", "hour", "day", "week", "month", "year")
REGEX_FLAGS = ("i", "m", "s")
FLAGS = ("all", "cased", "neq")
KNOWN = frozenset(
    (*POSITION, *ENCODINGS, *COMPARE, *TIME_PARTS, *REGEX_FLAGS, *FLAGS, "base64", "base64offset", "windash", "re", "cidr", "exists", "fieldref", "expand")
)
WINDASH_CHARS = ("-", "/", "–", "—", "―")
WINDASH_VARIANTS = len(WINDASH_CHARS)
WINDASH_AT = re.compile(r"\B[-/]\b")
MAX_WINDASH = 6  # 5**6 variants at most for one value
# Patterns expand, windash and base64offset may make for one item, all its values together: checked
# before each expansion is built, so a hostile rule is refused in constant time and memory. The SigmaHQ
# corpus needs at most 165; one value with MAX_WINDASH dashes makes 15,625.
MAX_VARIANTS = 20_000
PLACEHOLDER = re.compile(r"(?<!\\)%([A-Za-z0-9_.\-]+)%")

# Modifiers that may follow `re` and `cidr`, which must come first.
AFTER_RE = frozenset((*REGEX_FLAGS, "all", "neq"))
AFTER_CIDR = frozenset(("all", "neq"))


class ModifierError(Exception):
    """A mistake in a modifier chain or in a value it is applied to."""

    def __init__(self, code: str, message: str, hint: str | None = None, value_index: int | None = None):
        super().__init__(message)
        self.code, self.message, self.hint, self.value_index = code, message, hint, value_index


@dataclass(frozen=True, slots=True)
class Chain:
    """A checked modifier chain, digested into what lowering needs."""

    mods: tuple[str, ...]

    @property
    def cased(self) -> bool:
        return "cased" in self.mods

    @property
    def link_all(self) -> bool:
        return "all" in self.mods

    @property
    def negated(self) -> bool:
        return "neq" in self.mods

    @property
    def position(self) -> str | None:
        return next((m for m in self.mods if m in POSITION), None)

    @property
    def compare(self) -> str | None:
        return next((m for m in self.mods if m in COMPARE), None)

    @property
    def time_part(self) -> str | None:
        return next((m for m in self.mods if m in TIME_PARTS), None)


def check_chain(mods: tuple[str, ...], keyword: bool = False) -> Chain:
    """Raise ModifierError for an unknown or illegal chain."""
    for mod in mods:
        if mod not in KNOWN:
            hint = did_you_mean(mod, sorted(KNOWN)) or "known modifiers: " + ", ".join(sorted(KNOWN))
            raise ModifierError("E101", f"unknown modifier '{mod}'", hint)
    for first in ("re", "cidr"):
        if first in mods and mods[0] != first:
            raise ModifierError("E102", f"modifier '{first}' must come first", f"write '|{first}' right after the field name")
    if mods and mods[0] == "re":
        extra = [m for m in mods[1:] if m not in AFTER_RE]
        if extra:
            raise ModifierError("E103", f"modifier '{extra[0]}' cannot follow 're'", "a regular expression says itself where it matches; use i, m or s for flags")
    if mods and mods[0] == "cidr":
        extra = [m for m in mods[1:] if m not in AFTER_CIDR]
        if extra:
            raise ModifierError("E103", f"modifier '{extra[0]}' cannot follow 'cidr'")
    for flag in REGEX_FLAGS:
        if flag in mods and "re" not in mods:
            raise ModifierError("E104", f"modifier '{flag}' is a regex flag and needs 're' first", f"i, m and s only modify '|re' (e.g. 'field|re|{flag}'); other matches ignore case already")
    if "exists" in mods and len(mods) > 1:
        raise ModifierError("E105", "modifier 'exists' takes no other modifiers", "write 'field|exists: true' alone")
    positions = [m for m in mods if m in POSITION]
    if len(positions) > 1:
        raise ModifierError("E106", f"modifier '{positions[1]}' cannot be combined with '{positions[0]}'", "keep one of contains, startswith and endswith")
    for i, mod in enumerate(mods):
        if mod in ENCODINGS and not any(m in ("base64", "base64offset") for m in mods[i + 1 :]):
            raise ModifierError("E107", f"modifier '{mod}' must be followed by base64 or base64offset", f"write '|{mod}|base64offset|contains'")
    if len([m for m in mods if m in COMPARE]) > 1:
        raise ModifierError("E108", "only one of lt, lte, gt, gte may be used")
    if "fieldref" in mods and ({"re", "cidr", "base64", "base64offset", "windash", "expand"} & set(mods)):
        raise ModifierError("E109", "modifier 'fieldref' compares two fields and takes only contains, startswith, endswith, cased, all or neq")
    if keyword and ({"re", "cidr", "exists", "fieldref", *COMPARE, *TIME_PARTS} & set(mods)):
        raise ModifierError("E110", "a keyword search takes only string modifiers", "name the field the value must be in")
    return Chain(mods)


def lower_item(item: FieldItem, placeholders: dict[str, list[str]] | None = None) -> Expr:
    """The meaning of one `field|mods: values` entry."""
    chain = check_chain(item.modifiers, keyword=item.field is None)
    field = item.field
    if "exists" in chain.mods:
        if len(item.values) != 1 or not isinstance(item.values[0], bool):
            raise ModifierError("E111", "modifier 'exists' needs the value true or false", value_index=0)
        return Exists(_named(field)) if item.values[0] else Not(Exists(_named(field)))
    if not item.values:
        if field is None:
            raise ModifierError("E112", "an empty keyword list matches nothing")
        return IsNull(field)
    budget = _Budget()
    exprs = [_lower_value(field, value, chain, placeholders, i, budget) for i, value in enumerate(item.values)]
    combined = all_of(exprs) if chain.link_all else any_of(exprs)
    return Not(combined) if chain.negated else combined


@dataclass(slots=True)
class _Budget:
    """The patterns an item's values may still expand into (MAX_VARIANTS for all of them)."""

    left: int = MAX_VARIANTS

    def check(self, count: int, mod: str, index: int) -> None:
        if count > self.left:
            used = MAX_VARIANTS - self.left
            so_far = f", and the values before it made {used:,}:" if used else ","
            hint = {
                "expand": "placeholders multiply: give them fewer values, or split the item into several selections",
                "windash": "split the values into several selections, or use 're' with [-/–—―]",
            }.get(mod, "split the values into several selections")
            raise ModifierError("E122", f"'{mod}' would make {count:,} patterns of this value{so_far} over the {MAX_VARIANTS:,} an item may have", hint, index)


def _named(field: str | None) -> str:
    """The field of an item whose modifiers `check_chain` refuses on keyword searches (E110)."""
    if field is None:
        raise AssertionError("check_chain lets no field-only modifier through on a keyword search")
    return field


def _lower_value(
    field: str | None, value: Value, chain: Chain, placeholders: Placeholders, index: int, budget: _Budget | None = None
) -> Expr:
    mods = chain.mods
    if value is None:
        if field is None:
            raise ModifierError("E113", "null is not a keyword", value_index=index)
        return IsNull(field)
    if isinstance(value, list | dict):
        raise ModifierError("E114", "a value must be a string, number, boolean or null", value_index=index)
    if mods and mods[0] == "re":
        return _regex(field, value, mods, index)
    if mods and mods[0] == "cidr":
        return _cidr(_named(field), value, index)
    if "fieldref" in mods:
        if not isinstance(value, str):
            raise ModifierError("E115", "modifier 'fieldref' needs a field name", value_index=index)
        return FieldRef(_named(field), value, chain.position or "eq", chain.cased)
    if chain.time_part:
        return _time_part(_named(field), value, chain, index)
    if chain.compare:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ModifierError("E116", f"modifier '{chain.compare}' needs a number, not {value!r}", "write the number without quotes", index)
        if value != value:  # NaN: no number compares to it, the test could never hold
            raise ModifierError("E116", f"modifier '{chain.compare}' needs a number, not .nan (nothing compares to it)", "write a number; .inf and -.inf are allowed", index)
        return NumCompare(_named(field), chain.compare, value)
    patterns = _patterns(value, mods, placeholders, index, budget or _Budget())
    if field is None and chain.position is None:
        patterns = [ss.wrap(p, True, True) for p in patterns]
    return any_of([pattern_leaf(field, p, chain.cased) for p in patterns])


def _patterns(value: Value, mods: tuple[str, ...], placeholders: Placeholders, index: int, budget: _Budget) -> list[ss.Pattern]:
    if isinstance(value, bool):
        patterns = [ss.literal("true" if value else "false")]
    elif isinstance(value, int | float):
        patterns = [ss.literal(str(value))]
    else:
        patterns = [ss.parse(value)]
    encoding: str | None = None
    for mod in mods:
        if mod == "expand":
            budget.check(sum(_expand_count(p, placeholders or {}) for p in patterns), mod, index)
            patterns = [v for p in patterns for v in _expand(p, placeholders or {})]
        elif mod in ENCODINGS:
            encoding = ENCODINGS[mod]
        elif mod in ("base64", "base64offset"):
            if any(ss.has_wildcards(p) for p in patterns):
                raise ModifierError("E117", f"modifier '{mod}' cannot encode wildcards", "escape '*' and '?' as '\\*' and '\\?'", index)
            raw = [_encode(ss.text_of(p), encoding) for p in patterns]
            encode = _base64offset if mod == "base64offset" else _base64
            budget.check(len(raw) * (3 if mod == "base64offset" else 1), mod, index)
            patterns = [ss.literal(text) for r in raw for text in encode(r)]
            encoding = None
        elif mod == "windash":
            slots = [_windash_slots(p) for p in patterns]
            if max(slots, default=0) > MAX_WINDASH:
                raise _too_many_dashes(max(slots), index)
            budget.check(sum(WINDASH_VARIANTS**n for n in slots), mod, index)
            patterns = [v for p in patterns for v in _windash(p, index)]
        elif mod in POSITION:
            patterns = [ss.wrap(p, mod != "startswith", mod != "endswith") for p in patterns]
    budget.left -= len(patterns)
    return patterns


def pattern_leaf(field: str | None, pattern: ss.Pattern, cased: bool) -> Expr:
    """The cheapest node that tests a Sigma pattern: equality, affixes, substring, or a wildcard regex."""
    fold = (lambda s: s) if cased else str.casefold
    p = ss.map_text(pattern, fold)
    star, lits = ss.STAR, [x for x in p if x not in ss.WILDCARDS]
    if not ss.has_wildcards(p):
        return StrMatch(field, "eq", ss.text_of(p), cased)
    if len(lits) == 1 and ss.QMARK not in p:
        shape = tuple(x == star for x in p)
        op = {(True, False): "endswith", (False, True): "startswith", (True, False, True): "contains"}.get(shape)
        if op:
            return StrMatch(field, op, lits[0], cased)
    return Wildcard(field, ss.to_regex(p), cased)


def _encode(text: str, encoding: str | None) -> bytes:
    """The bytes base64 encodes; `utf16` is a little-endian BOM then UTF-16LE, whatever the platform."""
    if encoding == "utf-16":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    return text.encode(encoding or "utf-8")


def _base64(raw: bytes) -> list[str]:
    return [base64.b64encode(raw).decode()]


def _base64offset(raw: bytes) -> list[str]:
    """The three encodings of `raw` at byte offsets 0, 1, 2, trimmed to the stable characters."""
    start, end = (0, 2, 3), (None, -3, -2)
    out = []
    for i in range(3):
        encoded = base64.b64encode(i * b" " + raw).decode()
        out.append(encoded[start[i] : end[(len(raw) + i) % 3]])
    return out


def _windash_slots(pattern: ss.Pattern) -> int:
    """How many dashes of `pattern` windash rewrites."""
    return sum(len(WINDASH_AT.findall(part)) for part in pattern if part not in ss.WILDCARDS)


def _windash(pattern: ss.Pattern, index: int) -> list[ss.Pattern]:
    """Every spelling of a pattern with `-` or `/` at a word start written as any of five dashes."""
    pieces: list[list[str]] = []  # per part: the alternatives for each slot
    slots = 0
    for part in pattern:
        if part in ss.WILDCARDS:
            pieces.append([part])
            continue
        cuts = [m.start() for m in WINDASH_AT.finditer(part)]
        slots += len(cuts)
        prev = 0
        for cut in cuts:
            pieces.append([part[prev:cut]])
            pieces.append(list(WINDASH_CHARS))
            prev = cut + 1
        pieces.append([part[prev:]])
    if slots > MAX_WINDASH:
        raise _too_many_dashes(slots, index)
    return [ss.parse_parts(combo) for combo in itertools.product(*pieces)]


def _too_many_dashes(slots: int, index: int) -> ModifierError:
    return ModifierError("E118", f"windash would expand {slots} dashes into {WINDASH_VARIANTS**slots} variants", "split the value or use 're'", index)


def _expand_count(pattern: ss.Pattern, placeholders: dict[str, list[str]]) -> int:
    """How many patterns `_expand` makes of `pattern`: the product of its placeholders' value counts."""
    count = 1
    for part in pattern:
        if part not in ss.WILDCARDS:
            for m in PLACEHOLDER.finditer(part):
                count *= len(placeholders.get(m.group(1), []))
    return count


def _expand(pattern: ss.Pattern, placeholders: dict[str, list[str]]) -> list[ss.Pattern]:
    """Replace `%name%` in literal parts by each of the placeholder's values (unknown names match nothing).

    As in the spec and pySigma, `\\%` is a literal `%` and starts no placeholder. Names may also hold
    `.` and `-` (the corpus has `%DC-MACHINE-NAME%`), where pySigma takes only word characters.
    """
    results: list[list[str]] = [[]]
    for part in pattern:
        if part in ss.WILDCARDS:
            results = [[*r, part] for r in results]
            continue
        last = 0
        for m in PLACEHOLDER.finditer(part):
            text = part[last : m.start()].replace("\\%", "%")
            values = placeholders.get(m.group(1), [])
            results = [[*r, text, *ss.parse(v)] for r in results for v in values]
            last = m.end()
        results = [[*r, part[last:].replace("\\%", "%")] for r in results]
    return [ss.parse_parts(r) for r in results]


def placeholder_names(item: FieldItem) -> list[str]:
    if "expand" not in item.modifiers:
        return []
    return [m for v in item.values if isinstance(v, str) for m in PLACEHOLDER.findall(v)]


def _regex(field: str | None, value: Value, mods: tuple[str, ...], index: int) -> Expr:
    if not isinstance(value, str):
        value = str(value)
    flags = "".join(f for f in REGEX_FLAGS if f in mods)
    refused = regex_problem(value, flags)  # RE2's reading: what it cannot run in linear time, it refuses
    if refused is not None:
        code = "E119" if refused.message.startswith("invalid regular expression") else "E130"
        raise ModifierError(code, refused.message, refused.hint or None, index)
    return Regex(field, value, flags)


def _cidr(field: str, value: Value, index: int) -> Expr:
    try:
        network = netaddr.IPNetwork(str(value))
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ModifierError("E120", f"'{value}' is not an IPv4 or IPv6 network", "write it like 10.0.0.0/8 or fe80::/10", index) from None
    return Cidr(field, str(network.cidr))


def _time_part(field: str, value: Value, chain: Chain, index: int) -> Expr:
    if isinstance(value, bool) or not isinstance(value, int) or chain.time_part is None:
        raise ModifierError("E121", f"modifier '{chain.time_part}' needs a whole number", value_index=index)
    return TimePart(field, chain.time_part, chain.compare or "eq", value)


__all__ = ["KNOWN", "Chain", "Const", "ModifierError", "check_chain", "lower_item", "pattern_leaf", "placeholder_names"]
