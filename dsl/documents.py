"""Sigma documents that are not detection rules: correlations, filters and v1 `action` documents.

They are read and checked here (references resolve, group-by fields named, timespans parse). Filters
are applied at load time by `dsl.filters`, so every engine sees the rewritten rules; correlations are
described for the runtime by `compiler.correlations` and run by `runtime.correlate`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from .ast import NOWHERE, AndCond, Condition, Detection, LogSource, NotCond, Of, OrCond, Ref, Rule
from .condition import ConditionError, condition_diagnostic, parse_condition
from .diagnostics import Diagnostic, Loc, did_you_mean, error
from .reader import LEVELS, DocumentReader
from .yaml_source import YNode

Aliases = tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # alias -> ((rule name, field), ...)

CORRELATION_TYPES = (
    "event_count",
    "value_count",
    "temporal",
    "temporal_ordered",
    "value_sum",
    "value_avg",
    "value_percentile",
    "value_median",
)
RUN_TYPES = CORRELATION_TYPES  # every type runs (runtime.correlate)
NEEDS_FIELD = ("value_count", "value_sum", "value_avg", "value_percentile", "value_median")
COMPARISONS = ("gt", "gte", "lt", "lte", "eq", "neq")
# Top-level keys of the rule schema that a correlation or filter document does not read (W051 where used);
# the others have an effect on it (dsl/key_effects.py) or are metadata.
NO_EFFECT = {
    "correlation": ("logsource", "detection", "filter", "context", "dedup", "enabled", "tests", "python"),
    "filter": ("detection", "level", "severity", "outputs", "context", "dedup", "enabled", "tests", "python", "generate", "templates"),
}
TIMESPAN_RE = re.compile(r"^(\d+)([smhdwMy])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000, "y": 31536000}


@dataclass(frozen=True, slots=True)
class Correlation:
    """A Sigma correlation rule (spec v2.1 §correlations), run by runtime.correlate."""

    title: str
    type: str
    rules: tuple[str, ...]
    group_by: tuple[str, ...]
    timespan_seconds: int
    condition: tuple[tuple[str, float], ...]  # (operator, number), ANDed
    condition_field: str | None = None
    id: str | None = None
    name: str | None = None
    generate: bool = False
    aliases: Aliases = ()
    level: str | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    templates: bool = False  # title and description are {field.path} templates (of the group-by values)
    loc: Loc = field(default=NOWHERE, compare=False)
    rule_locs: tuple[Loc, ...] = field(default=(), compare=False)
    group_locs: tuple[Loc, ...] = field(default=(), compare=False)
    field_loc: Loc = field(default=NOWHERE, compare=False)
    expression: Condition | None = None  # temporal: a boolean expression over the rule names
    percentile: int | None = None  # value_percentile: which percentile of the field's values, 1 to 100

    @property
    def key(self) -> str:
        """The correlation's identity in alerts and references: its id, else its name, else its title."""
        return self.id or self.name or self.title

    def field_for(self, name: str, rule_ref: str) -> str:
        """The field a group-by name reads in the events of one rule (an alias, else the name itself)."""
        return dict(dict(self.aliases).get(name, ())).get(rule_ref, name)


@dataclass(frozen=True, slots=True)
class Filter:
    """A Sigma filter rule: its condition is ANDed onto each rule it names by id or name (``any_rule``:
    every rule), when the rule's logsource has every logsource key the filter sets (`dsl.filters`)."""

    title: str
    logsource: LogSource
    rules: tuple[str, ...]
    id: str | None = None
    loc: Loc = field(default=NOWHERE, compare=False)
    rule_locs: tuple[Loc, ...] = field(default=(), compare=False)
    detection: Detection | None = None
    any_rule: bool = False  # `rules: any` (or `all`, or an empty list, as pySigma reads them)


def timespan_seconds(text: str) -> int | None:
    match = TIMESPAN_RE.match(text.strip())
    return int(match.group(1)) * UNIT_SECONDS[match.group(2)] if match else None


def read_special_document(builder: DocumentReader) -> Correlation | Filter | None:
    doc = builder.doc
    if doc.get("action") is not None:  # Sigma v1 global/reset/repeat documents, which pySigma merges
        builder.warn("W053", "Sigma v1 'action' documents are not merged into the rules: this one has no effect", doc.key_loc("action") or doc.loc, "write each rule in full (Sigma v2 has no action documents)")
        return None
    kind = "correlation" if doc.get("correlation") is not None else "filter"
    for key in NO_EFFECT[kind]:
        if doc.get(key) is not None:
            hint = "it belongs to detection rules" if kind == "correlation" else "write it on the rules the filter applies to"
            builder.warn("W051", f"'{key}' has no effect on a {kind} rule", doc.key_loc(key), hint)
    return _correlation(builder) if kind == "correlation" else _filter(builder)


def _names(builder: DocumentReader, node, key: str) -> tuple[tuple[str, ...], tuple[Loc, ...]]:
    if node is None:
        return (), ()
    values = builder.text_list(node, key)
    locs = tuple(n.loc for n in node.value) if node.kind == "seq" else (node.loc,)
    return values, locs[: len(values)]


def _correlation(builder: DocumentReader) -> Correlation | None:
    doc = builder.doc
    corr = doc.child("correlation")
    title = builder.text(doc.get("title"), "title", required=True)
    templates = builder.boolean(doc.get("templates"), "templates", False)
    for key in ("title", "description"):
        builder.check_template(doc.get(key), key, templates, doc.get("outputs") is not None)
    if corr.kind != "map":
        builder.err("E050", "'correlation' must be a mapping", corr.loc)
        return None
    kind = builder.choice(corr.get("type"), "correlation type", CORRELATION_TYPES)
    if corr.get("type") is None:
        builder.err("E050", "the correlation has no 'type'", corr.loc, "one of: " + ", ".join(CORRELATION_TYPES))
    rules, rule_locs = _names(builder, corr.get("rules"), "correlation rules")
    if not rules:
        builder.err("E050", "the correlation names no 'rules'", corr.loc, "list the ids or names of the rules it correlates")
    group_by, group_locs = _names(builder, corr.get("group-by"), "group-by")
    span_text = builder.text(corr.get("timespan"), "timespan")
    seconds = timespan_seconds(span_text) if span_text is not None else None
    if span_text is None:
        builder.err("E051", "the correlation has no 'timespan'", corr.loc, "e.g. timespan: 5m")
    elif seconds is None:
        builder.err("E051", f"timespan '{span_text}' is not a number followed by s, m, h, d, w, M or y", corr.get("timespan").loc, "e.g. 5m or 1h")
    condition, cond_field, percentile = _condition(builder, corr.get("condition"), kind)
    if cond_field is not None and kind not in NEEDS_FIELD:
        builder.warn("W052", f"'field' has no effect on a {kind} correlation", corr.get("condition").key_loc("field"), "only value_count and the value_* types read a field")
        cond_field = None
    aliases = _aliases(builder, corr.get("aliases"), rules, group_by)
    expression = _expression(builder, corr.get("condition"), kind, rules)
    if title is None or kind is None or not rules or seconds is None or condition is None:
        return None
    return Correlation(
        title=title, type=kind, rules=rules, group_by=group_by, timespan_seconds=seconds, condition=condition,
        condition_field=cond_field, id=builder.text(doc.get("id"), "id"), name=builder.text(doc.get("name"), "name"),
        generate=builder.boolean(corr.get("generate") or doc.get("generate"), "generate", False),
        aliases=aliases, loc=doc.loc, rule_locs=rule_locs, group_locs=group_locs,
        level=builder.choice(doc.get("severity"), "severity", LEVELS) or builder.choice(doc.get("level"), "level", LEVELS), description=builder.text(doc.get("description"), "description"),
        tags=builder.text_list(doc.get("tags"), "tags"), outputs=builder.outputs(doc.get("outputs")),
        field_loc=_field_loc(corr.get("condition")), expression=expression, percentile=percentile, templates=templates,
    )


def _field_loc(node: YNode | None) -> Loc:
    found = node.get("field") if node is not None and node.kind == "map" else None
    return found.loc if found is not None else NOWHERE


Parsed = tuple[tuple[tuple[str, float], ...] | None, str | None, int | None]


def _condition(builder: DocumentReader, node, kind: str | None) -> Parsed:
    """The comparisons (ANDed), the condition's field, and value_percentile's percentile."""
    if node is None:
        if kind in ("temporal", "temporal_ordered"):
            return (), None, None  # all referenced rules must fire
        builder.err("E053", "the correlation has no 'condition'", builder.doc.get("correlation").loc, "e.g. condition: {gte: 10}")
        return None, None, None
    if node.kind == "scalar" and isinstance(node.value, str) and kind in ("temporal", "temporal_ordered"):
        return (), None, None  # pySigma's boolean over rule names (_expression)
    if node.kind != "map":
        builder.err("E053", "a correlation condition must map gt|gte|lt|lte|eq|neq to numbers", node.loc)
        return None, None, None
    out, cond_field, percentile = [], None, None
    for key, key_loc, value in node.value:
        if key == "field":
            cond_field = builder.text(value, "condition field")  # E011 when it is not text
            if cond_field is None:
                return None, None, None
            continue
        if key == "percentile" and kind == "value_percentile":
            number = value.value if value.kind == "scalar" else None
            if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 100:
                builder.err("E053", "'percentile' needs a whole number from 1 to 100", value.loc, "e.g. percentile: 95")
                return None, None, None
            percentile = number
            continue
        if key not in COMPARISONS:
            hint = "'percentile' belongs to value_percentile correlations" if key == "percentile" else did_you_mean(key, COMPARISONS) or "use gt, gte, lt, lte, eq or neq"
            builder.err("E053", f"unknown comparison '{key}'", key_loc, hint)
            return None, None, None
        if value.kind != "scalar" or isinstance(value.value, bool) or not isinstance(value.value, int | float):
            builder.err("E053", f"'{key}' needs a number", value.loc)
            return None, None, None
        out.append((key, value.value))
    if kind in NEEDS_FIELD and cond_field is None:
        builder.err("E054", f"a {kind} correlation needs 'field' in its condition", node.loc, "the field whose values are counted or summed")
        return None, None, None
    if kind == "value_percentile" and percentile is None:
        builder.err("E054", "a value_percentile correlation needs 'percentile' in its condition", node.loc, "e.g. percentile: 95")
        return None, None, None
    return tuple(out), cond_field, percentile


def _expression(builder: DocumentReader, node, kind: str | None, rules: tuple[str, ...]) -> Condition | None:
    """A temporal condition written as an expression over the correlation's rule names (`a and (b or c)`),
    parsed and checked like a detection condition; None when the condition is not one."""
    if node is None or node.kind != "scalar" or not isinstance(node.value, str) or kind not in ("temporal", "temporal_ordered"):
        return None
    start = builder.condition_locator(node)
    try:
        cond = parse_condition(node.value, start)
    except ConditionError as exc:
        builder.diags.append(condition_diagnostic(exc, start))
        return None
    if not _names_known(builder, cond, rules):
        return None
    if kind == "temporal_ordered" and _refs(cond) != list(rules):
        builder.warn("W058", "a temporal_ordered condition expression runs as: every rule, in the order of 'rules'", node.loc, "use temporal for an expression over the rules, or write the rules in order: " + " and ".join(rules))
    return cond


def _names_known(builder: DocumentReader, cond: Condition, rules: tuple[str, ...]) -> bool:
    match cond:
        case Ref(name, loc):
            if name not in rules:
                builder.err("E053", f"'{name}' in the condition is not one of the correlation's rules", loc, did_you_mean(name, rules) or "the rules are: " + ", ".join(rules))
                return False
            return True
        case Of(_, pattern, loc):
            if not [r for r in rules if pattern is None or fnmatch.fnmatchcase(r, pattern)]:
                builder.err("E053", f"'{pattern}' selects none of the correlation's rules", loc, "the rules are: " + ", ".join(rules))
                return False
            return True
        case NotCond(item):
            return _names_known(builder, item, rules)
        case AndCond(items) | OrCond(items):
            return all([_names_known(builder, item, rules) for item in items])
    return True


def _refs(cond: Condition) -> list[str]:
    """The rule names an expression is the AND of, or [] when it is anything else."""
    match cond:
        case Ref(name):
            return [name]
        case AndCond(items):
            names = [i.name for i in items if isinstance(i, Ref)]
            return names if len(names) == len(items) else []
    return []


def _aliases(builder: DocumentReader, node, rules: tuple[str, ...], group_by: tuple[str, ...]) -> tuple:
    """``{alias: {rule: field}}``: an alias that is no group-by name has no effect (W056); a rule that is not
    one of the correlation's is a mistake (E055)."""
    if node is None:
        return ()
    if node.kind != "map":
        builder.err("E055", "'aliases' must map each alias to {rule name: field}", node.loc)
        return ()
    out = []
    for alias, alias_loc, mapping in node.value:
        if mapping.kind != "map":
            builder.err("E055", f"alias '{alias}' must map rule names to fields", mapping.loc)
            continue
        if alias not in group_by:
            builder.warn("W056", f"alias '{alias}' is not a group-by field: it has no effect", alias_loc, did_you_mean(alias, group_by) or "name it in group-by")
        for rule, rule_loc, _ in mapping.value:
            if rule not in rules:
                builder.err("E055", f"alias '{alias}' names '{rule}', which is not one of the correlation's rules", rule_loc, did_you_mean(rule, rules) or "the rules are: " + ", ".join(rules))
        out.append((alias, tuple((rule, str(f.value)) for rule, _, f in mapping.value)))
    return tuple(out)


def _filter(builder: DocumentReader) -> Filter | None:
    doc = builder.doc
    title = builder.text(doc.get("title"), "title", required=True)
    flt = doc.child("filter")
    if flt.kind != "map":
        builder.err("E052", "'filter' must be a mapping", flt.loc)
        return None
    if flt.get("condition") is None:
        builder.err("E052", "the filter has no 'condition'", flt.loc, "e.g. condition: not selection")
    rules_node = flt.get("rules")
    if rules_node is None:
        builder.err("E052", "the filter has no 'rules'", flt.loc, "list the ids or names of the rules it applies to, or write 'rules: any'")
    rules, rule_locs = _names(builder, rules_node, "filter rules")
    any_rule = rules_node is not None and (not rules or (len(rules) == 1 and rules[0].lower() in ("any", "all")))
    if any_rule:
        rules, rule_locs = (), ()
    logsource = builder.logsource(doc.get("logsource"))
    builder.hook_names, builder.broken_names, builder.piped_names = set(), set(), {}
    detection = builder.detection(flt, reserved=("condition", "rules")) if flt.get("condition") is not None else None
    if title is None or logsource is None or detection is None or rules_node is None:
        return None
    return Filter(title, logsource, rules, builder.text(doc.get("id"), "id"), doc.loc, rule_locs, detection, any_rule)


def check_references(rules: Sequence[Rule], correlations: Sequence[Correlation], filters: Sequence[Filter]) -> list[Diagnostic]:
    """Every rule a correlation or filter names exists (by id or name), correlations included."""
    known = {r.id for r in rules if r.id} | {r.name for r in rules if r.name}
    known |= {c.id for c in correlations if c.id} | {c.name for c in correlations if c.name}
    diags = []
    documents: list[Correlation | Filter] = [*correlations, *filters]
    for doc in documents:
        for ref, loc in zip(doc.rules, doc.rule_locs, strict=False):
            if ref not in known and not (isinstance(doc, Filter) and ref == "any"):
                diags.append(error("E056", f"'{ref}' names no rule or correlation that was loaded", loc, did_you_mean(ref, sorted(known)) or "load the referenced rule files too"))
    return diags
