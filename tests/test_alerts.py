"""Alert documents: rendered titles, context fields, and the OCSF Detection Finding view."""

from __future__ import annotations

import json
import time

import pytest

from runtime.alerts import alert_id, build_alert, render_title, to_ocsf

RECORD = {
    "eventName": "ConsoleLogin",
    "userIdentity": {"userName": "alice", "groups": ["admins", "dev"]},
    "sourceIPAddress": "198.51.100.7",
    "errorCode": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "a.b": "dotted key",
}
RULE = {
    "title": "Console login by {userIdentity.userName} from {sourceIPAddress}",
    "level": "high",
    "description": "{eventName} without MFA",
    "outputs": ["slack:secops", "aws-sns:alerts"],
    "tags": ["attack.initial-access", "attack.t1078.004", "attack.t1556"],
    "context": [["user", "userIdentity.userName"], ["ip", "sourceIPAddress"], ["absent", "nope.nothing"]],
}


class TestRenderTitle:
    def test_placeholders_take_record_values(self) -> None:
        """Each {field.path} is replaced by the value at that path, nested paths included."""
        assert render_title("{eventName} by {userIdentity.userName}", RECORD) == "ConsoleLogin by alice"

    def test_missing_field(self) -> None:
        """A field the record lacks renders as <missing>."""
        assert render_title("user {userIdentity.arn}", RECORD) == "user <missing>"

    def test_escaped_braces(self) -> None:
        """{{ and }} render as literal braces, also around a placeholder."""
        assert render_title("{{literal}} {{{eventName}}}", RECORD) == "{literal} {ConsoleLogin}"

    def test_non_string_values_render_as_json(self) -> None:
        """Lists, objects and null render as compact JSON."""
        rendered = render_title("{userIdentity.groups} {responseElements} {errorCode}", RECORD)
        assert rendered == '["admins","dev"] {"ConsoleLogin":"Success"} null'

    def test_dotted_key_wins(self) -> None:
        """A key containing dots is found like the matchers find it."""
        assert render_title("{a.b}", RECORD) == "dotted key"

    def test_malformed_braces_stay_literal(self) -> None:
        """An unbalanced brace is kept as text instead of failing the alert."""
        assert render_title("odd } and {eventName", RECORD) == "odd } and {eventName"

    def test_whitespace_inside_placeholder(self) -> None:
        """Spaces around the path inside a placeholder are ignored."""
        assert render_title("{ eventName }", RECORD) == "ConsoleLogin"


class TestBuildAlert:
    def test_rendered_title_and_description(self) -> None:
        """The rule's title and description templates are rendered against the record."""
        alert = build_alert("r1", RULE, "cloudtrail", "src", RECORD)
        assert alert["title"] == "Console login by alice from 198.51.100.7"
        assert alert["description"] == "ConsoleLogin without MFA"

    def test_context_fields_copied_from_record(self) -> None:
        """Context pairs copy record fields under their names; absent fields are left out."""
        alert = build_alert("r1", RULE, "cloudtrail", "src", RECORD)
        assert alert["context"] == {"user": "alice", "ip": "198.51.100.7"}

    def test_hook_results_override(self) -> None:
        """A title hook's text replaces the template and a context hook's mapping is merged over the fields."""
        alert = build_alert(
            "r1", RULE, "cloudtrail", "src", RECORD, title="From hook", context={"ip": "x", "n": 1}
        )
        assert alert["title"] == "From hook"
        assert alert["context"] == {"user": "alice", "ip": "x", "n": 1}

    def test_routing_and_tags_carried(self) -> None:
        """The rule's outputs and tags travel with the alert for the dispatcher and OCSF."""
        alert = build_alert("r1", RULE, "cloudtrail", "src", RECORD)
        assert alert["outputs"] == RULE["outputs"]
        assert alert["tags"] == RULE["tags"]

    def test_optional_keys_absent_without_content(self) -> None:
        """Empty description, outputs, tags and context add no keys (the contract's fields only)."""
        rule = {"title": "T", "level": "low", "description": "", "outputs": [], "tags": [], "context": []}
        alert = build_alert("r1", rule, "cloudtrail", "src", RECORD)
        assert set(alert) == {"alert_id", "rule_id", "title", "level", "log_type", "source", "record"}

    def test_id_does_not_depend_on_metadata(self) -> None:
        """The alert id is the contract's hash of rule id and record, whatever the title renders to."""
        alert = build_alert("r1", RULE, "cloudtrail", "src", RECORD, title="other")
        assert alert["alert_id"] == alert_id("r1", RECORD)


class TestOcsf:
    @pytest.fixture
    def alert(self) -> dict:
        return build_alert("r1", RULE, "cloudtrail", "arn:stream", RECORD)

    def test_detection_finding_class(self, alert: dict) -> None:
        """The document is a Detection Finding, activity Create, with the matching type_uid."""
        finding = to_ocsf(alert, time_ms=1)
        assert (finding["class_uid"], finding["category_uid"], finding["activity_id"]) == (2004, 2, 1)
        assert finding["type_uid"] == finding["class_uid"] * 100 + finding["activity_id"]

    def test_finding_info(self, alert: dict) -> None:
        """finding_info carries the alert id, title, description, tags as types and the rule as analytic."""
        info = to_ocsf(alert, time_ms=1)["finding_info"]
        assert info["uid"] == alert["alert_id"]
        assert info["title"] == alert["title"]
        assert info["desc"] == alert["description"]
        assert info["types"] == RULE["tags"]
        assert info["analytic"] == {"uid": "r1", "name": alert["title"], "type_id": 1, "type": "Rule"}

    def test_attack_techniques_from_tags(self, alert: dict) -> None:
        """ATT&CK technique tags become attacks, with the sub-technique when the tag has one."""
        attacks = to_ocsf(alert, time_ms=1)["finding_info"]["attacks"]
        assert attacks == [
            {"technique": {"uid": "T1078"}, "sub_technique": {"uid": "T1078.004"}},
            {"technique": {"uid": "T1556"}},
        ]

    @pytest.mark.parametrize(
        ("level", "severity_id", "name"),
        [
            ("informational", 1, "Informational"),
            ("low", 2, "Low"),
            ("medium", 3, "Medium"),
            ("high", 4, "High"),
            ("critical", 5, "Critical"),
            ("HIGH", 4, "High"),
            (None, 0, "Unknown"),
            ("bogus", 0, "Unknown"),
        ],
    )
    def test_severity_mapping(self, alert: dict, level: str | None, severity_id: int, name: str) -> None:
        """Sigma levels map to OCSF severity ids 1-5; anything else is 0 Unknown."""
        finding = to_ocsf({**alert, "level": level}, time_ms=1)
        assert (finding["severity_id"], finding["severity"]) == (severity_id, name)

    def test_time_in_milliseconds(self, alert: dict) -> None:
        """Time is epoch milliseconds: as given, else now."""
        assert to_ocsf(alert, time_ms=1_700_000_000_123)["time"] == 1_700_000_000_123
        before = int(time.time() * 1000)
        now = to_ocsf(alert)["time"]
        assert before <= now <= int(time.time() * 1000)

    def test_metadata(self, alert: dict) -> None:
        """metadata names the product, vendor and OCSF version 1.3.0."""
        metadata = to_ocsf(alert, time_ms=1)["metadata"]
        assert metadata["product"] == {"name": "Sigil", "vendor_name": "Sigil"}
        assert metadata["version"] == "1.3.0"

    def test_record_is_evidence_and_extras_unmapped(self, alert: dict) -> None:
        """The matched record is the evidence data; log type, source and context go to unmapped."""
        finding = to_ocsf(alert, time_ms=1)
        assert finding["evidences"] == [{"data": RECORD}]
        assert finding["unmapped"]["log_type"] == "cloudtrail"
        assert finding["unmapped"]["source"] == "arn:stream"
        assert finding["unmapped"]["context"] == alert["context"]

    def test_serializable_and_minimal_alert(self) -> None:
        """A contract-only alert (no tags, no description) converts and serializes to JSON."""
        alert = build_alert("r2", {"title": "T"}, "cloudtrail", "s", {"k": 1})
        finding = json.loads(json.dumps(to_ocsf(alert, time_ms=5)))
        assert finding["finding_info"]["desc"] == "T"
        assert "types" not in finding["finding_info"]
        assert finding["severity_id"] == 0
