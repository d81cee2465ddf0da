"""Checks of rules against schemas; each returns diagnostics and never raises."""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from dsl.ast import FieldItem, Rule
from dsl.diagnostics import Diagnostic, error

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


# Regexes need no check here: every `|re` value is compiled by RE2 when the rule is lowered
# (dsl/modifiers.py), which runs in linear time, and what RE2 cannot run is an error (E119, E130).
CHECKS = (check_logsource, check_fields, check_modifier_types)
