"""The JSON Schema for rule files (dsl/rule.schema.json): valid itself, accepts every real rule, rejects mistakes."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator, ValidationError
from jsonschema.protocols import Validator

from dsl.documents import CORRELATION_TYPES
from dsl.loader import LEVELS, RELATION_TYPES, STATUSES
from dsl.modifiers import KNOWN as KNOWN_MODIFIERS
from runtime.outputs import ALIASES, OUTPUTS

ROOT = Path(__file__).resolve().parents[1]
SIGMA = ROOT.parent / "shared" / "sigma"
SCHEMA_PATH = ROOT / "dsl" / "rule.schema.json"
CORPORA = {
    "Sigil": ROOT / "tests" / "fixtures" / "ruleset",  # the tests' own rules, not rules/ (tests/conftest.py)
    "Sigma": SIGMA / "rules",
    "Sigma placeholder": SIGMA / "rules-placeholder",
}


class _TextDatesLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):
    """Safe YAML loading that keeps unquoted dates as text, as dsl/yaml_source.py does."""


_TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=[Draft202012Validator, Draft7Validator], ids=["2020-12", "draft-7"])
def validator(schema: dict, request: pytest.FixtureRequest) -> Validator:
    """The schema under 2020-12 and under draft-7 rules, which editors still partly apply (see docs/editor-setup.md)."""
    return request.param(schema)


def documents(root: Path) -> Iterator[tuple[Path, object]]:
    for path in sorted(root.rglob("*.yml")):
        for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_TextDatesLoader):
            yield path, doc


def all_errors(errors) -> Iterator[ValidationError]:
    """Each error and, recursively, the errors of the branches of anyOf/oneOf it stands for."""
    for error in errors:
        yield error
        yield from all_errors(error.context or ())


def rule(text: str) -> dict:
    return yaml.load(text, Loader=_TextDatesLoader)


BASE_RULE = """
title: Root Account Usage by {userIdentity.arn}
id: 5448a752-d801-4f72-85d9-15faa4264c9a
status: test
description: The root user made an API call; literal braces are written {{like this}}.
templates: true
author: Sigil
date: 2026-11-25
modified: 2026/11/26
references: [https://docs.aws.amazon.com/IAM/latest/UserGuide/root-user-tasks.html]
tags: [attack.privilege-escalation, attack.t1078.004]
related:
  - {id: 05be90a0-758d-48e6-be09-5bac01a78912, type: similar}
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    userIdentity.type: Root
    eventName|re|i: '^create.*'
    sourceIPAddress|cidr: [10.0.0.0/8, 192.168.0.0/16]
    requestParameters.count|gte: 3
  filter_service:
    - userIdentity.invokedBy|endswith: '.amazonaws.com'
    - errorCode|exists: true
  keywords: [AccessDenied, 403]
  condition: selection and not 1 of filter_* and not keywords
falsepositives: The few account tasks that only root can perform
level: high
regression_tests_path: regression_data/cloud/aws/info.yml
outputs: [aws-sns:alerts, slack:secops]
severity: critical
context: {arn: userIdentity.arn, ip: sourceIPAddress}
dedup: {keys: [userIdentity.arn], window: 15m}
enabled: true
python:
  conditions:
    is_admin: rules/helpers/auth.py:is_admin_login
  title: rules/helpers/auth.py:login_title
tests:
  - name: Root creates an access key
    expect: true
    event: {eventName: CreateAccessKey, userIdentity: {type: Root}}
"""

CORRELATION = """
title: Many failed logins
id: 0e95725d-7320-415d-80f7-004da920fc11
name: many_failed_logins
correlation:
  type: event_count
  rules: [5638f7c0-ac70-491d-8465-2a65075e0d86, failed_login]
  group-by: [ComputerName]
  timespan: 1h
  condition: {gte: 100}
generate: false
level: high
"""

FILTER = """
title: Ignore the backup admin
logsource: {product: windows, category: process_creation}
filter:
  rules: [5638f7c0-ac70-491d-8465-2a65075e0d86]
  selection:
    User|startswith: backup_
  condition: not selection
"""


def test_schema_is_a_valid_draft_2020_12_schema(schema: dict):
    """The schema file itself passes the 2020-12 meta-schema, and the draft-7 one that some editors apply."""
    Draft202012Validator.check_schema(schema)
    Draft7Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.slow
def test_every_rule_in_the_repo_and_the_sigma_corpus_is_valid(schema: dict):
    """Every document in rules/, the SigmaHQ rules and the placeholder rules validates against the schema."""
    validator = Draft202012Validator(schema)
    found = checked = 0
    failures = []
    for label, root in CORPORA.items():
        assert root.is_dir(), root
        valid = 0
        for path, doc in documents(root):
            found += 1
            errors = list(validator.iter_errors(doc))
            if errors:
                failures.append(f"{path}: {errors[0].json_path}: {errors[0].message}")
            else:
                valid += 1
        checked += valid
        print(f"{valid} {label} rules valid")
    assert failures == [], "\n".join(failures[:20])
    assert checked == found
    assert found >= 3000


def test_a_full_rule_with_every_sigil_extension_is_valid(validator: Validator):
    """A rule using most Sigma fields, modifiers, a custom key and all Sigil extensions validates."""
    assert list(validator.iter_errors(rule(BASE_RULE))) == []


@pytest.mark.parametrize(
    "text",
    [
        CORRELATION,
        """
title: Distinct users per host
correlation:
  type: value_count
  rules: failed_login
  group-by: ComputerName
  timespan: 1d
  condition: {field: User, gt: 10, lte: 200}
""",
        """
title: Recon then exfiltration
correlation:
  type: temporal_ordered
  rules: [recon, exfil]
  group-by: [User]
  timespan: 10m
  aliases:
    user: {recon: SubjectUserName, exfil: user.name}
""",
        """
title: Both recon commands
correlation:
  type: temporal
  rules: [recon_a, recon_b]
  timespan: 5m
  condition: recon_a and recon_b
""",
        """
title: 95th percentile of bytes sent
correlation:
  type: value_percentile
  rules: [net]
  group-by: [src]
  timespan: 1w
  condition: {field: bytes, percentile: 95, gt: 1000000}
""",
        FILTER,
    ],
    ids=["event_count", "value_count", "temporal_ordered", "temporal-expression", "value_percentile", "filter"],
)
def test_correlation_and_filter_documents_are_valid(validator: Validator, text: str):
    """Correlation rules of several types and a filter document validate."""
    assert list(validator.iter_errors(rule(text))) == []


def _without(key):
    return lambda doc: doc.pop(key)


def _set(key, value):
    return lambda doc: doc.__setitem__(key, value)


def _add_selection_item(key, value):
    return lambda doc: doc["detection"]["selection"].__setitem__(key, value)


def _set_correlation(key, value):
    return lambda doc: doc["correlation"].__setitem__(key, value)


# (base document, change, JSON path of the error, failing keyword, offending instance)
MISTAKES = {
    "no title": (BASE_RULE, _without("title"), "$", "required", None),
    "level severe": (BASE_RULE, _set("level", "severe"), "$.level", "enum", "severe"),
    "severity severe": (BASE_RULE, _set("severity", "severe"), "$.severity", "enum", "severe"),
    "unknown modifier contain": (BASE_RULE, _add_selection_item("eventName|contain", "x"), "$.detection.selection", "pattern", "eventName|contain"),
    "uppercase tag": (BASE_RULE, _set("tags", ["ATTACK.T1"]), "$.tags[0]", "pattern", "ATTACK.T1"),
    "non-UUID id": (BASE_RULE, _set("id", "not-a-uuid"), "$.id", "pattern", "not-a-uuid"),
    "bad date": (BASE_RULE, _set("date", "25.11.2026"), "$.date", "pattern", "25.11.2026"),
    "unknown status": (BASE_RULE, _set("status", "production"), "$.status", "enum", "production"),
    "no logsource": (BASE_RULE, _without("logsource"), "$", "required", None),
    "no condition": (BASE_RULE, lambda d: d["detection"].pop("condition"), "$.detection", "required", None),
    "nested mapping as a value": (BASE_RULE, _add_selection_item("userIdentity", {"type": "Root"}), "$.detection.selection.userIdentity", "type", {"type": "Root"}),
    "pipe aggregation": (BASE_RULE, lambda d: d["detection"].__setitem__("condition", "selection | count() > 5"), "$.detection.condition", "pattern", "selection | count() > 5"),
    "unbalanced template brace": (BASE_RULE, lambda d: d.update(title="Root used by {userIdentity.arn", templates=True), "$.title", "pattern", "Root used by {userIdentity.arn"),
    "output without service": (BASE_RULE, _set("outputs", ["alerts"]), "$.outputs[0]", "pattern", "alerts"),
    "output with an unknown service": (BASE_RULE, _set("outputs", ["aws-snss:alerts"]), "$.outputs[0]", "pattern", "aws-snss:alerts"),
    "test without expect": (BASE_RULE, lambda d: d["tests"][0].pop("expect"), "$.tests[0]", "required", None),
    "python ref without function": (BASE_RULE, lambda d: d["python"].__setitem__("title", "rules/helpers/auth.py"), "$.python.title", "pattern", "rules/helpers/auth.py"),
    "dedup window in weeks": (BASE_RULE, lambda d: d["dedup"].__setitem__("window", "1w"), "$.dedup.window", "pattern", "1w"),
    "correlation timespan in words": (CORRELATION, _set_correlation("timespan", "1 hour"), "$.correlation.timespan", "pattern", "1 hour"),
    "unknown correlation type": (CORRELATION, _set_correlation("type", "event_sum"), "$.correlation.type", "enum", "event_sum"),
    "value_count without field": (CORRELATION, _set_correlation("type", "value_count"), "$.correlation.condition", "required", None),
    "correlation with detection": (CORRELATION, _set("detection", {"condition": "selection"}), "$.detection", "not", None),
    "filter with detection": (FILTER, _set("detection", {"condition": "selection"}), "$.detection", "not", None),
    "filter without condition": (FILTER, lambda d: d["filter"].pop("condition"), "$.filter", "required", None),
}


@pytest.mark.parametrize("name", MISTAKES)
def test_a_mistake_fails_validation_for_its_own_reason(validator: Validator, name: str):
    """Each broken variant of a valid document fails, with an error at the broken spot for the broken rule."""
    base, change, path, keyword, instance = MISTAKES[name]
    doc = rule(base)
    assert list(validator.iter_errors(doc)) == []
    broken = copy.deepcopy(doc)
    change(broken)
    errors = list(all_errors(validator.iter_errors(broken)))
    assert errors, f"{name}: accepted"
    reasons = [(e.json_path, e.validator, e.instance) for e in errors]
    assert any(p == path and v == keyword and (instance is None or i == instance) for p, v, i in reasons), reasons


def test_every_modifier_the_loader_knows_is_accepted_and_no_other(validator: Validator, schema: dict):
    """The schema's modifier list is exactly dsl.modifiers.KNOWN, so editors and the compiler agree."""
    pattern = schema["$defs"]["fieldMap"]["propertyNames"]["pattern"]
    listed = set(re.search(r"\\\|\(([^()]*)\)", pattern).group(1).split("|"))
    assert listed == set(KNOWN_MODIFIERS)
    base = rule(BASE_RULE)
    for modifier in sorted(KNOWN_MODIFIERS):
        doc = copy.deepcopy(base)
        doc["detection"]["extra"] = {f"CommandLine|{modifier}": "x"}
        assert list(validator.iter_errors(doc)) == [], modifier
    for typo in ("contain", "endwith", "regex", "base", "Contains", ""):
        key = f"CommandLine|{typo}"
        doc = copy.deepcopy(base)
        doc["detection"]["extra"] = {key: "x"}
        errors = all_errors(validator.iter_errors(doc))
        assert any(e.validator == "pattern" and e.instance == key for e in errors), typo


def test_enumerations_match_the_loader(schema: dict):
    """Levels, statuses, relation and correlation types offered by editors are the ones the loader accepts."""
    props, defs = schema["properties"], schema["$defs"]
    assert defs["level"]["enum"] == list(LEVELS)
    assert props["status"]["enum"] == list(STATUSES)
    assert props["related"]["items"]["properties"]["type"]["enum"] == list(RELATION_TYPES)
    assert defs["correlation"]["properties"]["type"]["enum"] == list(CORRELATION_TYPES)
    output = props["outputs"]["items"]["pattern"]
    assert set(re.fullmatch(r"\^\(([^()]*)\):.*", output).group(1).split("|")) == {*OUTPUTS, *ALIASES}


def test_every_property_has_a_description(schema: dict):
    """Editors show descriptions on hover and completion, so every declared property carries one."""
    missing = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if isinstance(sub, dict) and "description" not in sub:
                    missing.append(f"{where}/properties/{name}")
            for key, sub in node.items():
                if key not in ("if", "then", "else"):  # conditional re-statements, not declarations
                    walk(sub, f"{where}/{key}")
        elif isinstance(node, list):
            for i, sub in enumerate(node):
                walk(sub, f"{where}/{i}")

    walk(schema, "#")
    assert missing == []


def test_braces_are_plain_text_unless_templates_are_on(validator: Validator):
    """A SigmaHQ description with a regex quantifier is valid as it is; only `templates: true` makes it a template."""
    doc = rule(BASE_RULE)
    del doc["templates"]
    doc["description"] = "Detects names matching [a-z]{5,12}, samtheadmin-{1..100}$ and a lone { brace"
    assert list(validator.iter_errors(doc)) == []
    doc["templates"] = True
    assert any(e.json_path == "$.description" and e.validator == "pattern" for e in all_errors(validator.iter_errors(doc)))
