"""`sigil schemas import-streamalert`: StreamAlert's conf becomes loadable Sigil schemas and a source map."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from cli.main import main as sigil
from cli.streamalert.check import CheckResult, check
from cli.streamalert.importer import (
    HEADER,
    RUNTIME_GAPS,
    UnsupportedPath,
    import_conf,
    jmespath_records,
)
from compiler.schemas import load_schemas
from runtime.parsers import parse
from runtime.sources.source_map import SourceMap

ROOT = Path(__file__).resolve().parents[1]
STREAMALERT = ROOT.parent / "shared" / "streamalert"
CONF = STREAMALERT / "conf"
LOG_TYPES = 65  # docs/notes: 18 files, 65 log types (63 json, 2 csv)
SCHEMA_FILES = 18
# Records of the StreamAlert test events our runtime classifies as expected today; the misses are
# runtime gaps listed in the report (json_regex_key, CSV inside JSON) and are checked below.
CLASSIFIED_AT_LEAST = 88

pytestmark = pytest.mark.skipif(not CONF.is_dir(), reason="../shared/streamalert is not beside the project")


def import_streamalert(argv: list[str]) -> int:
    """`sigil schemas import-streamalert ARGV...`."""
    return sigil(["schemas", "import-streamalert", *argv])


def streamalert_logs() -> dict[str, dict[str, Any]]:
    """Every StreamAlert log entry by name, straight from conf/schemas."""
    logs: dict[str, dict[str, Any]] = {}
    for path in sorted((CONF / "schemas").glob("*.json")):
        logs.update(json.loads(path.read_text(encoding="utf-8")))
    return logs


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the command once over StreamAlert's conf; return the output directory."""
    out = tmp_path_factory.mktemp("streamalert") / "schemas"
    assert import_streamalert([str(CONF), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def schemas(imported: Path):
    return load_schemas(imported)


def test_imports_all_65_log_types_from_18_files(imported, capsys):
    """Every StreamAlert schema file becomes one YAML file, and every log type a schema document."""
    files = sorted(p.name for p in imported.glob("*.yml"))
    names = [doc["name"] for p in imported.glob("*.yml") for doc in yaml.safe_load_all(p.read_text())]
    with capsys.disabled():
        print(f"\nimported {len(names)} StreamAlert log types from {len(files)} files")
    assert files == sorted(p.stem + ".yml" for p in (CONF / "schemas").glob("*.json"))
    assert len(files) == SCHEMA_FILES
    assert len(names) == LOG_TYPES
    assert sorted(names) == sorted(streamalert_logs())


def test_imported_schemas_load_without_errors(schemas):
    """compiler.schemas reads the output with zero error diagnostics and finds all 65 log types."""
    assert [d for d in schemas.diagnostics if d.is_error] == []
    assert sorted(schemas.schemas) == sorted(streamalert_logs())


def test_each_schema_says_where_it_was_imported_from(imported):
    """Every document starts with the import header naming its StreamAlert file and log type."""
    text = (imported / "duo.yml").read_text()
    documents = text.split("---\n")
    assert len(documents) == 2
    for document, name in zip(documents, ["duo:administrator", "duo:authentication"], strict=True):
        assert document.startswith(f"{HEADER} conf/schemas/duo.json, log type {name},")


def test_output_is_deterministic(imported, tmp_path):
    """A second import writes byte-identical files."""
    again = tmp_path / "again"
    assert import_streamalert([str(CONF), "--out", str(again)]) == 0
    first = {p.name: p.read_bytes() for p in imported.iterdir()}
    assert first == {p.name: p.read_bytes() for p in again.iterdir()}


def test_cloudtrail_events_keeps_records_path_and_optional_keys(schemas):
    """cloudtrail:events reads Records[*]; only the keys StreamAlert does not mark optional are required."""
    source = streamalert_logs()["cloudtrail:events"]
    optional = set(source["configuration"]["optional_top_level_keys"])
    schema = schemas.schemas["cloudtrail:events"]
    assert schema.parser == {"type": "json", "records": "Records[*]"}
    assert set(schema.required) == set(source["schema"]) - optional
    assert "eventName" in schema.required and "errorCode" not in schema.required
    assert schema.fields["readOnly"] == "boolean"
    assert schema.fields["requestParameters"] == "any"  # StreamAlert's {} checks nothing
    assert schema.fields["resources"] == "list"


def test_csv_columns_follow_schema_order(schemas):
    """A CSV schema's columns are its StreamAlert keys in order, with its quote and escape characters."""
    source = streamalert_logs()["cloudwatch:rds_aurora"]
    parser = schemas.schemas["cloudwatch:rds_aurora"].parser
    assert parser["columns"] == list(source["schema"])
    assert parser["columns"][:3] == ["timestamp", "serverhost", "username"]
    assert (parser["quotechar"], parser["escapechar"]) == ("'", "\\")
    assert parser["records"] == "logEvents[*].message"


def test_nested_csv_becomes_nested_columns(schemas):
    """pan's CSV message column, itself CSV, lists its own columns under nested_columns."""
    parser = schemas.schemas["pan"].parser
    assert parser["columns"][-1] == "message"
    assert parser["nested_columns"]["message"] == list(streamalert_logs()["pan"]["schema"]["message"])


def test_nested_maps_become_object_fields(schemas):
    """A non-empty map is an object whose keys StreamAlert requires; nested types reach the runtime view."""
    gsuite = schemas.schemas["gsuite:reports"]
    assert gsuite.fields["id"] == "object"
    assert "id.uniqueQualifier" in gsuite.required
    assert gsuite.runtime_view()["fields"]["id.uniqueQualifier"] == "integer"


def test_log_patterns_become_classify_patterns(schemas):
    """log_patterns turn into patterns, nested ones and StreamAlert's envelope key as dotted paths."""
    assert schemas.schemas["carbonblack:ingress.event.procstart"].patterns == {"type": ("ingress.event.procstart",)}
    assert schemas.schemas["streamquery:version1"].patterns == {"streamquery_schema_version": ("1.*.*",)}
    control = schemas.schemas["cloudwatch:control_message"]
    assert control.patterns == {"envelope.messageType": ("CONTROL_MESSAGE",)}
    assert control.parser["envelope_keys"] == ["logGroup", "logStream", "messageType", "owner", "subscriptionFilters"]
    assert "envelope.logGroup" in control.required


def test_priority_is_kept_for_ghe_only(schemas):
    """ghe's priorities 0 and 1 survive; log types without one get the default and sort after them."""
    assert schemas.schemas["ghe:general"].priority == 0
    assert schemas.schemas["ghe:syslog"].priority == 1
    assert {s.priority for n, s in schemas.schemas.items() if not n.startswith("ghe:")} == {100}


def test_optional_envelope_keys_are_not_required(schemas):
    """ghe:general requires its envelope keys except the optional ones, and keeps json_regex_key."""
    ghe = schemas.schemas["ghe:general"]
    assert "envelope.host" in ghe.required and "envelope.pid" not in ghe.required
    assert ghe.parser["json_regex_key"] == "message"


@pytest.mark.parametrize(
    ("expression", "path"),
    [
        ("Records[*]", "Records[*]"),
        ("logEvents[*].extractedFields", "logEvents[*].extractedFields"),
        ("[*]", "[*]"),
        ('"detail"."items"[*]', "detail.items[*]"),
        ("a[*].b[*]", "a[*].b[*]"),
    ],
)
def test_simple_jmespath_converts_to_records_paths(expression, path):
    """Identifiers, dots and [*] convert one to one."""
    assert jmespath_records(expression) == path


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("Records[?eventName]", "filter"),
        ("Records[0]", "index"),
        ("Records[]", "flatten"),
        ("Records[*] | [0]", "pipe"),
        ("detail", "single value"),
        ("length(Records)", "function"),
        ("Records[*].{a: b}", "multiselect hash"),
    ],
)
def test_other_jmespath_is_refused_with_a_reason(expression, reason):
    """Forms our records paths cannot express are refused, saying which construct is the problem."""
    with pytest.raises(UnsupportedPath, match=reason):
        jmespath_records(expression)


def test_unsupported_json_path_warns_and_keeps_the_expression(tmp_path):
    """The importer warns about a JMESPath it cannot convert and keeps it under parser.jmespath."""
    conf = tmp_path / "conf"
    (conf / "schemas").mkdir(parents=True)
    entry = {"parser": "json", "schema": {"a": "string"}, "configuration": {"json_path": "Records[?a]"}}
    (conf / "schemas" / "x.json").write_text(json.dumps({"x:y": entry}))
    result = import_conf(conf)
    (log,) = result.files["x.yml"]
    assert log.document["parser"] == {"type": "json", "jmespath": "Records[?a]"}
    assert [(d.code, d.is_error) for d in result.diagnostics] == [("SA10", False)]
    assert "filter expression" in result.diagnostics[0].message
    assert result.diagnostics[0].hint == RUNTIME_GAPS["jmespath"]


def test_unknown_types_and_parsers_are_errors(tmp_path, capsys):
    """A StreamAlert type or parser we cannot map is an error and the command fails."""
    conf = tmp_path / "conf"
    (conf / "schemas").mkdir(parents=True)
    logs = {"a:b": {"parser": "json", "schema": {"n": "number"}}, "c:d": {"parser": "xml", "schema": {"n": "string"}}}
    (conf / "schemas" / "x.json").write_text(json.dumps(logs, indent=2))
    assert import_streamalert([str(conf), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "error[SA06]: a:b: field 'n' has the unknown type 'number'" in err
    assert "error[SA01]: c:d: unknown StreamAlert parser 'xml'" in err
    assert "x.json:2:" in err  # located at the log's line


def test_runtime_gaps_and_broken_patterns_are_reported():
    """Options the runtime lacks, and pan's pattern on a field it does not have, are warnings in their files."""
    diagnostics = import_conf(CONF).diagnostics
    found = {(d.code, Path(d.loc.path).name, d.message.split(":", 1)[0]) for d in diagnostics}
    expected = {
        ("SA12", "ghe.json", "ghe"),
        ("SA14", "cloudwatch.json", "cloudwatch"),
        ("SA13", "pan.json", "pan"),
        ("SA16", "pan.json", "pan"),
    }
    assert expected <= found
    assert not any(d.is_error for d in diagnostics)


def test_kv_and_syslog_options_drive_the_runtime_parsers(tmp_path):
    """Imported kv and syslog parser options parse lines the way StreamAlert's parsers would."""
    conf = tmp_path / "conf"
    (conf / "schemas").mkdir(parents=True)
    logs = {
        "app:kv": {"parser": "kv", "schema": {"user": "string", "n": "integer"}, "configuration": {"delimiter": ",", "separator": ":"}},
        "app:syslog": {"parser": "syslog", "schema": {"timestamp": "string", "host": "string", "application": "string", "message": "string"}},
    }
    (conf / "schemas" / "app.json").write_text(json.dumps(logs))
    kv, syslog = import_conf(conf).files["app.yml"]
    assert kv.document["parser"] == {"type": "kv", "delimiter": ",", "quotechars": "", "separator": ":"}
    assert parse(b"user:alice,n:2", kv.document["parser"]) == [{"user": "alice", "n": "2"}]
    record = parse(b"Jan 10 19:35:33 vagrant sudo: session opened for root", syslog.document["parser"])[0]
    assert (record["host"], record["application"], record["message"]) == ("vagrant", "sudo", "session opened for root")
    assert set(syslog.document["classify"]["required"]) <= set(record)


def test_sources_expand_prefixes_into_log_types(imported):
    """sources.json maps each data_sources resource to the full names of its prefixes' log types."""
    sources = json.loads((imported / "sources.json").read_text())
    cluster = json.loads((CONF / "clusters" / "prod.json").read_text())["data_sources"]
    names = streamalert_logs()
    for service, resources in cluster.items():
        for resource, prefixes in resources.items():
            expected = sorted(n for n in names if n.split(":")[0] in prefixes)
            assert sources[service][resource] == expected
    assert "cloudtrail:events" in sources["s3"]["prefix.cluster.sample.bucket"]
    allowed = SourceMap.from_config(sources).allowed("kinesis:prefix_cluster1_streamalert", names)
    assert allowed == {n for n in names if n.split(":")[0] in ("cloudwatch", "ghe", "osquery")}


def test_refuses_to_overwrite_a_hand_written_schema(tmp_path, capsys):
    """A schema file the importer did not write survives unless --force is given."""
    out = tmp_path / "schemas"
    out.mkdir()
    mine = out / "cloudtrail.yml"
    mine.write_text("name: cloudtrail\nparser: {type: json}\n")
    assert import_streamalert([str(CONF), "--out", str(out)]) == 1
    assert "use --force" in capsys.readouterr().err
    assert mine.read_text().startswith("name: cloudtrail")
    assert import_streamalert([str(CONF), "--out", str(out), "--force"]) == 0
    assert mine.read_text().startswith(HEADER)


# --- StreamAlert's own test events -----------------------------------------------------------------------


def _test_events() -> list[tuple[str, dict[str, Any]]]:
    """(file, event) for every event of rules/**/*.json."""
    return [
        (path.relative_to(STREAMALERT).as_posix(), event)
        for path in sorted((STREAMALERT / "rules").rglob("*.json"))
        for event in json.loads(path.read_text(encoding="utf-8"))
    ]


@pytest.fixture(scope="module")
def replay() -> CheckResult:
    """StreamAlert's test events replayed through our classifier by `cli.streamalert.check`."""
    return check(CONF, STREAMALERT / "rules")


def test_streamalert_test_events_classify_as_expected(replay, capsys):
    """StreamAlert's test events land in their expected log type, among those their source may carry."""
    misses = replay.mismatches
    with capsys.disabled():
        print(f"\n{replay.right}/{replay.total} records classified as expected")
        for log_type, count in sorted(Counter(m.expected for m in misses).items()):
            print(f"  missed {count} {log_type}: got {next(m.got for m in misses if m.expected == log_type)}")
    assert replay.total == len(_test_events())
    assert replay.right >= CLASSIFIED_AT_LEAST


def test_every_miss_needs_a_parser_option_the_runtime_lacks(schemas, replay):
    """A test event may only miss its log type when that log type needs a parser option the runtime lacks."""
    gaps = {n for n, s in schemas.schemas.items() if set(s.parser) & {"json_regex_key", "nested_columns", "jmespath"}}
    gaps |= {n for n, s in schemas.schemas.items() if s.parser["type"] == "csv" and "records" in s.parser}
    assert {m.expected for m in replay.mismatches} <= gaps
