"""Outputs checked against the standards they claim, written here apart from the code under test.

`sigil lint --format sarif` claims SARIF 2.1.0; the `ocsf` format of outputs claims an OCSF 1.3.0 Detection
Finding (class 2004). The schemas below are written from those standards (the parts Sigil's output can
touch: every object with the properties the standard defines for it, closed where the standard's own JSON
schema is closed), not from what the code emits, so a misspelt key, a wrong enum value or a missing
required member fails here even when the product's own tests agree with the product.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from cli.main import main
from runtime.alerts import to_ocsf

ROOT = Path(__file__).resolve().parents[1]


def _object(required: list[str], properties: dict[str, Any], closed: bool = True, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties, "additionalProperties": not closed, **extra}


ANY_OBJECT = {"type": "object"}
ANY_ARRAY = {"type": "array"}
MESSAGE = _object(
    [], {"text": {"type": "string"}, "markdown": {"type": "string"}, "id": {"type": "string"}, "arguments": ANY_ARRAY, "properties": ANY_OBJECT},
    anyOf=[{"required": ["text"]}, {"required": ["id"]}],
)
MULTIFORMAT = _object(["text"], {"text": {"type": "string"}, "markdown": {"type": "string"}, "properties": ANY_OBJECT})
POSITIVE = {"type": "integer", "minimum": 1}
REGION = _object([], {
    "startLine": POSITIVE, "startColumn": POSITIVE, "endLine": POSITIVE, "endColumn": POSITIVE,
    "charOffset": {"type": "integer", "minimum": -1}, "charLength": {"type": "integer", "minimum": 0},
    "byteOffset": {"type": "integer", "minimum": -1}, "byteLength": {"type": "integer", "minimum": 0},
    "snippet": ANY_OBJECT, "message": MESSAGE, "sourceLanguage": {"type": "string"}, "properties": ANY_OBJECT,
})
ARTIFACT_LOCATION = _object([], {
    "uri": {"type": "string"}, "uriBaseId": {"type": "string"}, "index": {"type": "integer", "minimum": -1},
    "description": MESSAGE, "properties": ANY_OBJECT,
})
PHYSICAL_LOCATION = _object(
    [], {"address": ANY_OBJECT, "artifactLocation": ARTIFACT_LOCATION, "region": REGION, "contextRegion": REGION, "properties": ANY_OBJECT},
    anyOf=[{"required": ["address"]}, {"required": ["artifactLocation"]}],
)
LOCATION = _object([], {
    "id": {"type": "integer", "minimum": -1}, "physicalLocation": PHYSICAL_LOCATION, "logicalLocations": ANY_ARRAY,
    "message": MESSAGE, "annotations": ANY_ARRAY, "relationships": ANY_ARRAY, "properties": ANY_OBJECT,
})
RESULT = _object(["message"], {
    "ruleId": {"type": "string"}, "ruleIndex": {"type": "integer", "minimum": -1}, "rule": ANY_OBJECT,
    "kind": {"enum": ["notApplicable", "pass", "fail", "review", "open", "informational"]},
    "level": {"enum": ["none", "note", "warning", "error"]}, "message": MESSAGE, "analysisTarget": ARTIFACT_LOCATION,
    "locations": {"type": "array", "items": LOCATION}, "guid": {"type": "string"}, "correlationGuid": {"type": "string"},
    "occurrenceCount": POSITIVE, "partialFingerprints": ANY_OBJECT, "fingerprints": ANY_OBJECT, "stacks": ANY_ARRAY,
    "codeFlows": ANY_ARRAY, "graphs": ANY_ARRAY, "graphTraversals": ANY_ARRAY, "relatedLocations": {"type": "array", "items": LOCATION},
    "suppressions": ANY_ARRAY, "baselineState": {"enum": ["new", "unchanged", "updated", "absent"]},
    "rank": {"type": "number", "minimum": -1, "maximum": 100}, "attachments": ANY_ARRAY, "hostedViewerUri": {"type": "string"},
    "workItemUris": ANY_ARRAY, "provenance": ANY_OBJECT, "fixes": ANY_ARRAY, "taxa": ANY_ARRAY, "webRequest": ANY_OBJECT,
    "webResponse": ANY_OBJECT, "properties": ANY_OBJECT,
})
REPORTING_DESCRIPTOR = _object(["id"], {
    "id": {"type": "string"}, "deprecatedIds": ANY_ARRAY, "guid": {"type": "string"}, "deprecatedGuids": ANY_ARRAY,
    "name": {"type": "string"}, "deprecatedNames": ANY_ARRAY, "shortDescription": MULTIFORMAT, "fullDescription": MULTIFORMAT,
    "messageStrings": ANY_OBJECT, "defaultConfiguration": ANY_OBJECT, "helpUri": {"type": "string"}, "help": MULTIFORMAT,
    "relationships": ANY_ARRAY, "properties": ANY_OBJECT,
})
TOOL_COMPONENT = _object(["name"], {
    **{key: {"type": "string"} for key in (
        "guid", "name", "organization", "product", "productSuite", "fullName", "version", "semanticVersion",
        "dottedQuadFileVersion", "releaseDateUtc", "downloadUri", "informationUri", "language",
        "localizedDataSemanticVersion", "minimumRequiredLocalizedDataSemanticVersion",
    )},
    "shortDescription": MULTIFORMAT, "fullDescription": MULTIFORMAT, "globalMessageStrings": ANY_OBJECT,
    "notifications": {"type": "array", "items": REPORTING_DESCRIPTOR}, "rules": {"type": "array", "items": REPORTING_DESCRIPTOR},
    "taxa": ANY_ARRAY, "locations": ANY_ARRAY, "contents": ANY_ARRAY, "isComprehensive": {"type": "boolean"},
    "associatedComponent": ANY_OBJECT, "translationMetadata": ANY_OBJECT, "supportedTaxonomies": ANY_ARRAY,
    "properties": ANY_OBJECT,
})
RUN = _object(["tool"], {
    "tool": _object(["driver"], {"driver": TOOL_COMPONENT, "extensions": {"type": "array", "items": TOOL_COMPONENT}, "properties": ANY_OBJECT}),
    "results": {"type": "array", "items": RESULT}, "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
    **{key: ANY_ARRAY for key in (
        "invocations", "versionControlProvenance", "artifacts", "logicalLocations", "graphs", "runAggregates",
        "redactionTokens", "newlineSequences", "threadFlowLocations", "taxonomies", "addresses", "translations",
        "policies", "webRequests", "webResponses",
    )},
    **{key: ANY_OBJECT for key in ("conversion", "originalUriBaseIds", "automationDetails", "externalPropertyFileReferences", "specialLocations", "properties")},
    **{key: {"type": "string"} for key in ("language", "baselineGuid", "defaultEncoding", "defaultSourceLanguage")},
})
SARIF_2_1_0 = _object(["version", "runs"], {
    "$schema": {"type": "string"}, "version": {"const": "2.1.0"}, "runs": {"type": "array", "items": RUN},
    "inlineExternalProperties": ANY_ARRAY, "properties": ANY_OBJECT,
})

BROKEN_RULES = {
    "unknown.yml": """\
title: Unknown modifier and identifier
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName|endwith: x
  condition: selection and nothere
level: high
""",
    "warned.yml": """\
title: Never true
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: ConsoleLogin
  condition: selection and not selection
level: high
""",
}


def test_lint_sarif_is_valid_sarif_2_1_0(tmp_path, capsys, monkeypatch):
    """Errors and warnings of `sigil lint --format sarif` make a log the SARIF 2.1.0 schema accepts, each result
    with a level, a message and a 1-based region in its file."""
    for name, text in BROKEN_RULES.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    main(["lint", "--format", "sarif", "--schemas", str(ROOT / "schemas"), "."])
    log = json.loads(capsys.readouterr().out)
    errors = sorted(Draft202012Validator(SARIF_2_1_0).iter_errors(log), key=str)
    assert [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors] == []
    results = log["runs"][0]["results"]
    assert {r["level"] for r in results} == {"error", "warning"}
    for result in results:
        (location,) = result["locations"]
        assert location["physicalLocation"]["artifactLocation"]["uri"] in BROKEN_RULES
        assert {"startLine", "startColumn"} <= set(location["physicalLocation"]["region"])
    declared = {rule["id"] for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    assert {r["ruleId"] for r in results} <= declared


def test_the_sarif_schema_here_can_fail():
    """The schema above rejects what SARIF forbids: an unknown level, a 0-based line, a key the standard lacks."""
    good = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [
        {"message": {"text": "m"}, "level": "error", "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a"}, "region": {"startLine": 1}}}]},
    ]}]}
    validator = Draft202012Validator(SARIF_2_1_0)
    assert validator.is_valid(good)
    result = good["runs"][0]["results"][0]
    for broken in ({**result, "level": "fatal"}, {**result, "severity": "error"}, {**result, "message": {}},
                   {**result, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a"}, "region": {"startLine": 0}}}]}):
        assert not validator.is_valid({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [broken]}]})


# -- OCSF 1.3.0 Detection Finding ------------------------------------------------------------------------

SEVERITIES = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical", 6: "Fatal", 99: "Other"}
STATUSES = {0: "Unknown", 1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved", 5: "Archived", 6: "Deleted", 99: "Other"}
ACTIVITIES = {0: "Unknown", 1: "Create", 2: "Update", 3: "Close", 99: "Other"}
ANALYTIC_TYPES = {0: "Unknown", 1: "Rule", 2: "Behavioral", 3: "Statistical", 4: "Learning (ML/DL)", 5: "Fingerprinting", 6: "Tagging", 7: "Keyword Match", 8: "Regular Expressions", 9: "Exact Data Match", 10: "Partial Data Match", 11: "Indexed Data Match", 99: "Other"}
TECHNIQUE = _object(["uid"], {"uid": {"type": "string", "pattern": r"^T\d{4}$"}, "name": {"type": "string"}, "src_url": {"type": "string"}}, closed=False)
DETECTION_FINDING_1_3_0 = _object(
    ["activity_id", "category_uid", "class_uid", "finding_info", "metadata", "severity_id", "time", "type_uid"],
    {
        "class_uid": {"const": 2004}, "class_name": {"const": "Detection Finding"},
        "category_uid": {"const": 2}, "category_name": {"const": "Findings"},
        "activity_id": {"enum": list(ACTIVITIES)}, "severity_id": {"enum": list(SEVERITIES)}, "status_id": {"enum": list(STATUSES)},
        "type_uid": {"type": "integer"}, "time": {"type": "integer"}, "message": {"type": "string"},
        "finding_info": _object(["uid"], {
            "uid": {"type": "string"}, "title": {"type": "string"}, "desc": {"type": "string"},
            "types": {"type": "array", "items": {"type": "string"}},
            "analytic": _object(["type_id"], {"uid": {"type": "string"}, "name": {"type": "string"}, "type_id": {"enum": list(ANALYTIC_TYPES)}, "type": {"type": "string"}}, closed=False),
            "attacks": {"type": "array", "items": _object([], {
                "technique": TECHNIQUE,
                "sub_technique": _object(["uid"], {"uid": {"type": "string", "pattern": r"^T\d{4}\.\d{3}$"}}, closed=False),
                "tactic": ANY_OBJECT, "tactics": ANY_ARRAY, "version": {"type": "string"},
            }, closed=False)},
        }, closed=False),
        "metadata": _object(["product", "version"], {
            "version": {"type": "string", "pattern": r"^1\.3\.0$"},
            "product": _object([], {"name": {"type": "string"}, "vendor_name": {"type": "string"}}, closed=False),
            "log_name": {"type": "string"},
        }, closed=False),
        "evidences": {"type": "array", "items": ANY_OBJECT, "minItems": 1},
        "unmapped": ANY_OBJECT,
    },
    closed=False,  # OCSF events may carry attributes of profiles and extensions
)


@pytest.mark.parametrize("level", ["informational", "low", "medium", "high", "critical", None, "odd"])
def test_ocsf_finding_is_a_valid_detection_finding(level):
    """Every level gives a Detection Finding the OCSF 1.3.0 class accepts, its captions matching its ids and
    type_uid = class_uid * 100 + activity_id."""
    alert = {
        "alert_id": "a" * 64, "rule_id": "5448a752-d801-4f72-85d9-15faa4264c9a", "title": "Root usage", "level": level,
        "log_type": "cloudtrail", "source": "arn:aws:kinesis:us-east-1:1:stream/s", "time": 1_700_000_000_000,
        "tags": ["attack.t1078.004", "attack.initial-access"], "record": {"eventName": "ConsoleLogin"},
    }
    finding = to_ocsf(alert)
    errors = sorted(Draft202012Validator(DETECTION_FINDING_1_3_0).iter_errors(finding), key=str)
    assert [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors] == []
    assert finding["type_uid"] == finding["class_uid"] * 100 + finding["activity_id"]
    assert finding["severity"] == SEVERITIES[finding["severity_id"]]
    assert finding.get("status", STATUSES[finding.get("status_id", 0)]) == STATUSES[finding.get("status_id", 0)]
    assert finding.get("activity_name", ACTIVITIES[finding["activity_id"]]) == ACTIVITIES[finding["activity_id"]]
    analytic = finding["finding_info"]["analytic"]
    assert analytic.get("type", ANALYTIC_TYPES[analytic["type_id"]]) == ANALYTIC_TYPES[analytic["type_id"]]
