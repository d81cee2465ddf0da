"""Checks of rules against schemas; each returns diagnostics and never raises."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

try:  # Python 3.11+ keeps the regex parser here
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover
    import sre_constants
    import sre_parse

from dsl.ast import FieldItem, Rule
from dsl.diagnostics import Diagnostic, error, warning

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


# -- regexes that can take exponential time ------------------------------------------------------


def check_regexes(rule: Rule, schemas: SchemaSet) -> list[Diagnostic]:
    """A warning for nested unbounded repeats like `(a+)+`, which backtrack catastrophically on near misses."""
    diags = []
    for item in field_items(rule):
        if item.modifiers[:1] != ("re",):
            continue
        for value, loc in zip(item.values, item.value_locs or [item.loc] * len(item.values), strict=False):
            if isinstance(value, str) and nested_unbounded_repeat(value):
                diags.append(
                    warning("W063", "nested unbounded repeats can make this regex backtrack for a very long time", loc, "make the inner or outer repeat bounded or possessive, e.g. (?:a+)++ or a{1,64}")
                )
    return diags


def nested_unbounded_repeat(pattern: str) -> bool:
    """Does the regex hold an unbounded repeat inside another unbounded repeat?

    Example:
        >>> nested_unbounded_repeat("(a+)+b"), nested_unbounded_repeat("(ab)+c*"), nested_unbounded_repeat("(?:x{1,3})+")
        (True, False, False)
    """
    try:
        parsed = sre_parse.parse(pattern)
    except (re.error, RecursionError):
        return False
    return _nested(parsed, inside=False)


def _nested(items, inside: bool) -> bool:
    for op, arg in items:
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            _low, high, body = arg
            unbounded = high == sre_constants.MAXREPEAT
            if unbounded and inside and _can_repeat_text(body):
                return True
            if _nested(body, inside or unbounded):
                return True
        elif op is sre_constants.SUBPATTERN:
            if _nested(arg[-1], inside):
                return True
        elif op is sre_constants.BRANCH and any(_nested(branch, inside) for branch in arg[1]):
            return True
    return False


def _can_repeat_text(body) -> bool:
    return any(op not in (sre_constants.AT,) for op, _ in body)


CHECKS = (check_logsource, check_fields, check_modifier_types, check_regexes)
