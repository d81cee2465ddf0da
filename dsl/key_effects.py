"""What each key the loader accepts does: nothing is accepted and ignored.

Every property of the rule JSON Schema (dsl/rule.schema.json), top level and nested, is listed here
either with its effect or as metadata (kept for people and tools, with no effect by design), or in
``NOT_RUN`` with the warning the loader gives where it is used, saying it has no effect yet.
`tests/test_key_effects.py` walks the schema and fails on a key in neither. On correlation and filter
documents, the top-level keys they do not read get W051 where used (``dsl.documents.NO_EFFECT``).
"""

from __future__ import annotations

METADATA = "metadata: kept for people and tools, no effect on matching or alerts"

EFFECTS = {
    "title": "the alert title (a {field.path} template with templates: true), or the correlation's or filter's name in messages",
    "id": "the rule's identity: alert rule_id, references from correlations and filters",
    "name": "a rule's other identity for references from correlations and filters",
    "level": "the alert level (unless severity overrides it)",
    "description": "the alert description (a {field.path} template with templates: true)",
    "templates": "whether the title and description are {field.path} templates (else shown as written)",
    "tags": "the alert's tags, OCSF ATT&CK techniques",
    "logsource": "which log types the rule runs on (schemas' logsource mappings)",
    "logsource.category": "logsource mapping key",
    "logsource.product": "logsource mapping key",
    "logsource.service": "logsource mapping key",
    "detection": "the rule's matching logic",
    "detection.condition": "the rule's matching logic",
    "filter": "a filter document: ANDed onto the rules it names (dsl.filters)",
    "filter.rules": "the rules a filter applies to",
    "filter.condition": "the filter's condition, ANDed onto each rule's",
    "filterDocument.detection": "a filter holds no detection (the schema forbids it)",
    "correlationDocument.detection": "a correlation holds no detection (the schema forbids it)",
    "correlationDocument.filter": "a correlation holds no filter (the schema forbids it)",
    "outputs": "where the alert goes (dispatcher)",
    "severity": "the alert level, over level (a correlation's too)",
    "context": "record fields copied into the alert's context",
    "enabled": "false leaves the rule out of the build",
    "tests": "events the rule must (not) fire on, run by make test",
    "tests.name": "the test's name in failures",
    "tests.event": "the test's event",
    "tests.expect": "whether the rule must fire",
    "python": "Python escape hatches",
    "python.conditions": "condition identifiers backed by functions (both engines)",
    "python.title": "the alert title computed by a function (runtime.alert_hooks)",
    "python.context": "extra alert context computed by a function (runtime.alert_hooks)",
    "status": METADATA,
    "license": METADATA,
    "author": METADATA,
    "references": METADATA,
    "date": METADATA,
    "modified": METADATA,
    "falsepositives": METADATA,
    "fields": METADATA,
    "scope": METADATA,
    "taxonomy": METADATA,
    "related": METADATA,
    "related.id": METADATA,
    "related.type": METADATA,
    "logsource.definition": METADATA,
    "correlation": "a correlation rule, run by runtime.correlate (Lambda and replay)",
    "correlation.type": "what the condition tests (event_count, value_count, temporal, temporal_ordered, value_sum, value_avg, value_percentile, value_median)",
    "correlation.rules": "the rules or correlations whose matches it counts",
    "correlation.group-by": "the fields whose values make a group",
    "correlation.timespan": "the window length",
    "correlation.condition": "when the window alerts",
    "correlation.generate": "whether the rules it takes alert on their own",
    "correlation.aliases": "a group-by name read from a different field per rule (W056: an alias not in group-by)",
    "correlationCondition.gt": "condition comparison",
    "correlationCondition.gte": "condition comparison",
    "correlationCondition.lt": "condition comparison",
    "correlationCondition.lte": "condition comparison",
    "correlationCondition.eq": "condition comparison",
    "correlationCondition.neq": "condition comparison",
    "correlationCondition.field": "the field whose values value_count counts, and the value_* types sum, average or rank (W052 on other types)",
    "correlationCondition.percentile": "value_percentile's percentile of the field's values",
    "generate": "on a correlation: whether the rules it takes alert on their own (W055 on a detection rule)",
    "dedup": "merges alerts with equal key values within the window (runtime.dedup, Lambda and replay)",
    "dedup.keys": "the fields whose equal values make alerts duplicates",
    "dedup.window": "the merge window",
}

# key → the warning code the loader gives where the key is used: W054, Sigma v1's timeframe
NOT_RUN = {
    "detection.timeframe": "W054",
}
