"""Nothing accepted and ignored: every key of the rule JSON Schema has an effect, is metadata by design, or
gets a warning where it is used (dsl/key_effects.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dsl.documents import NO_EFFECT
from dsl.key_effects import EFFECTS, METADATA, NOT_RUN
from dsl.loader import load_text

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "dsl" / "rule.schema.json").read_text())

RULE = """\
title: Base
name: base
logsource: {product: aws, service: cloudtrail}
detection:
  selection: {eventName: ConsoleLogin}
  condition: selection
"""
# one document per warning, using the keys the warning stands for
SAMPLES = {
    "none": RULE + "---\ntitle: Many\ngenerate: true\ncorrelation:\n  type: value_count\n  rules: [base]\n  group-by: [ip]\n"
    "  timespan: 5m\n  aliases: {ip: {base: sourceIPAddress}}\n  condition: {field: userIdentity.userName, gte: 3, lt: 9}\n"
    "---\ntitle: P95\ncorrelation:\n  type: value_percentile\n  rules: [base]\n  timespan: 1h\n"
    "  condition: {field: bytes, percentile: 95, gt: 1000}\n",
    "W052": RULE + "---\ntitle: Count\ncorrelation:\n  type: event_count\n  rules: [base]\n  timespan: 5m\n  condition: {field: bytes, gte: 3}\n",
    "W053": "action: global\ntitle: Shared\n",
    "W054": RULE.replace("  condition: selection\n", "  condition: selection\n  timeframe: 5m\n"),
    "W055": RULE + "generate: true\n",
    "W056": RULE + "---\ntitle: Count\ncorrelation:\n  type: event_count\n  rules: [base]\n  group-by: [user]\n  timespan: 5m\n"
    "  aliases: {usr: {base: userIdentity.userName}}\n  condition: {gte: 3}\n",
    "W058": RULE + "---\ntitle: Either\ncorrelation:\n  type: temporal_ordered\n  rules: [base, other]\n  timespan: 5m\n  condition: base or other\n"
    + RULE.replace("Base", "Other").replace("name: base", "name: other").join(["---\n", ""]),
}


def schema_keys() -> set[str]:
    """Every property name of the schema, as `parent.key` (a `$defs` entry's properties under its name)."""
    found: set[str] = set()

    def walk(node: object, prefix: str) -> None:
        if not isinstance(node, dict):
            return
        for key, sub in node.get("properties", {}).items():
            found.add(prefix + key)
            walk(sub, f"{prefix}{key}.")
        if isinstance(node.get("items"), dict):
            walk(node["items"], prefix)
        for branch in ("if", "then", "else", "not"):  # conditional parts may name properties too
            walk(node.get(branch), prefix)
        for branch in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(branch, ()):
                walk(sub, prefix)

    walk(SCHEMA, "")
    for name, definition in SCHEMA["$defs"].items():
        walk(definition, f"{name}.")
    return found


def test_every_schema_key_is_implemented_metadata_or_warned_about():
    """A key of the schema in neither list fails: it would be accepted and silently ignored."""
    keys = schema_keys()
    assert len(keys) > 40
    unaccounted = sorted(k for k in keys if k not in EFFECTS and k not in NOT_RUN)
    assert unaccounted == []
    assert set(EFFECTS) & set(NOT_RUN) == set()
    assert sorted(k for k in [*EFFECTS, *NOT_RUN] if k not in keys) == []  # no stale entries


@pytest.mark.parametrize("code", sorted(set(NOT_RUN.values()) | {"W052", "W053", "W055", "W056", "W058"}))
def test_each_not_run_warning_is_given(code: str):
    """The loader gives each warning the list promises, on a document using the keys."""
    result = load_text(SAMPLES[code], "sample.yml")
    assert code in [d.code for d in result.diagnostics]
    assert result.errors == []


def test_run_correlations_and_dedup_get_no_warning():
    """A run correlation type with every key, and a dedup rule, load without any diagnostic."""
    result = load_text(SAMPLES["none"] + "---\n" + RULE.replace("Base", "Dedup").replace("name: base", "name: dedup") + "dedup:\n  keys: [userIdentity.arn]\n  window: 15m\n", "sample.yml")
    assert result.diagnostics == []


# the top-level keys each special document reads (dsl/documents.py), or keeps as metadata as rules keep the
# METADATA keys (a filter's name, description and tags); a filter with `correlation` is a correlation
READS = {
    "correlation": {"title", "id", "name", "correlation", "generate", "level", "severity", "description", "tags", "outputs", "templates"},
    "filter": {"title", "id", "logsource", "filter", "name", "description", "tags", "correlation"},
}
DOCUMENTS = {
    "correlation": "title: Count\ncorrelation:\n  type: event_count\n  rules: [base]\n  timespan: 5m\n  condition: {gte: 3}\n",
    "filter": "title: Quiet\nlogsource: {product: aws, service: cloudtrail}\nfilter:\n  rules: [base]\n  sel: {eventName: X}\n  condition: not sel\n",
}


@pytest.mark.parametrize("kind", sorted(READS))
def test_every_top_level_key_on_correlations_and_filters_is_read_metadata_or_warned(kind: str):
    """Walk the schema's top-level properties for a correlation and a filter document: each is read by it, is
    metadata, or gets W051 at the key when used there (with any value: the warning comes before the value)."""
    top = sorted(SCHEMA["properties"])
    unaccounted = [k for k in top if k not in READS[kind] and EFFECTS.get(k) != METADATA and k not in NO_EFFECT[kind]]
    assert unaccounted == []
    for key in NO_EFFECT[kind]:
        assert key in top, key  # no stale entry
        result = load_text(RULE + "---\n" + DOCUMENTS[kind] + f"{key}: 1\n", "sample.yml")
        warned = [(d.loc.line, d.loc.col) for d in result.diagnostics if d.code == "W051" and f"'{key}'" in d.message]
        assert warned == [(7 + DOCUMENTS[kind].count("\n") + 1, 1)], (key, result.diagnostics)


@pytest.mark.parametrize("kind", sorted(READS))
def test_special_documents_with_only_read_keys_get_no_warning(kind: str):
    """The keys a correlation or filter reads give no W051."""
    result = load_text(RULE + "---\n" + DOCUMENTS[kind] + "id: 7b9d2c2e-5a4b-4c3d-9e8f-1a2b3c4d5e6f\ndescription: d\ntags: [attack.t1110]\n", "sample.yml")
    assert [d for d in result.diagnostics if d.code == "W051"] == []
