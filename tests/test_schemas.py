"""The shipped log schemas: they load cleanly, parse and classify their samples, and map Sigma rules."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections import Counter
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import yaml

from cli.main import main as sigil
from cli.replay.engine import Matchers, load_compiled
from compiler.build import plan
from compiler.schemas import Schema, load_schemas
from dsl.interpreter import eval_expr
from runtime import parsers
from runtime.classifier import Classifier
from runtime.helpers import MISSING, get_field

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "schemas"
SAMPLES = ROOT / "tests" / "samples"
SIGMA = ROOT.parent / "shared" / "sigma" / "rules"

LOADED = load_schemas(SCHEMAS)
SCHEMA = LOADED.schemas
SAMPLE_FILES = sorted(path for path in SAMPLES.glob("*/*") if path.is_file())
REQUIRED_LOG_TYPES = {
    "cloudtrail", "vpc_flow", "s3_access", "guardduty", "guardduty_event", "cloudwatch_events",
    "osquery_differential", "osquery_snapshot", "windows", "linux_syslog", "auditd", "webserver_access",
    "okta", "json",
}  # fmt: skip

needs_sigma = pytest.mark.skipif(not SIGMA.is_dir(), reason="../shared/sigma is not beside the project")


def classifier() -> Classifier:
    return Classifier({"log_types": {name: schema.runtime_view() for name, schema in SCHEMA.items()}})


def payloads(sample: Path) -> list[bytes]:
    """The payloads the runtime hands the classifier: a JSON file whole, a text log line by line."""
    raw = sample.read_bytes()
    return [raw] if SCHEMA[sample.parent.name].parser["type"] == "json" else raw.splitlines()


def replay_args(sample: Path, schema: Schema) -> list[str]:
    """The events file and options to replay a sample as it is: the generic type (no logsource) with --log-type."""
    return [str(sample)] + (["--log-type", schema.name] if not schema.logsources else [])


# --- loading -----------------------------------------------------------------------------------------


def test_every_schema_loads_without_diagnostics():
    """schemas/ loads with no error and no warning, one log type per file."""
    assert LOADED.diagnostics == []
    assert len(SCHEMA) == len(list(SCHEMAS.glob("*.yml")))


SCHEMA_MISTAKES = [
    # (schema YAML, [(code, line, column, message, hint)])
    ("name: x\nparser: {type: json, recods: 'Records[*]'}\n",
     [("S012", 2, 22, "unknown option 'recods' of the json parser", "did you mean records?")]),
    ("name: x\nparser: {type: json, records: Records}\n",
     [("S012", 2, 31, "records path 'Records' must select a list with [*]", None)]),
    ("name: x\nparser: {type: json, layout: evt}\n",
     [("S012", 2, 30, "unknown layout 'evt' (known: evtx)", None)]),
    ("name: x\nparser: {type: regex, pattern: '(?P<a>'}\n",
     [("S012", 2, 32, "invalid pattern: missing ), unterminated subpattern at position 0", None)]),
    ("name: x\nparser: {type: regex, pattern: '(?P<a>x)', flags: [IGNORCASE]}\n",
     [("S012", 2, 51, "unknown regex flag 'IGNORCASE'", None)]),
    ("name: x\nparser: {type: regex, pattern: '(?P<a>x+)(?=y)'}\n",
     [("S012", 2, 32, "invalid pattern: RE2 has no lookahead or lookbehind: invalid perl operator: (?= (match the context itself, or test it with a second selection)", None)]),
    ("name: x\nparser: {type: regex, pattern: '(?P<a>x)', flags: [VERBOSE]}\n",
     [("S012", 2, 51, "unknown regex flag 'VERBOSE'", None)]),
    ("name: x\nparser: {type: regex, pattern: '(?P<a>x)', skip: '('}\n",
     [("S012", 2, 50, "invalid skip pattern: missing ), unterminated subpattern at position 0", None)]),
    ("name: x\nparser: {type: csv, delimiter: ';;'}\n",
     [("S012", 2, 32, "delimiter must be one character, not ';;'", None)]),
    ("name: x\nparser: {type: csv}\n",
     [("S012", 2, 9, "the csv parser needs 'columns' or 'header: true'", None)]),
    ("name: x\nparser: {type: kv, separator: ''}\n",
     [("S012", 2, 31, "the kv parser needs a non-empty delimiter and separator", None)]),
    ("name: x\nparser: {type: syslog, format: rfc9999}\n",
     [("S012", 2, 32, "unknown syslog format 'rfc9999' (known: auto, rfc3164, rfc5424)", None)]),
    ("name: x\nparser: {type: json}\nclasify: {required: [a]}\n",
     [("S011", 3, 1, "unknown key 'clasify' in a schema", "did you mean classify?")]),
    ("name: x\nparser: {type: json}\nclassify: {priority: high, required: a, patterns: {a: 1}, requird: [a]}\n",
     [("S013", 3, 59, "unknown key 'requird' in classify", "did you mean required?"),
      ("S013", 3, 38, "classify.required must be a list of field paths", None),
      ("S013", 3, 22, "classify.priority must be an integer, not text", "lower numbers are tried first"),
      ("S013", 3, 51, "classify.patterns must map field paths to a glob or a list of globs", None)]),
    ("name: x\nparser: {type: json}\nstrict_fields: maybe\n",
     [("S014", 3, 16, "strict_fields must be true or false", None)]),
    ("name: x\nparser: {type: json}\nlogsources:\n  - {product: p, categroy: c}\n",
     [("S006", 4, 18, "unknown key 'categroy' in a logsource entry", "did you mean category?")]),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), SCHEMA_MISTAKES, ids=[f"{e[0][0]}-{e[0][3][:40]}" for _, e in SCHEMA_MISTAKES])
def test_schema_mistakes_are_diagnostics_at_their_place(text, expected, tmp_path):
    """Each mistake in a schema file is an error at its line and column, with a hint where one helps."""
    (tmp_path / "x.yml").write_text(text)
    found = load_schemas(str(tmp_path)).diagnostics
    assert [(d.code, d.loc.line, d.loc.col, d.message, d.hint) for d in found] == expected


def test_a_broken_schema_is_a_message_not_a_traceback(tmp_path, capsys, monkeypatch):
    """`sigil compile` with a broken schema prints every schema diagnostic, then fails once."""
    (tmp_path / "x.yml").write_text("name: x\nparser: {type: regex, pattern: '(', skp: 1}\nclassify: {priority: high}\n")
    monkeypatch.chdir(ROOT)
    status = sigil(["compile", "--schemas", str(tmp_path), "--out", str(tmp_path / "out"), "tests/fixtures/ruleset"])
    err = capsys.readouterr().err
    assert status == 1
    assert "Traceback" not in err
    assert [line.split(": ")[1] for line in err.splitlines() if str(tmp_path) in line and ": error[" in line] == [
        "error[S012]", "error[S012]", "error[S013]",
    ]


def test_the_log_types_of_the_issue_are_shipped():
    """CloudTrail, VPC Flow Logs, S3 access, GuardDuty, EventBridge, osquery, Windows, syslog, auditd, web, Okta, JSON."""
    assert set(SCHEMA) >= REQUIRED_LOG_TYPES


def test_every_log_type_has_a_sample():
    """Each log type has a folder of sample records under tests/samples named after it, and nothing else does."""
    assert {path.parent.name for path in SAMPLE_FILES} == set(SCHEMA)


def test_generic_json_is_the_last_resort():
    """The generic type requires nothing, claims no logsource and comes after every other log type."""
    generic = SCHEMA["json"]
    assert generic.required == () and generic.logsources == ()
    assert all(generic.priority > schema.priority for name, schema in SCHEMA.items() if name != "json")


def test_the_new_log_types_are_tried_after_the_common_ones():
    """Issue 13's log types that parse differently from the types before them come after those (so their
    payloads are not parsed again for them); Security Hub still before the generic EventBridge envelope."""
    late = {"azure_signin", "azure_audit", "azure_risk", "azure_activity", "gcp_audit", "bitbucket_audit", "m365_audit", "fortigate", "cisco_ios",
            "onelogin", "duo_auth",
            "aws_waf", "route53_resolver", "alb_access"}  # fmt: skip
    common = {"cloudtrail", "windows", "okta", "zeek_dns", "vpc_flow", "webserver_access", "auditd", "linux_syslog"}
    assert min(SCHEMA[name].priority for name in late) > max(SCHEMA[name].priority for name in common)
    assert SCHEMA["securityhub_finding"].priority < SCHEMA["cloudwatch_events"].priority
    assert SCHEMA["aws_config_change"].priority < SCHEMA["cloudwatch_events"].priority


def test_windows_process_creation_maps_sysmon_and_security_4688():
    """process_creation selects Sysmon EID 1 as is and Security 4688 with the Sysmon names renamed."""
    mappings = [m for m in SCHEMA["windows"].logsources if m.category == "process_creation"]
    record_4688 = {"Channel": "Security", "EventID": 4688}
    assert len(mappings) == 2
    sysmon, security = sorted(mappings, key=lambda m: bool(m.fields))
    assert sysmon.fields == ()
    assert (
        security.rename("Image") == "NewProcessName" and security.rename("ParentImage") == "ParentProcessName"
    )
    assert security.rename("CommandLine") == "CommandLine"
    assert eval_expr(security.when, record_4688) and not eval_expr(sysmon.when, record_4688)


def test_guardduty_event_renames_every_finding_field_under_detail():
    """A rule written against raw finding fields reads the same data from an EventBridge delivery, paths
    below the finding's untyped parts included (field_prefix)."""
    mapping = next(m for m in SCHEMA["guardduty_event"].logsources if m.service == "guardduty")
    assert {name: mapping.rename(name) for name in SCHEMA["guardduty"].fields} == {
        name: f"detail.{name}" for name in SCHEMA["guardduty"].fields
    }
    assert mapping.rename("service.additionalInfo.value") == "detail.service.additionalInfo.value"


def test_field_prefix_yields_to_explicit_renames(tmp_path):
    """`fields` renames win over `field_prefix`; a prefix that is not text is S008."""
    (tmp_path / "x.yml").write_text(
        "name: x\nparser: {type: json}\nlogsources:\n"
        "  - {product: p, field_prefix: 'detail.', fields: {source: source}}\n"
        "  - {product: q, field_prefix: [detail]}\n"
    )
    loaded = load_schemas(str(tmp_path))
    (mapping,) = loaded.schemas["x"].logsources
    assert (mapping.rename("source"), mapping.rename("type"), mapping.renames) == ("source", "detail.type", True)
    assert [(d.code, d.message) for d in loaded.diagnostics] == [
        ("S008", "a logsource's 'field_prefix' must be a path prefix such as 'detail.'")
    ]


# --- samples: parse and classify ---------------------------------------------------------------------


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_parses_with_its_log_types_parser(sample):
    """The runtime parser configured by the schema turns the sample into records, one per line for text logs."""
    schema = SCHEMA[sample.parent.name]
    records = parsers.parse(sample.read_bytes(), schema.parser)
    assert records and all(isinstance(record, dict) for record in records)
    if schema.parser["type"] != "json":
        assert len(records) == len(sample.read_bytes().splitlines())
    for record in records:
        assert [path for path in schema.required if get_field(record, path) is MISSING] == [], record


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_sample_classifies_as_its_own_log_type(sample):
    """Among all shipped log types, every record of the sample goes to the log type it is a sample of."""
    found = set()
    for payload in payloads(sample):
        result = classifier().classify_payload(payload)
        assert result.error is None, result.error
        found |= {classification.log_type or classification.reason for _, classification in result.records}
    assert found == {sample.parent.name}


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_parsed_records_classify_as_their_log_type(sample):
    """Records already parsed (e.g. replayed from JSON lines) are accepted by their log type's checks too."""
    schema = SCHEMA[sample.parent.name]
    for record in parsers.parse(sample.read_bytes(), schema.parser):
        assert classifier().classify(record, among=[schema.name]).log_type == schema.name


def test_dashes_in_text_logs_leave_fields_out():
    """A "-" (no value) in flow and access logs is an absent field, so the typed fields still coerce."""
    nodata = (SAMPLES / "vpc_flow" / "cloudwatch_lines.log").read_bytes().splitlines()[2]
    ((record, found),) = classifier().classify_payload(nodata).records
    assert found.log_type == "vpc_flow" and record["log_status"] == "NODATA"
    assert "srcaddr" not in record and "action" not in record and record["version"] == 2
    anonymous = (SAMPLES / "s3_access" / "access.log").read_bytes().splitlines()[2]
    ((record, found),) = classifier().classify_payload(anonymous).records
    assert found.log_type == "s3_access" and "requester" not in record and "referer" not in record
    assert (record["http_status"], record["bytes_sent"]) == (200, 7340032)


def test_auditd_enriched_lines_keep_their_interpreted_fields():
    """log_format = ENRICHED puts 0x1D before the interpreted fields: one record, every field its own."""
    records = parsers.parse((SAMPLES / "auditd" / "enriched.log").read_bytes(), SCHEMA["auditd"].parser)
    assert len(records) == 5
    syscall = records[0]
    assert (syscall["key"], syscall["SYSCALL"], syscall["AUID"], syscall["ARCH"]) == ("immutable", "execve", "alice", "x86_64")
    assert (records[3]["cap_frootid"], records[3]["OUID"]) == ("0", "root")


def test_windows_evtx_user_data_and_spaced_names_read_as_sigma_fields():
    """UserData's one element holds the event data (Security 1102); `Threat Name` reads as ThreatName."""
    records = parsers.parse((SAMPLES / "windows" / "evtx_channels.json").read_bytes(), SCHEMA["windows"].parser)
    cleared, defender = records[2], records[3]
    assert (cleared["EventID"], cleared["SubjectUserName"], cleared["SubjectDomainName"]) == (1102, "Administrator", "CORP")
    assert "LogFileCleared" not in cleared
    assert (defender["ThreatName"], defender["SourceName"]) == ("HackTool:Win32/Mimikatz.D", "AMSI")
    assert not [key for key in defender if " " in key]


# issue 13's new log types: (sample, record index, path to drop, path to mistype, bad value, reason of the mistype)
BAD_INPUT = [
    ("azure_signin/eventhub.json", 1, "category", "resultType", "fifty", "resultType 'fifty' is not an integer"),
    ("azure_audit/storage.jsonl", 0, "properties", "durationMs", "slow", "durationMs 'slow' is not an integer"),
    ("azure_risk/eventhub.json", 0, "operationName", "Level", "high", "Level 'high' is not an integer"),
    ("gcp_audit/sink.jsonl", 0, "insertId", "timestamp", True, "timestamp True is not a timestamp"),
    ("bitbucket_audit/audit.log", 0, "author", "timestamp.nano", "many", "timestamp.nano 'many' is not an integer"),
    ("route53_resolver/firehose.log", 0, "srcaddr", "srcport", "high", "srcport 'high' is not an integer"),
    ("m365_audit/content_blob.json", 0, "OrganizationId", "RecordType", "eight", "RecordType 'eight' is not an integer"),
    ("fortigate/syslog.log", 1, "devid", "dstport", "https", "dstport 'https' is not an integer"),
    ("onelogin/events_api.json", 0, "account_id", "event_type_id", "three", "event_type_id 'three' is not an integer"),
    ("duo_auth/admin_api.json", 0, "txid", "timestamp", True, "timestamp True is not a timestamp"),
    ("aws_waf/firehose.log", 0, "webaclId", "httpRequest.clientIp", "not-an-ip", "httpRequest.clientIp 'not-an-ip' is not an IP address"),
    ("securityhub_finding/eventbridge.json", 0, "GeneratorId", "Severity.Normalized", "high", "Severity.Normalized 'high' is not an integer"),
]  # fmt: skip


def _set(record: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for key in parents:
        record = record[key]
    if value is MISSING:
        del record[last]
    else:
        record[last] = value


@pytest.mark.parametrize(("sample", "index", "drop", "path", "value", "reason"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_a_new_log_types_record_missing_or_mistyping_a_field_is_refused_with_the_reason(sample, index, drop, path, value, reason):
    """Without a required field, or with a value its type refuses, the record is not of the type, and the
    classifier says why (the Lambda quarantines it with that reason, or reads it as generic json)."""
    log_type = Path(sample).parent.name
    record = parsers.parse((SAMPLES / sample).read_bytes(), SCHEMA[log_type].parser)[index]
    assert classifier().classify(record, among=[log_type]).log_type == log_type
    missing = json.loads(json.dumps(record))
    _set(missing, drop, MISSING)
    found = classifier().classify(missing, among=[log_type])
    assert found.log_type is None and found.reasons[log_type] == f"{log_type} lacks {drop}"
    mistyped = json.loads(json.dumps(record))
    _set(mistyped, path, value)
    found = classifier().classify(mistyped, among=[log_type])
    assert found.log_type is None and reason in found.reasons[log_type]
    assert classifier().classify_payload(json.dumps(mistyped).encode()).records[0][1].log_type != log_type


def test_osquery_snapshot_rows_carry_their_query():
    """Each snapshot row is a record with the query's name and host under `osquery`."""
    rows = parsers.parse(
        (SAMPLES / "osquery_snapshot" / "results.log").read_bytes(), SCHEMA["osquery_snapshot"].parser
    )
    assert [row["name"] for row in rows] == ["sshd", "kworkerds"]
    assert {row["osquery"]["name"] for row in rows} == {"pack_hunting_processes"}
    assert {row["osquery"]["hostIdentifier"] for row in rows} == {"web-01.example.com"}


# --- the Sigma corpus against the schemas ------------------------------------------------------------

# folder: (rules, compiled, {logsource without a log type: rules}, {(log type, field): rules} for E060)
CORPUS = {
    "linux": (210, 210, {}, {}),  # auditd, syslog, Sysmon for Linux
    # squid_access has no cookie and no upstream address
    "web": (45, 43, {}, {("squid_access", "cs-cookie"): 1, ("squid_access", "dst_ip"): 1}),
    "identity/okta": (21, 21, {}, {}),
    # the rule tests `status: success`, which no CloudTrail record has
    "cloud/aws": (57, 56, {}, {("cloudtrail", "status"): 1}),
    # the rule tests `blocked: "false"` besides `action`; flow logs have no such field
    "application/kubernetes": (16, 16, {}, {}),
    "application/github": (15, 15, {}, {}),
    "application/opencanary": (24, 24, {}, {}),
    "application/rpc_firewall": (17, 17, {}, {}),
    "network/zeek": (21, 21, {}, {}),
    "network/dns": (7, 7, {}, {}),
    "network/firewall": (1, 0, {}, {("vpc_flow", "blocked"): 1}),
    # Entra ID exports; PIM alerts are not in any diagnostic-settings export
    "cloud/azure": (123, 116, {"product=azure service=pim": 7}, {}),
    # osquery es_process_events; macOS has no OriginalFileName, file events are not mapped
    "cloud/gcp/audit": (16, 16, {}, {}),
    "cloud/m365/audit": (4, 4, {}, {}),
    # Sigma's antivirus category on Microsoft Defender's detection events
    "category/antivirus": (8, 8, {}, {}),
    "network/fortinet": (7, 7, {}, {}),
    "network/cisco": (15, 15, {}, {}),
    "identity/onelogin": (2, 2, {}, {}),
    "identity/cisco_duo": (1, 1, {}, {}),
    # Workspace entries shared with Cloud Logging; setting_name and new_value are parameter values, not
    # fields, and one rule misspells serviceName
    "cloud/gcp/gworkspace": (10, 7, {}, {("gcp_audit", "setting_name"): 1, ("gcp_audit", "new_value"): 1,
                                         ("gcp_audit", "protoPayload.Servicename"): 1}),
    "application/bitbucket": (14, 14, {}, {}),
    "macos": (69, 66, {"product=macos category=file_event": 2}, {("osquery_differential", "OriginalFileName"): 1}),
}  # fmt: skip
# rule-language warnings of a folder's rules, unrelated to the schemas
RULE_WARNINGS = {"macos": {"W036"}}  # a search identifier with modifiers on a keyword list
# folder: the W062 found, each a bug in the rule itself: the Kubernetes audit `responseStatus.code` is the
# HTTP status (an integer), so the rule's `responseStatus.code: 'ALLOW'` never matches.
NEVER_EQUAL = {
    "application/kubernetes": ["'responseStatus.code' holds whole numbers: it can never equal 'ALLOW'"],
}
UNMAPPED = re.compile(r"logsource (.+) maps to no log type")
UNKNOWN = re.compile(r"field '(.+)' is not in log type '(.+)'")


@needs_sigma
@pytest.mark.parametrize("folder", list(CORPUS))
def test_corpus_rules_compile_against_the_schemas(folder):
    """Every rule of the folder compiles unless its logsource has no log type or it tests a field a strict type lacks."""
    rules, compiled, unmapped, unknown = CORPUS[folder]
    result, schemas = plan([str(SIGMA / folder)], str(SCHEMAS))
    codes = Counter(d.code for d in result.diagnostics)
    print(
        f"{folder}: {len(result.rules)} rules, {result.compiled_rule_count} compiled, diagnostics {dict(codes)}"
    )
    missing = Counter(UNMAPPED.match(d.message)[1] for d in result.diagnostics if d.code == "E061")
    errors_060 = Counter(UNKNOWN.match(d.message).group(2, 1) for d in result.diagnostics if d.code == "E060")
    assert (len(result.rules), result.compiled_rule_count) == (rules, compiled)
    assert dict(missing) == unmapped
    assert dict(errors_060) == unknown
    assert [d.message for d in result.diagnostics if d.code == "W062"] == NEVER_EQUAL.get(folder, [])
    allowed = {"E060", "E061", "W060", "W062"} | RULE_WARNINGS.get(folder, set())
    assert set(codes) <= allowed, [str(d) for d in result.diagnostics if d.code not in allowed]
    strict = {name for name, schema in schemas.schemas.items() if schema.strict_fields}
    assert all(log_type in strict for log_type, _ in errors_060)


# --- rules firing on the samples ---------------------------------------------------------------------


def _rule_yaml(logsource: dict, selection: dict) -> str:
    rule = {"title": "sample check", "id": str(uuid.uuid4()), "logsource": logsource,
            "detection": {"selection": selection, "condition": "selection"}, "level": "high"}  # fmt: skip
    return yaml.safe_dump(rule, sort_keys=False)


# log type: (logsource, selection, {sample file: indexes of the events that fire})
GUARDDUTY_RULE = (
    {"product": "aws", "service": "guardduty"},
    {
        "type|startswith": "UnauthorizedAccess:IAMUser/",
        "service.action.awsApiCallAction.remoteIpDetails.ipAddressV4|cidr": "198.51.100.0/24",
    },
)
FIRING = {
    "cloudtrail": ({"product": "aws", "service": "cloudtrail"},
                   {"eventName": "StopLogging", "userIdentity.type": "IAMUser"}, {"s3_object.json": [0]}),
    "windows": ({"product": "windows", "category": "process_creation"}, {"Image|endswith": "\\whoami.exe"},
                {"sysmon_process_creation.json": [0], "security_4688.json": [0], "evtx_channels.json": []}),
    # one rule for both GuardDuty layouts: the EventBridge one reads the finding through the renames
    "guardduty": (*GUARDDUTY_RULE, {"export.jsonl": [0]}),
    "guardduty_event": (*GUARDDUTY_RULE, {"eventbridge.json": [0]}),
    "cloudwatch_events": ({"product": "aws", "service": "eventbridge"},
                          {"detail-type": "AWS API Call via CloudTrail", "detail.userIdentity.type": "Root"},
                          {"cloudtrail_api_call.json": [0], "ec2_state_change.json": []}),
    "okta": ({"product": "okta", "service": "okta"},
             {"eventType": "user.session.start", "outcome.result": "FAILURE", "client.ipAddress|cidr": "203.0.113.0/24"},
             {"system_log.jsonl": [0], "event_hook.json": []}),
    "osquery_differential": ({"product": "osquery", "service": "differential"},
                             {"action": "added", "columns.command|contains": "| bash"},
                             {"results.log": [0], "es_process_events.log": []}),
    "azure_signin": ({"product": "azure", "service": "signinlogs"},
                     {"ResultType": 50126, "ClientApp": "IMAP4", "properties.status.errorCode": 50126},
                     {"eventhub.json": [0]}),
    "azure_audit": ({"product": "azure", "service": "auditlogs"},
                    {"Category": "GroupManagement", "TargetResources.modifiedProperties.newValue|contains": "Finance"},
                    {"storage.jsonl": [1]}),
    "azure_activity": ({"product": "azure", "service": "activitylogs"},
                       {"CategoryValue": "Administrative", "resultType": "Start", "properties.message|endswith": "/start/action"},
                       {"storage.jsonl": [1]}),
    "gcp_audit": ({"product": "gcp", "service": "gcp.audit"},
                  {"protoPayload.authenticationInfo.principalEmail": "alice@example.com", "resource.type": "gcs_bucket"},
                  {"sink.jsonl": [1], "workspace.jsonl": []}),
    "bitbucket_audit": ({"product": "bitbucket", "service": "audit"},
                        {"auditType.category": "Projects", "author.name": "alice"}, {"audit.log": [1]}),
    "aws_waf": ({"product": "aws", "service": "waf"},
                {"action": "BLOCK", "httpRequest.args|contains": "UNION", "httpRequest.clientIp|cidr": "203.0.113.0/24"},
                {"firehose.log": [0]}),
    "securityhub_finding": ({"product": "aws", "service": "securityhub"},
                            {"Severity.Label": "HIGH", "Compliance.Status": "FAILED", "Resources.Type": "AwsS3Bucket"},
                            {"eventbridge.json": [0]}),
    "aws_config_change": ({"product": "aws", "service": "config"},
                          {"detail.configurationItem.resourceType": "AWS::EC2::SecurityGroup",
                           "detail.configurationItem.configuration.ipPermissions.ipRanges": "0.0.0.0/0"},
                          {"eventbridge.json": [0]}),
    "route53_resolver": ({"product": "aws", "service": "route53resolver"},
                         {"query_name|endswith": ".telegram.org.", "srcids.instance|startswith": "i-"},
                         {"firehose.log": [0]}),
    "alb_access": ({"product": "aws", "service": "alb"}, {"elb_status_code": 301, "redirect_url|startswith": "https://"},
                   {"access.log": [1]}),
    "m365_audit": ({"product": "m365", "service": "audit"}, {"Operation": "UserLoggedIn", "RequestType|startswith": "OAuth2"},
                   {"content_blob.json": [1]}),
    "fortigate": ({"product": "fortigate"}, {"type": "traffic", "dstport": 443, "dstip|cidr": "198.51.100.0/24"},
                  {"syslog.log": [1]}),
    "cisco_ios": ({"product": "cisco", "service": "bgp"}, {"tag": "TCP-6-BADAUTH", "message|contains": "(179)"},
                  {"syslog.log": [2]}),
    "onelogin": ({"product": "onelogin", "service": "onelogin.events"}, {"event_type_id": 5, "app_name": "Salesforce"},
                 {"events_api.json": [0]}),
    "duo_auth": ({"product": "cisco", "service": "duo"}, {"factor": "duo_push", "user.name": "alice"},
                 {"admin_api.json": [0]}),
    "azure_risk": ({"product": "azure", "service": "riskdetection"}, {"riskEventType": "leakedCredentials"},
                   {"eventhub.json": [0]}),
    "json": ({"product": "example"}, {"level": "warn", "msg|contains": "declined"}, {"app_events.jsonl": [0]}),
    "osquery_snapshot": ({"product": "osquery", "service": "snapshot"},
                         {"osquery.name": "pack_hunting_processes", "cmdline|contains": "stratum+tcp://"},
                         {"results.log": [0]}),  # its one line holds every row; the second fires
    "vpc_flow": ({"product": "aws", "service": "vpcflowlogs"}, {"dstport": 3389, "action": "REJECT"},
                 {"cloudwatch_lines.log": [1]}),
    "s3_access": ({"product": "aws", "service": "s3accesslogs"}, {"operation": "REST.GET.OBJECT", "http_status": 403},
                  {"access.log": [3]}),
    "webserver_access": ({"category": "webserver"}, {"request_uri|contains": "../../"},
                         {"nginx_access.log": [1], "apache_access.log": []}),
    "nginx_error": ({"service": "nginx"}, {"level": "alert", "message|contains": "core dumped"}, {"error.log": [1]}),
    "apache_error": ({"service": "apache"}, {"module": "core", "message|contains": "exit signal"}, {"error.log": [1]}),
    "linux_syslog": ({"product": "linux", "service": "sudo"}, {"application": "sudo", "message|contains": "USER=root"},
                     {"auth.log": [4], "rfc5424.log": [1]}),
    "opencanary": ({"product": "opencanary", "category": "application"}, {"logtype": 4002, "logdata.USERNAME": "root"},
                   {"opencanary.log": [1]}),
    "zeek_dns": ({"category": "dns"}, {"query|endswith": ".onion.to", "record_type": "A"}, {"dns.log": [0]}),
    "zeek_http": ({"product": "zeek", "service": "http"}, {"c-uri|endswith": ".exe", "cs-method": "PUT"}, {"http.log": [0]}),
    "zeek_smb_files": ({"product": "zeek", "service": "smb_files"}, {"name|endswith": "-stdin"}, {"smb_files.log": [0]}),
    "zeek_dce_rpc": ({"product": "zeek", "service": "dce_rpc"}, {"endpoint": "epmapper"}, {"dce_rpc.log": [1]}),
    "zeek_kerberos": ({"product": "zeek", "service": "kerberos"}, {"id.resp_p": 88, "cipher|startswith": "aes"},
                      {"kerberos.log": [1]}),
    "zeek_x509": ({"product": "zeek", "service": "x509"}, {"certificate.key_length|lt": 4096}, {"x509.log": [0]}),
    "zeek_rdp": ({"product": "zeek", "service": "rdp"}, {"id.orig_h|cidr": "198.51.100.0/24", "cookie": "administr"},
                 {"rdp.log": [0]}),
    "github_audit": ({"product": "github", "service": "audit"}, {"action": "repo.destroy", "visibility": "private"},
                     {"stream.jsonl": [0]}),
    "kubernetes_audit": ({"product": "kubernetes", "service": "audit"}, {"user.username": "system:anonymous", "objectRef.resource": "secrets"},
                         {"eks_audit.jsonl": [2]}),
    "squid_access": ({"category": "proxy"}, {"cs-method": "CONNECT", "cs-host|endswith": ".telegram.org", "sc-status": 200},
                     {"access.log": [1]}),
    "sysmon_linux": ({"product": "linux", "category": "process_creation"}, {"ParentCommandLine|contains": "| base64 -d | bash"},
                     {"syslog.log": [0]}),
    "auditd": ({"product": "linux", "service": "auditd"}, {"type": "EXECVE", "a0": "chattr", "a1|contains": "-i"},
               {"audit.log": [8], "enriched.log": [1]}),
}  # fmt: skip


def run_replay(args: list[str]) -> list[dict]:
    out = io.StringIO()
    with redirect_stdout(out):
        status = sigil(["replay", *args])
    assert status == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_every_log_type_has_a_firing_rule():
    """The firing checks below cover every log type and every sample file."""
    assert set(FIRING) == set(SCHEMA)
    assert {(lt, name) for lt, (_, _, files) in FIRING.items() for name in files} == {
        (path.parent.name, path.name) for path in SAMPLE_FILES
    }


@pytest.mark.parametrize("log_type", list(FIRING))
def test_a_rule_fires_on_its_sample_through_replay(log_type, tmp_path, monkeypatch):
    """`sigil replay` fires the rule on exactly the expected events, tagged with the sample's log type.

    Every sample is replayed as it is: replay reads, parses and classifies it as the Lambda would (text
    logs line by line); the generic type, which no logsource reaches, with --log-type.
    """
    logsource, selection, files = FIRING[log_type]
    rule = tmp_path / "rule.yml"
    rule.write_text(_rule_yaml(logsource, selection))
    monkeypatch.chdir(ROOT)
    for name, expected in files.items():
        alerts = run_replay(
            ["--rules", str(rule), *replay_args(SAMPLES / log_type / name, SCHEMA[log_type])]
        )
        assert sorted(a["event_index"] for a in alerts) == expected, name
        assert {a["log_type"] for a in alerts} <= {log_type}


# (corpus rule, sample, indexes of the sample's records that fire)
CORPUS_FIRING = [
    ("cloud/aws/cloudtrail/aws_cloudtrail_disable_logging.yml", "cloudtrail/s3_object.json", [0]),
    ("windows/process_creation/proc_creation_win_whoami_priv_discovery.yml", "windows/sysmon_process_creation.json", [0]),
    ("windows/process_creation/proc_creation_win_whoami_priv_discovery.yml", "windows/security_4688.json", []),
    ("windows/process_creation/proc_creation_win_whoami_all_execution.yml", "windows/security_4688.json", [0]),
    # evtx layout: other channels, `Source Name` read as Sigma's SourceName
    ("windows/builtin/dns_client/win_dns_client_mega_nz.yml", "windows/evtx_channels.json", [0]),
    ("windows/builtin/windefend/win_defender_malware_detected_amsi_source.yml", "windows/evtx_channels.json", [3]),
    ("windows/builtin/security/win_security_audit_log_cleared.yml", "windows/evtx_channels.json", [2]),
    # Sigma's antivirus category: Defender's ThreatName read as Signature
    ("category/antivirus/av_hacktool.yml", "windows/evtx_channels.json", [3]),
    # RPC Firewall audits into the Application log; SigmaHQ's EventLog is its provider
    ("application/rpc_firewall/rpc_firewall_efs_abuse.yml", "windows/evtx_channels.json", [4]),
    ("application/opencanary/opencanary_ftp_login_attempt.yml", "opencanary/opencanary.log", [0]),
    ("application/opencanary/opencanary_ssh_new_connection.yml", "opencanary/opencanary.log", []),
    ("identity/okta/okta_policy_modified_or_deleted.yml", "okta/system_log.jsonl", [1]),
    ("identity/okta/okta_policy_modified_or_deleted.yml", "okta/event_hook.json", [0]),
    ("identity/okta/okta_user_session_start_via_anonymised_proxy.yml", "okta/system_log.jsonl", [0]),
    # target.displayName reads through Okta's list of targets
    ("identity/okta/okta_new_behaviours_admin_console.yml", "okta/system_log.jsonl", [2]),
    ("web/webserver_generic/web_path_traversal_exploitation_attempt.yml", "webserver_access/nginx_access.log", [1]),
    ("web/webserver_generic/web_f5_tm_utility_bash_api_request.yml", "webserver_access/apache_access.log", [1]),
    ("web/product/nginx/web_nginx_core_dump.yml", "nginx_error/error.log", [1]),
    ("web/product/apache/web_apache_segfault.yml", "apache_error/error.log", [1]),
    ("linux/builtin/lnx_privileged_user_creation.yml", "linux_syslog/auth.log", [6]),
    ("linux/builtin/sshd/lnx_sshd_susp_ssh.yml", "linux_syslog/rfc5424.log", [0]),
    ("linux/auditd/syscall/lnx_auditd_create_account.yml", "auditd/audit.log", [6]),
    ("linux/auditd/execve/lnx_auditd_chattr_immutable_removal.yml", "auditd/audit.log", [8]),
    ("linux/auditd/execve/lnx_auditd_chattr_immutable_removal.yml", "auditd/enriched.log", [1]),
    # Zeek JSON logs
    ("network/zeek/zeek_dns_torproxy.yml", "zeek_dns/dns.log", [0]),
    ("network/zeek/zeek_http_webdav_put_request.yml", "zeek_http/http.log", [0]),
    ("network/zeek/zeek_http_executable_download_from_webdav.yml", "zeek_http/http.log", [0]),
    ("network/zeek/zeek_smb_converted_win_susp_psexec.yml", "zeek_smb_files/smb_files.log", [0]),
    ("network/zeek/zeek_dce_rpc_potential_petit_potam_efs_rpc_call.yml", "zeek_dce_rpc/dce_rpc.log", [0]),
    ("network/zeek/zeek_susp_kerberos_rc4.yml", "zeek_kerberos/kerberos.log", [0]),
    ("network/zeek/zeek_default_cobalt_strike_certificate.yml", "zeek_x509/x509.log", [0]),
    ("network/zeek/zeek_rdp_public_listener.yml", "zeek_rdp/rdp.log", [0]),
    ("application/github/audit/github_delete_action_invoked.yml", "github_audit/stream.jsonl", [0]),
    ("application/github/audit/github_disable_high_risk_configuration.yml", "github_audit/stream.jsonl", [1]),
    # Kubernetes audit (EKS): hostPath and capabilities read the pod spec of the request
    ("application/kubernetes/audit/kubernetes_audit_exec_into_container.yml", "kubernetes_audit/eks_audit.jsonl", [0]),
    ("application/kubernetes/audit/kubernetes_audit_secrets_enumeration.yml", "kubernetes_audit/eks_audit.jsonl", [1]),
    ("application/kubernetes/audit/kubernetes_audit_unauthorized_unauthenticated_actions.yml", "kubernetes_audit/eks_audit.jsonl", [2]),
    ("application/kubernetes/audit/kubernetes_audit_hostpath_mount.yml", "kubernetes_audit/eks_audit.jsonl", [3]),
    ("application/kubernetes/audit/kubernetes_audit_privileged_pod_creation.yml", "kubernetes_audit/eks_audit.jsonl", [3]),
    # Squid as Sigma's proxy: c-uri is the whole URL, c-uri-extension the path's
    ("web/proxy_generic/proxy_raw_paste_service_access.yml", "squid_access/access.log", [0]),
    ("web/proxy_generic/proxy_ua_bitsadmin_susp_tld.yml", "squid_access/access.log", [2]),
    ("web/proxy_generic/proxy_download_susp_tlds_blacklist.yml", "squid_access/access.log", [2]),
    ("web/proxy_generic/proxy_telegram_api.yml", "squid_access/access.log", [1]),
    # Entra ID and Azure Activity exports (Log Analytics column names renamed to the exported paths)
    ("cloud/azure/signin_logs/azure_ad_azurehound_discovery.yml", "azure_signin/eventhub.json", [0]),
    ("cloud/azure/audit_logs/azure_ad_bitlocker_key_retrieval.yml", "azure_audit/storage.jsonl", [0]),
    ("cloud/azure/activity_logs/azure_keyvault_secrets_modified_or_deleted.yml", "azure_activity/storage.jsonl", [0]),
    ("cloud/azure/identity_protection/azure_identity_protection_unfamilar_sign_in.yml", "azure_risk/eventhub.json", [0]),
    # Google Cloud audit entries from a log sink; Bitbucket Data Center audit files
    ("cloud/gcp/audit/gcp_firewall_rule_modified_or_deleted.yml", "gcp_audit/sink.jsonl", [0]),
    ("cloud/gcp/audit/gcp_bucket_enumeration.yml", "gcp_audit/sink.jsonl", [1]),
    ("cloud/gcp/gworkspace/admin/gcp_gworkspace_user_granted_admin_privileges.yml", "gcp_audit/workspace.jsonl", [0]),
    ("cloud/gcp/gworkspace/login/gcp_gworkspace_govattack.yml", "gcp_audit/workspace.jsonl", [1]),
    ("cloud/gcp/audit/gcp_bucket_enumeration.yml", "gcp_audit/workspace.jsonl", []),
    ("application/bitbucket/audit/bitbucket_audit_unauthorized_access_detected.yml", "bitbucket_audit/audit.log", [0]),
    # ALB access logs as Sigma's webserver category
    ("web/webserver_generic/web_f5_tm_utility_bash_api_request.yml", "alb_access/access.log", [0]),
    # Microsoft 365 unified audit log, a Management Activity API content blob
    ("cloud/m365/audit/microsoft365_disabling_mfa.yml", "m365_audit/content_blob.json", [0]),
    # FortiGate key=value logs
    ("network/fortinet/fortigate/fortinet_fortigate_new_admin_account_created.yml", "fortigate/syslog.log", [0]),
    # Cisco IOS syslog: command accounting searched by keywords
    ("network/cisco/aaa/cisco_cli_collect_data.yml", "cisco_ios/syslog.log", [0]),
    ("network/cisco/aaa/cisco_cli_disable_logging.yml", "cisco_ios/syslog.log", [1]),
    # OneLogin Events API, Duo Admin API authentication logs
    ("identity/onelogin/onelogin_assumed_another_user.yml", "onelogin/events_api.json", [0]),
    ("identity/cisco_duo/cisco_duo_mfa_bypass_via_bypass_code.yml", "duo_auth/admin_api.json", [0]),
    # macOS: osquery es_process_events rows
    ("macos/process_creation/proc_creation_macos_csrutil_disable.yml", "osquery_differential/es_process_events.log", [0]),
    ("macos/process_creation/proc_creation_macos_csrutil_status.yml", "osquery_differential/es_process_events.log", [1]),
    # Sysmon for Linux, XML events in syslog lines
    ("linux/process_creation/proc_creation_lnx_base64_decode.yml", "sysmon_linux/syslog.log", [0]),
    ("linux/file_event/file_event_lnx_susp_cron_file_created.yml", "sysmon_linux/syslog.log", [2]),
    ("linux/network_connection/net_connection_lnx_susp_malware_callback_port.yml", "sysmon_linux/syslog.log", [3]),
]  # fmt: skip


@needs_sigma
@pytest.mark.parametrize("engine", ["interpreter", "compiled"])
@pytest.mark.parametrize(
    ("rule", "sample", "expected"), CORPUS_FIRING, ids=[f"{Path(r).stem}-{s}" for r, s, _ in CORPUS_FIRING]
)
def test_corpus_rule_fires_on_sample_through_the_mapping(rule, sample, expected, engine, tmp_path):
    """As in the Lambda: the runtime classifier picks the log type, the logsource mapping (renames, conditions) applies."""
    result, schemas = plan([str(SIGMA / rule)], str(SCHEMAS))
    assert not result.errors, [str(d) for d in result.errors]
    matchers = Matchers(result.compiled, engine)
    if engine == "compiled":
        matchers.modules = load_compiled(result, schemas, tmp_path)
    records = [
        (record, c.log_type)
        for payload in payloads(SAMPLES / sample)
        for record, c in classifier().classify_payload(payload).records
    ]
    assert {log_type for _, log_type in records} == {Path(sample).parent.name}
    fired = [index for index, (record, log_type) in enumerate(records) if matchers.match(log_type, record)]
    assert fired == expected


@needs_sigma
@pytest.mark.parametrize("engine", ["interpreter", "compiled"])
def test_forced_log_type_keeps_the_logsource_field_renames(engine, tmp_path, monkeypatch):
    """`--log-type windows` drops the logsource's condition but not its renames: a Sigma process_creation
    rule (Image, CommandLine) fires on a Security 4688 event (NewProcessName, CommandLine)."""
    monkeypatch.chdir(ROOT)
    rule = SIGMA / "windows/process_creation/proc_creation_win_whoami_all_execution.yml"
    args = ["--rules", str(rule), "--engine", engine, "--log-type", "windows", str(SAMPLES / "windows" / "security_4688.json")]
    assert [(a["event_index"], a["log_type"]) for a in run_replay(args)] == [(0, "windows")]


def test_replay_names_the_record_within_its_event(tmp_path, monkeypatch):
    """An event holding several records (an osquery snapshot's rows) fires with the record's index."""
    logsource, selection, _ = FIRING["osquery_snapshot"]
    rule = tmp_path / "rule.yml"
    rule.write_text(_rule_yaml(logsource, selection))
    monkeypatch.chdir(ROOT)
    alerts = run_replay(["--rules", str(rule), str(SAMPLES / "osquery_snapshot" / "results.log")])
    assert [(a["event_index"], a["record_index"]) for a in alerts] == [(0, 1)]


# --- the worked example of docs/schemas.md -----------------------------------------------------------


def _doc_blocks(language: str) -> list[str]:
    text = (ROOT / "docs" / "schemas.md").read_text(encoding="utf-8").split("## Worked example", 1)[1]
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def test_worked_example_of_the_docs_holds(tmp_path, monkeypatch):
    """The documented GitHub audit schema loads cleanly, classifies the documented event and fires the documented rule."""
    schema_text, rule_text = _doc_blocks("yaml")
    (event_text,) = _doc_blocks("json")
    assert schema_text == (SCHEMAS / "github_audit.yml").read_text(encoding="utf-8"), "the docs show the shipped schema"
    schemas_dir = tmp_path / "schemas"
    schemas_dir.mkdir()
    for path in SCHEMAS.glob("*.yml"):
        (schemas_dir / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (schemas_dir / "github_audit.yml").write_text(schema_text)
    loaded = load_schemas(schemas_dir)
    assert loaded.diagnostics == []
    view = Classifier(loaded.runtime_view())
    assert [c.log_type for _, c in view.classify_payload(event_text.encode()).records] == ["github_audit"]
    (tmp_path / "rule.yml").write_text(rule_text)
    (tmp_path / "event.json").write_text(event_text)
    monkeypatch.chdir(ROOT)
    alerts = run_replay(
        ["--schemas", str(schemas_dir), "--rules", str(tmp_path / "rule.yml"), str(tmp_path / "event.json")]
    )
    assert [(a["log_type"], a["title"]) for a in alerts] == [("github_audit", "Private repository deleted")]
    if SIGMA.is_dir():
        result, _ = plan([str(SIGMA / "application" / "github")], str(schemas_dir))
        assert result.compiled_rule_count == len(result.rules) == 15 and result.diagnostics == []
