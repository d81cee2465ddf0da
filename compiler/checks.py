"""Checks of rules against schemas; each returns diagnostics and never raises."""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from dsl.ast import FieldItem, Rule
from dsl.diagnostics import Diagnostic, error, warning
from runtime.values import number_of, text_of

from .schemas import SchemaSet, unknown_field


def field_items(rule: Rule) -> Iterator[FieldItem]:
    for selection in rule.detection.selections:
        for alternative in selection.alternatives:
            yield from alternative


def check_logsource(rule: Rule, schemas: SchemaSet) -> list[Diagnostic]:
    if schemas.for_logsource(rule.logsource):
        return []
    ls = rule.logsource
    wanted = " ".join(f"{k}={v}" for k in ("product", "category", "service") if (v := getattr(ls, k)))
    known = schemas.logsource_names()
    close = difflib.get_close_matches(wanted, known, n=1, cutoff=0.8)
    hint = f"did you mean {close[0]}?" if close else "add a logsources entry to a schema in schemas/ (`sigil schemas list` shows them)"
    loc = ls.value_loc("service", "category", "product") if ls.loc.path != "<memory>" else rule.loc
    return [error("E061", f"logsource {wanted or '(empty)'} maps to no log type", loc, hint)]


def check_fields(rule: Rule, schemas: SchemaSet) -> list[Diagnostic]:
    diags = []
    seen = set()
    for schema, mapping in schemas.for_logsource(rule.logsource):
        for item in field_items(rule):
            names = [item.field] if item.field else []
            if "fieldref" in item.modifiers:
                names += [v for v in item.values if isinstance(v, str)]
            for name in names:
                if not schema.knows(mapping.rename(name)) and (schema.name, name) not in seen:
                    seen.add((schema.name, name))
                    diags.append(unknown_field(schema, name, item.loc))
    return diags


def check_duplicate_ids(rules: list[Rule]) -> list[Diagnostic]:
    seen: dict[str, Rule] = {}
    diags = []
    for rule in rules:
        if rule.key in seen:
            first = seen[rule.key]
            diags.append(error("E070", f"rule id '{rule.key}' is also used by {first.loc}", rule.loc, "give each rule its own id"))
        else:
            seen[rule.key] = rule
    return diags



def check_missing_ids(rules: list[Rule]) -> list[Diagnostic]:
    """W020 for an enabled rule without `id`: its alerts carry its name or title as rule id, so their ids (and
    dedup, correlation and DLQ records keyed by them) change when the title is edited. The hint's UUID is
    derived from the title, so the same rule gets the same suggestion on every run."""
    return [
        warning(
            "W020",
            "the rule has no 'id': its alerts are identified by its " + ("name" if rule.name else "title") + ", and change identity when it is edited",
            rule.loc,
            f"add a UUID of its own, e.g. id: {uuid.uuid5(uuid.NAMESPACE_URL, 'sigil-rule:' + rule.title.encode('utf-8', 'backslashreplace').decode())}",
        )
        for rule in rules
        if rule.enabled and not rule.id
    ]


# -- modifiers against field types -------------------------------------------------------------

NOT_ADDRESSES = ("integer", "float", "boolean", "timestamp", "object")
NOT_NUMBERS = ("string", "boolean", "ip", "object")
NOT_TEXT = ("integer", "float", "boolean", "object")


def check_modifier_types(rule: Rule, schemas: SchemaSet) -> list[Diagnostic]:
    """cidr on a non-address, lt/gt on text, base64 or regexes on numbers: the test can never hold as meant."""
    diags = []
    for schema, mapping in schemas.for_logsource(rule.logsource)[:1]:
        for item in field_items(rule):
            if item.field is None:
                continue
            kind = schema.fields.get(mapping.rename(item.field))
            mods = set(item.modifiers)
            problem = None
            if "cidr" in mods and kind in NOT_ADDRESSES:
                problem = f"'cidr' on field '{item.field}', which holds {kind} values, not addresses"
            elif mods & {"lt", "lte", "gt", "gte"} and kind in NOT_NUMBERS:
                problem = f"a numeric comparison on field '{item.field}', which holds {kind} values"
            elif mods & {"base64", "base64offset", "re", "windash"} and kind in NOT_TEXT:
                used = sorted(mods & {"base64", "base64offset", "re", "windash"})[0]
                problem = f"'{used}' on field '{item.field}', which holds {kind} values, not text"
            if problem:
                diags.append(error("E062", problem, item.loc, f"check the field: {schema.name} declares it {kind} in {schema.path}"))
    return diags


# -- literals against field types ----------------------------------------------------------------

EQUALITY = ((), ("cased",))  # the modifiers of an item that tests a field for equality with its values
WILDCARD = re.compile(r"(?<!\\)[*?]")
INTEGER_TEXT = re.compile(r"-?(0|[1-9][0-9]*)")


def literal_problem(value: object, kind: str) -> str | None:
    """Why a field of type ``kind`` can never equal ``value`` (compared as text, as both engines do), or None."""
    if value is None or (isinstance(value, str) and WILDCARD.search(value)):
        return None
    text = text_of(value)
    if text is None:
        return None
    if kind == "integer" and not INTEGER_TEXT.fullmatch(text):
        return "whole numbers"
    if kind == "float" and number_of(value) is None:
        return "numbers"
    if kind == "boolean" and text.casefold() not in ("true", "false"):
        return "true or false"
    if kind == "ip":
        try:
            ipaddress.ip_address(text)
        except ValueError:
            return "IP addresses"
    return None


def check_literal_types(rule: Rule, schemas: SchemaSet) -> list[Diagnostic]:
    """W062: `srcport: http` on an integer field, `readOnly: yes` on a boolean one: the value can never match."""
    diags, seen = [], set()
    for schema, mapping in schemas.for_logsource(rule.logsource):
        for item in field_items(rule):
            if item.field is None or item.modifiers not in EQUALITY:
                continue
            kind = schema.fields.get(mapping.rename(item.field))
            for i, value in enumerate(item.values):
                holds = literal_problem(value, kind) if kind else None
                loc = item.value_locs[i] if i < len(item.value_locs) else item.loc
                if holds and (loc, item.field) not in seen:
                    seen.add((loc, item.field))
                    hint = "match a network with '|cidr'" if kind == "ip" and "/" in str(value) else f"log type '{schema.name}' declares it {kind}"
                    diags.append(warning("W062", f"'{item.field}' holds {holds}: it can never equal {value!r}", loc, hint))
    return diags


# -- impossible numeric ranges ----------------------------------------------------------------------

SCALAR_NUMBERS = ("integer", "float", "timestamp")


@dataclass
class _Range:
    """The numbers one field may hold under the items of one alternative: bounds, strictness, allowed points."""

    low: float = -math.inf
    low_strict: bool = False
    high: float = math.inf
    high_strict: bool = False
    points: set[float] | None = None
    said: list[FieldItem] = field(default_factory=list)

    def empty(self, integer: bool) -> bool:
        low, high = self.low, self.high
        if integer:  # x > 5 is x >= 6 and x < 6 is x <= 5 for whole numbers
            low = math.floor(low) + 1 if self.low_strict and math.isfinite(low) else math.ceil(low) if math.isfinite(low) else low
            high = math.ceil(high) - 1 if self.high_strict and math.isfinite(high) else math.floor(high) if math.isfinite(high) else high
            low_strict = high_strict = False
        else:
            low_strict, high_strict = self.low_strict, self.high_strict

        def inside(n: float) -> bool:
            return (n > low or (n == low and not low_strict)) and (n < high or (n == high and not high_strict))

        if self.points is not None:
            return not any(inside(n) for n in self.points)
        return low > high or (low == high and (low_strict or high_strict))


def _numbers(values: tuple[object, ...]) -> list[float] | None:
    found = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return found if found and len(found) == len(values) else None


def check_numeric_ranges(rule: Rule, schemas: SchemaSet) -> list[Diagnostic]:
    """W063: `bytes|gt: 100` and `bytes|lt: 50` in one selection: no number is both, so it never matches."""
    diags = []
    for schema, mapping in schemas.for_logsource(rule.logsource)[:1]:
        for selection in rule.detection.selections:
            for alternative in selection.alternatives:
                ranges: dict[str, _Range] = {}
                for item in alternative:
                    kind = schema.fields.get(mapping.rename(item.field)) if item.field else None
                    numbers = _numbers(item.values)
                    if kind not in SCALAR_NUMBERS or numbers is None or item.field is None:
                        continue
                    r = ranges.setdefault(item.field, _Range())
                    op = item.modifiers[0] if len(item.modifiers) == 1 else None if item.modifiers else "eq"
                    if op in ("gt", "gte"):
                        bound, strict = min(numbers), op == "gt"  # several values are ORed: the weakest bound
                        if bound > r.low or (bound == r.low and strict):
                            r.low, r.low_strict = bound, strict
                    elif op in ("lt", "lte"):
                        bound, strict = max(numbers), op == "lt"
                        if bound < r.high or (bound == r.high and strict):
                            r.high, r.high_strict = bound, strict
                    elif op == "eq" and kind != "timestamp":  # equality is a text test: not on timestamps' texts
                        r.points = set(numbers) if r.points is None else r.points & set(numbers)
                    else:
                        continue
                    r.said.append(item)
                    if len(r.said) > 1 and r.empty(kind == "integer"):
                        shown = " and ".join(_shown(i) for i in r.said)
                        diags.append(warning("W063", f"no value of '{item.field}' is {shown}: selection '{selection.name}' can never match", item.loc, "check the bounds; to match either range, write two selections or a list of mappings"))
                        break
    return diags


def _shown(item: FieldItem) -> str:
    op = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}.get(item.modifiers[0] if item.modifiers else "", "=")
    values = [str(v) for v in item.values]
    return f"{op} {values[0]}" if len(values) == 1 else f"{op} one of {', '.join(values)}"


# Regexes need no check here: every `|re` value is compiled by RE2 when the rule is lowered
# (dsl/modifiers.py), which runs in linear time, and what RE2 cannot run is an error (E119, E130).
CHECKS = (check_logsource, check_fields, check_modifier_types, check_literal_types, check_numeric_ranges)
