"""Correlations for the runtime: each correlation as plain data for `runtime.correlate.Spec`, checked
against the schemas of the rules it takes.

Per input rule and log type, a group-by name reads the field its alias names for that rule (else the
name itself), under the logsource's field renames; a chained correlation reads the group-by names of
the correlation it takes. Correlations come out ordered so that one follows those it takes (a cycle is
E071), and ``suppressed`` lists the rules and correlations that do not alert on their own: those every
correlation referring to them leaves at ``generate: false``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from dsl.ast import AndCond, NotCond, Of, OrCond, Ref, Rule
from dsl.diagnostics import Diagnostic, Loc, did_you_mean, error, warning
from dsl.documents import RUN_TYPES, Correlation

from .schemas import SchemaSet

if TYPE_CHECKING:
    from .build import CompiledRule

CORRELATION_LOG_TYPE = "correlation"  # runtime.correlate.CORRELATION_LOG_TYPE


def alert_text(text: str, templates: bool) -> str:
    """A title or description as the runtime's template renderer takes it: as written with `templates: true`,
    else with its braces doubled, so the alert shows the text as written (`{5,12}` stays `{5,12}`)."""
    return text if templates else text.replace("{", "{{").replace("}", "}}")


def correlation_config(
    correlations: Iterable[Correlation], rules: Iterable[Rule], compiled: Iterable[CompiledRule], schemas: SchemaSet
) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The ``correlations.json`` document (``{"correlations": [...], "suppressed": [...]}``) and its diagnostics."""
    runnable = [c for c in correlations if c.type in RUN_TYPES]
    rules_by_ref = {ref: r for r in rules for ref in (r.id, r.name) if ref}
    corr_by_ref = {ref: c for c in runnable for ref in (c.id, c.name) if ref}
    forms: dict[str, dict[str, Any]] = {}  # rule key -> log type -> logsource mapping (or None)
    for c in compiled:
        forms.setdefault(c.rule.key, {}).setdefault(c.log_type, _mapping(c, schemas))
    diags: list[Diagnostic] = []
    ordered = _ordered(runnable, corr_by_ref, diags)
    specs, generating, referred = [], set(), set()
    for corr in ordered:
        inputs: dict[str, dict[str, Any]] = {}
        keys = []
        for ref, loc in zip(corr.rules, corr.rule_locs or [corr.loc] * len(corr.rules), strict=False):
            if ref in corr_by_ref:
                inner = corr_by_ref[ref]
                keys.append(inner.key)
                inputs[inner.key] = {CORRELATION_LOG_TYPE: _chained(corr, ref, inner, diags)}
            elif ref in rules_by_ref:
                rule = rules_by_ref[ref]
                keys.append(rule.key)
                if not forms.get(rule.key):
                    diags.append(warning("W059", f"rule '{ref}' does not run (disabled, or its logsource maps to no log type): the correlation never counts it", loc, "enable the rule or fix its logsource"))
                inputs[rule.key] = {lt: _input(corr, ref, lt, m, schemas, diags) for lt, m in forms.get(rule.key, {}).items()}
                for log_type in forms.get(rule.key, {}):
                    if log_type in schemas.schemas and not schemas.schemas[log_type].timestamp:
                        diags.append(warning("W057", f"log type '{log_type}' of rule '{ref}' names no timestamp field: its events count for no correlation", loc, "add 'timestamp: <field>' to its schema"))
            else:
                continue  # E056 already
            referred.add(keys[-1])
            if corr.generate:
                generating.add(keys[-1])
        by_ref = {ref: key for ref, key in zip([r for r in corr.rules if r in corr_by_ref or r in rules_by_ref], keys, strict=True)}
        specs.append(
            {
                "key": corr.key,
                "title": alert_text(corr.title, corr.templates),
                "level": corr.level or "medium",
                "description": alert_text(corr.description or "", corr.templates),
                "tags": list(corr.tags),
                "outputs": list(corr.outputs),
                "type": corr.type,
                "rules": keys,
                "group": list(corr.group_by),
                "timespan": corr.timespan_seconds,
                "condition": [list(pair) for pair in corr.condition],
                "inputs": inputs,
                "expression": _tree(corr.expression, by_ref) if corr.expression is not None and corr.type == "temporal" else None,
                **({"percentile": corr.percentile} if corr.percentile is not None else {}),
            }
        )
    return {"correlations": specs, "suppressed": sorted(referred - generating)}, diags


def _tree(cond: Any, keys: dict[str, str]) -> list[Any]:
    """A temporal condition expression as plain data over input keys: ["rule", key], ["not", x],
    ["and", [...]], ["or", [...]] (`x of pattern` expanded over the correlation's rules)."""
    match cond:
        case Ref(name):
            return ["rule", keys[name]]
        case Of(quantifier, pattern):
            refs = [["rule", key] for ref, key in keys.items() if pattern is None or fnmatch.fnmatchcase(ref, pattern)]
            return ["and" if quantifier == "all" else "or", refs]
        case NotCond(item):
            return ["not", _tree(item, keys)]
        case AndCond(items):
            return ["and", [_tree(i, keys) for i in items]]
        case OrCond(items):
            return ["or", [_tree(i, keys) for i in items]]
    raise TypeError(cond)


def _mapping(c: CompiledRule, schemas: SchemaSet) -> Any:
    """The logsource mapping of a compiled rule's log type (its renames), or None (no renames: forced types)."""
    return next((m for s, m in schemas.for_logsource(c.rule.logsource) if s.name == c.log_type), None)


def _input(corr: Correlation, ref: str, log_type: str, mapping: Any, schemas: SchemaSet, diags: list[Diagnostic]) -> dict[str, Any]:
    """Group-by paths (and the condition's field) of one rule on one log type; E059 for a field the schema lacks."""
    schema = schemas.schemas.get(log_type)

    def path(name: str, loc: Loc) -> str:
        field = corr.field_for(name, ref)
        renamed = mapping.rename(field) if mapping is not None else field
        if schema is not None and not schema.knows(renamed):
            hint = did_you_mean(renamed, list(schema.fields)) or "name a field of the schema, or map it per rule with 'aliases'"
            diags.append(error("E059", f"group-by field '{field}' of rule '{ref}' is not in log type '{log_type}'", loc, hint))
        return renamed

    group = [path(name, loc) for name, loc in zip(corr.group_by, corr.group_locs or [corr.loc] * len(corr.group_by), strict=False)]
    field = path(corr.condition_field, corr.field_loc) if corr.condition_field else None
    return {"group": group, "field": field}


def _chained(outer: Correlation, ref: str, inner: Correlation, diags: list[Diagnostic]) -> dict[str, Any]:
    """A correlation over a correlation reads the inner one's group-by names from its alerts."""
    group = []
    for name, loc in zip(outer.group_by, outer.group_locs or [outer.loc] * len(outer.group_by), strict=False):
        field = outer.field_for(name, ref)
        if field not in inner.group_by:
            diags.append(error("E059", f"group-by field '{field}' is not a group-by field of correlation '{ref}'", loc, "a chained correlation groups by the group-by fields of the one it takes: " + (", ".join(inner.group_by) or "(none)")))
        group.append(field)
    value_field = outer.field_for(outer.condition_field, ref) if outer.condition_field else None
    return {"group": group, "field": value_field}


def _ordered(correlations: list[Correlation], by_ref: dict[str, Correlation], diags: list[Diagnostic]) -> list[Correlation]:
    """The correlations, each after the correlations it takes; those in a cycle are left out with E071."""
    state: dict[int, str] = {}
    out: list[Correlation] = []

    def visit(corr: Correlation, path: list[Correlation], loc: Any) -> bool:
        mark = state.get(id(corr))
        if mark in ("done", "broken"):
            return mark == "done"
        if mark == "active":  # `loc`: the reference that closes the cycle
            cycle = " -> ".join(c.key for c in [*path[path.index(corr):], corr])
            diags.append(error("E071", f"correlation '{corr.title}' refers to itself through a chain: {cycle}", loc, "a chain of correlations must end in detection rules"))
            return False
        state[id(corr)] = "active"
        refs = zip(corr.rules, corr.rule_locs or [corr.loc] * len(corr.rules), strict=False)
        fine = all([visit(by_ref[ref], [*path, corr], ref_loc) for ref, ref_loc in refs if ref in by_ref])
        state[id(corr)] = "done" if fine else "broken"
        if fine:
            out.append(corr)
        return fine

    for corr in correlations:
        if state.get(id(corr)) is None:
            visit(corr, [], corr.loc)
    return out
