"""What each key the loader accepts does: nothing is accepted and ignored.

Every property of the rule JSON Schema (dsl/rule.schema.json), top level and nested, is listed here
either with its effect or as metadata (kept for people and tools, with no effect by design), or in
``NOT_RUN`` with the warning the loader gives where it is used, saying it has no effect yet.
`tests/test_key_effects.py` walks the schema and fails on a key in neither.
"""

from __future__ import annotations

METADATA = "metadata: kept for people and tools, no effect on matching or alerts"

EFFECTS = {
    "title": "the alert title (a {field.path} template), or the correlation's or filter's name in messages",
    "id": "the rule's identity: alert rule_id, references from correlations and filters",
    "name": "a rule's other identity for references from correlations and filters",
    "level": "the alert level (unless severity overrides it)",
    "description": "the alert description (a {field.path} template)",
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
    "severity": "the alert level, over level",
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
}

# key → the warning code the loader gives where the key is used (the feature is not run yet, or not
# everywhere: W056 and W052, correlations and dedup run by `sigil replay` but not yet by the Lambda; W051, the value_sum,
# value_avg, value_percentile and value_median types are not run at all)
NOT_RUN = {
    "correlation": "W056",
    "correlation.type": "W056",
    "correlation.rules": "W056",
    "correlation.group-by": "W056",
    "correlation.timespan": "W056",
    "correlation.condition": "W056",
    "correlation.generate": "W056",
    "correlation.aliases": "W056",
    "correlationCondition.gt": "W056",
    "correlationCondition.gte": "W056",
    "correlationCondition.lt": "W056",
    "correlationCondition.lte": "W056",
    "correlationCondition.eq": "W056",
    "correlationCondition.neq": "W056",
    "correlationCondition.field": "W056",
    "correlationCondition.percentile": "W051",
    "generate": "W056",
    "dedup": "W052",
    "dedup.keys": "W052",
    "dedup.window": "W052",
    "detection.timeframe": "W054",
}
