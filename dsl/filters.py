"""Apply Sigma filters (filters spec 2.0, as pySigma applies them): each filter's condition is ANDed onto
every condition of each rule it names, by id or name (``rules: any``: every rule), when the rule's
logsource has each logsource key the filter sets, with the same value.

The result is one rewritten rule, so the interpreter and the compiled matchers both run it, and the
compiler's checks see its fields. The filter's search identifiers join the rule's under names starting
with ``_filter`` (never selected by the rule's ``them`` or patterns); the filter's own ``x of pattern``
is expanded over the filter's identifiers first, so it cannot reach the rule's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from .ast import AndCond, Condition, Detection, LogSource, NotCond, Of, OrCond, Ref, Rule
from .diagnostics import Diagnostic, error, warning
from .documents import Correlation, Filter
from .lower import matching_names

LOGSOURCE_KEYS = ("product", "category", "service")


def logsource_fits(filter_source: LogSource, rule_source: LogSource) -> bool:
    """Does the rule's logsource have every key the filter's sets, with the same value (pySigma's ``in``)?"""
    return all(
        getattr(filter_source, key) is None or getattr(filter_source, key) == getattr(rule_source, key)
        for key in LOGSOURCE_KEYS
    )


def apply_filters(
    rules: list[Rule], filters: list[Filter], correlations: Iterable[Correlation] = ()
) -> tuple[list[Rule], list[Diagnostic]]:
    """Return the rules with the filters that apply to them ANDed in, and the filters' diagnostics
    (a rule it names that does not exist at all is E056 of `check_references`)."""
    diags: list[Diagnostic] = []
    correlation_names = {n for c in correlations for n in (c.id, c.name) if n}
    applied: dict[int, list[Filter]] = {}
    for flt in filters:
        if flt.detection is None:
            continue
        targets = _targets(flt, rules, correlation_names, diags)
        for index in targets:
            applied.setdefault(index, []).append(flt)
        if flt.any_rule and not targets:
            diags.append(warning("W050", f"filter '{flt.title}' applies to no rule: none has its logsource", flt.logsource.loc, "load the rules it filters too, or fix its logsource"))
    out = [_filtered(rule, applied[i]) if i in applied else rule for i, rule in enumerate(rules)]
    return out, diags


def _targets(flt: Filter, rules: list[Rule], correlations: set[str], diags: list[Diagnostic]) -> list[int]:
    """The indexes of the rules ``flt`` applies to, with an error for each named rule it cannot apply to."""
    if flt.any_rule:
        return [i for i, rule in enumerate(rules) if logsource_fits(flt.logsource, rule.logsource)]
    targets: list[int] = []
    for ref, loc in zip(flt.rules, flt.rule_locs, strict=False):
        named = [i for i, rule in enumerate(rules) if ref in (rule.id, rule.name)]
        for i in named:
            if logsource_fits(flt.logsource, rules[i].logsource):
                targets.append(i)
            else:
                diags.append(error("E057", f"filter '{flt.title}' names '{ref}', whose logsource does not match the filter's", loc, f"the rule's logsource is {_shown(rules[i].logsource)}, the filter's {_shown(flt.logsource)}"))
        if not named and ref in correlations:
            diags.append(error("E058", f"filter '{flt.title}' names correlation '{ref}'; filters apply to detection rules", loc, "name the rules the correlation refers to instead"))
    return list(dict.fromkeys(targets))


def _shown(logsource: LogSource) -> str:
    return " ".join(f"{key}={value}" for key in LOGSOURCE_KEYS if (value := getattr(logsource, key))) or "(empty)"


def _filtered(rule: Rule, filters: list[Filter]) -> Rule:
    """The rule with each filter's condition ANDed onto each of its conditions."""
    selections = list(rule.detection.selections)
    conditions = rule.detection.conditions
    taken = {s.name for s in selections} | {name for name, _ in rule.python.conditions}
    for number, flt in enumerate(filters):
        renamed: dict[str, str] = {}
        flt_detection = flt.detection
        if flt_detection is None:  # the reader builds no filter without a detection
            raise ValueError(f"filter '{flt.title}' has no detection")
        for selection in flt_detection.selections:
            name = f"_filter{number}_{selection.name}"
            while name in taken:
                name = "_" + name
            taken.add(name)
            renamed[selection.name] = name
            selections.append(replace(selection, name=name))
        extra = [_renamed(cond, flt_detection, renamed) for cond in flt_detection.conditions]
        added = extra[0] if len(extra) == 1 else OrCond(tuple(extra), flt_detection.loc)
        conditions = tuple(AndCond((cond, added), cond.loc) for cond in conditions)
    detection = Detection(tuple(selections), conditions, (), rule.detection.loc)
    return replace(rule, detection=detection)


def _renamed(cond: Condition, detection: Detection, renamed: dict[str, str]) -> Condition:
    """The filter's condition over its renamed identifiers, its ``x of`` expanded over its own identifiers."""
    match cond:
        case Ref(name, loc):
            return Ref(renamed.get(name, name), loc)
        case Of(quantifier, pattern, loc):
            refs = tuple(Ref(renamed[name], loc) for name in matching_names(detection, pattern))
            if len(refs) == 1:
                return refs[0]
            return AndCond(refs, loc) if quantifier == "all" else OrCond(refs, loc)
        case NotCond(item, loc):
            return NotCond(_renamed(item, detection, renamed), loc)
        case AndCond(items, loc):
            return AndCond(tuple(_renamed(i, detection, renamed) for i in items), loc)
        case OrCond(items, loc):
            return OrCond(tuple(_renamed(i, detection, renamed) for i in items), loc)
    raise TypeError(cond)

