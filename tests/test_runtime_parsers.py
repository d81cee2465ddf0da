"""Parsers from schema options (json, csv, kv, syslog, regex), value coercion, and classification."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from runtime.classifier import Classifier
from runtime.parsers import (
    ParseError,
    coerce,
    csv_parser,
    json_parser,
    kv_parser,
    parse,
    regex_parser,
    syslog_parser,
)
from runtime.sources.source_map import SourceMap

EVTX_EVENT = {
    "Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
            "EventID": 1,
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Computer": "ws1",
        },
        "EventData": {"Image": "C:\\Windows\\System32\\cmd.exe", "CommandLine": "cmd /c whoami"},
    }
}


def _schema_view() -> dict[str, Any]:
    """The runtime view of the shipped schemas (what `sigil compile` writes as schemas.json)."""
    from compiler.schemas import load_schemas

    loaded = load_schemas(str(Path(__file__).resolve().parents[1] / "schemas"))
    return loaded.runtime_view()


class TestJson:
    def test_records_path_through_lists(self) -> None:
        """A path with ``[*]`` in the middle selects a field of every element."""
        raw = json.dumps({"logEvents": [{"message": {"a": 1}}, {"message": {"a": 2}}]}).encode()
        assert json_parser.parse(raw, {"records": "logEvents[*].message"}) == [{"a": 1}, {"a": 2}]

    def test_top_level_array(self) -> None:
        """``records: "[*]"`` takes the elements of a top-level array."""
        assert json_parser.parse(b'[{"a": 1}, {"a": 2}]', {"records": "[*]"}) == [{"a": 1}, {"a": 2}]

    def test_top_level_array_holds_documents(self) -> None:
        """Without a records path starting at ``[*]``, a top-level array (an API page) is a list of documents,
        each taken as the payload would be alone: its records path applies to each, envelope keys come from each."""
        assert json_parser.parse(b'[{"a": 1}, {"a": 2}]', {}) == [{"a": 1}, {"a": 2}]
        page = [{"data": {"events": [{"x": 1}, {"x": 2}]}, "host": "h1"}, {"x": 3, "host": "h2"}]
        options = {"records": "data.events[*]", "envelope_keys": ["host"]}
        assert json_parser.parse(json.dumps(page).encode(), options) == [
            {"x": 1, "envelope": {"host": "h1"}},
            {"x": 2, "envelope": {"host": "h1"}},
            {"x": 3, "host": "h2", "envelope": {"host": "h2"}},  # a document without the path is its own record
        ]
        with pytest.raises(ParseError, match="JSON payload is not an object"):
            json_parser.parse(b'[{"a": 1}, 2]', {})

    def test_okta_api_page_classifies_every_event(self) -> None:
        """A page of /api/v1/logs (a JSON array of LogEvents) gives one okta record per event."""
        sample = Path(__file__).parent / "samples" / "okta" / "system_log.jsonl"
        events = [json.loads(line) for line in sample.read_text().splitlines()]
        schemas = json.loads(json.dumps(_schema_view()))
        outcome = Classifier(schemas).classify_payload(json.dumps(events).encode())
        assert [c.log_type for _, c in outcome.records] == ["okta"] * len(events)
        assert [r["uuid"] for r, _ in outcome.records] == [e["uuid"] for e in events]

    def test_records_path_without_list_marker(self) -> None:
        """A records path that selects no list is a configuration error, reported as a parse error."""
        with pytest.raises(ParseError, match=r"must select a list with \[\*\]"):
            json_parser.parse(b'{"a": {"b": 1}}', {"records": "a"})

    def test_envelope_keys(self) -> None:
        """Envelope keys at the document root are copied into each record under ``envelope``."""
        raw = json.dumps({"owner": "123", "logGroup": "/aws/x", "logEvents": [{"m": 1}, {"m": 2}]}).encode()
        records = json_parser.parse(raw, {"records": "logEvents[*]", "envelope_keys": ["owner", "logGroup", "absent"]})
        assert records == [
            {"m": 1, "envelope": {"owner": "123", "logGroup": "/aws/x"}},
            {"m": 2, "envelope": {"owner": "123", "logGroup": "/aws/x"}},
        ]

    def test_envelope_keys_merged_at_top_level(self) -> None:
        """With an empty ``envelope_field`` envelope keys join the record, never overriding its own fields."""
        raw = json.dumps({"host": "h1", "id": "env", "docs": [{"id": "rec"}]}).encode()
        records = json_parser.parse(raw, {"records": "docs[*]", "envelope_keys": {"host": "string", "id": "string"}, "envelope_field": ""})
        assert records == [{"host": "h1", "id": "rec"}]

    def test_embedded_json(self) -> None:
        """Records held as JSON strings are decoded."""
        raw = json.dumps({"logEvents": [{"message": json.dumps({"user": "bob"})}]}).encode()
        assert json_parser.parse(raw, {"records": "logEvents[*].message", "embedded_json": True}) == [{"user": "bob"}]

    def test_embedded_json_that_is_not_an_object(self) -> None:
        """An embedded string that is not a JSON object is a parse error."""
        raw = json.dumps({"logEvents": [{"message": "plain text"}]}).encode()
        with pytest.raises(ParseError, match="invalid JSON"):
            json_parser.parse(raw, {"records": "logEvents[*].message", "embedded_json": True})

    def test_evtx_layout(self) -> None:
        """``layout: evtx`` flattens evtx_dump events to the field names Sigma rules use."""
        (record,) = json_parser.parse(json.dumps(EVTX_EVENT).encode(), {"layout": "evtx"})
        assert record["EventID"] == 1
        assert record["Provider_Name"] == "Microsoft-Windows-Sysmon"
        assert record["CommandLine"] == "cmd /c whoami"

    def test_deep_nesting_is_a_parse_error(self) -> None:
        """JSON nested 10,000 deep is refused with a reason instead of a RecursionError."""
        with pytest.raises(ParseError, match="nested too deeply"):
            json_parser.parse(b"[" * 10_000 + b"]" * 10_000, {})
        with pytest.raises(ParseError, match="nested too deeply"):
            json_parser.parse(b'{"a": 1}\n' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000, {})


class TestCsv:
    def test_fixed_columns(self) -> None:
        """Fixed columns name the cells of each row; quoted cells may hold the delimiter."""
        raw = b'2024-01-01,alice,"login, console"\n2024-01-02,bob,logout\n'
        assert csv_parser.parse(raw, {"columns": ["time", "user", "action"]}) == [
            {"time": "2024-01-01", "user": "alice", "action": "login, console"},
            {"time": "2024-01-02", "user": "bob", "action": "logout"},
        ]

    def test_delimiter_and_quotechar(self) -> None:
        """Delimiter and quote character come from the options."""
        raw = b"a|'b|c'|d"
        assert csv_parser.parse(raw, {"columns": ["x", "y", "z"], "delimiter": "|", "quotechar": "'"}) == [
            {"x": "a", "y": "b|c", "z": "d"}
        ]

    def test_header_row_in_payload(self) -> None:
        """With ``header: true`` the payload's first row names the fields."""
        raw = b"user,action\nalice,login\nbob,logout\n"
        assert csv_parser.parse(raw, {"header": True}) == [
            {"user": "alice", "action": "login"},
            {"user": "bob", "action": "logout"},
        ]

    def test_header_from_stream(self) -> None:
        """A streamed line is named by the object's first line; that line itself yields no record."""
        header = b"user,action"
        assert csv_parser.parse(b"alice,login", {"header": True}, header) == [{"user": "alice", "action": "login"}]
        assert csv_parser.parse(header, {"header": True}, header) == []

    def test_header_alone_is_not_a_payload(self) -> None:
        """Outside a stream, a payload holding only a header row is refused rather than silently empty."""
        with pytest.raises(ParseError, match="at least one row"):
            csv_parser.parse(b"user,action\n", {"header": True})

    def test_wrong_column_count(self) -> None:
        """A row with another number of columns is a parse error naming the row."""
        with pytest.raises(ParseError, match="row 2 has 2 columns, expected 3"):
            csv_parser.parse(b"a,b,c\nd,e\n", {"columns": ["x", "y", "z"]})

    def test_needs_names(self) -> None:
        """Without columns or a header the parser refuses."""
        with pytest.raises(ParseError, match="columns"):
            csv_parser.parse(b"a,b", {})


class TestKeyValue:
    def test_quoted_values(self) -> None:
        """Quoted values may contain delimiters, separators and escaped quotes."""
        raw = b'user=alice msg="failed: a=b c" note=\'it\\\'s\' empty= n=1'
        assert kv_parser.parse(raw, {}) == [
            {"user": "alice", "msg": "failed: a=b c", "note": "it's", "empty": "", "n": "1"}
        ]

    def test_custom_delimiter_and_separator(self) -> None:
        """Pairs split at the delimiter option, keys at the separator option."""
        assert kv_parser.parse(b"a:1; b:two words; c:'x;y'", {"delimiter": "; ", "separator": ":"}) == [
            {"a": "1", "b": "two words", "c": "x;y"}
        ]

    def test_one_record_per_line(self) -> None:
        """Each non-blank line is one record."""
        assert kv_parser.parse(b"a=1\n\nb=2\n", {}) == [{"a": "1"}, {"b": "2"}]

    def test_repeated_key_keeps_every_value(self) -> None:
        """`a=evil a=benign` keeps both, in order: a later pair cannot hide an earlier value from the rules."""
        assert kv_parser.parse(b"a=evil b=1 a=benign a='x y'", {}) == [{"a": ["evil", "benign", "x y"], "b": "1"}]

    def test_token_without_separator(self) -> None:
        """A token that is not a pair is a parse error."""
        with pytest.raises(ParseError, match="line 1"):
            kv_parser.parse(b"a=1 lonely", {})


class TestSyslog:
    def test_rfc3164(self) -> None:
        """A BSD syslog line gives priority, facility, severity, time, host, application, pid and message."""
        (record,) = syslog_parser.parse(b"<38>Jan  5 14:03:01 web-1 sshd[4242]: Failed password for root", {})
        assert record == {
            "priority": 38,
            "facility": 4,
            "severity": 6,
            "timestamp": "Jan  5 14:03:01",
            "host": "web-1",
            "application": "sshd",
            "pid": "4242",
            "message": "Failed password for root",
        }

    def test_rfc3164_without_priority(self) -> None:
        """The ``<PRI>`` is optional, as in files written by syslog daemons."""
        (record,) = syslog_parser.parse(b"Mar 10 01:02:03 host cron: job started", {})
        assert (record["application"], record["message"], "priority" in record) == ("cron", "job started", False)

    def test_rfc5424(self) -> None:
        """An RFC 5424 line gives version, msgid and structured data; nil values read as None."""
        raw = (
            b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 '
            b'[exampleSDID@32473 iut="3" eventSource="Application"][meta note="a \\"quoted\\" \\] value"] '
            b"\xef\xbb\xbfAn application event"
        )
        (record,) = syslog_parser.parse(raw, {})
        assert record == {
            "priority": 165,
            "facility": 20,
            "severity": 5,
            "version": 1,
            "timestamp": "2003-10-11T22:14:15.003Z",
            "host": "mymachine.example.com",
            "application": "evntslog",
            "pid": None,
            "msgid": "ID47",
            "structured_data": {
                "exampleSDID@32473": {"iut": "3", "eventSource": "Application"},
                "meta": {"note": 'a "quoted" ] value'},
            },
            "message": "An application event",
        }

    def test_rfc5424_without_structured_data_or_message(self) -> None:
        """``-`` structured data is empty and a missing message is the empty string."""
        (record,) = syslog_parser.parse(b"<13>1 2024-01-01T00:00:00Z h app 12 - -", {"format": "rfc5424"})
        assert (record["structured_data"], record["message"], record["pid"]) == ({}, "", "12")

    @pytest.mark.parametrize(("raw", "form"), [(b"not syslog at all", "auto"), (b"<13>Jan  1 00:00:00 h a: m", "rfc5424")])
    def test_not_syslog(self, raw: bytes, form: str) -> None:
        """A line of another shape is a parse error."""
        with pytest.raises(ParseError, match="line 1"):
            syslog_parser.parse(raw, {"format": form})


class TestRegex:
    def test_named_groups(self) -> None:
        """Named groups become fields; groups that did not take part are left out."""
        options = {"pattern": r"(?P<ip>\S+) (?P<method>GET|POST) (?P<path>\S+)(?: (?P<status>\d+))?"}
        assert regex_parser.parse(b"10.0.0.1 GET /index\n10.0.0.2 POST /login 401\n", options) == [
            {"ip": "10.0.0.1", "method": "GET", "path": "/index"},
            {"ip": "10.0.0.2", "method": "POST", "path": "/login", "status": "401"},
        ]

    def test_whole_line_unless_partial(self) -> None:
        """The pattern must match the whole line unless ``partial`` is set; flags apply."""
        options: dict[str, Any] = {"pattern": r"user=(?P<user>\w+)", "flags": ["IGNORECASE"]}
        with pytest.raises(ParseError, match="does not match"):
            regex_parser.parse(b"login USER=alice ok", options)
        assert regex_parser.parse(b"login USER=alice ok", {**options, "partial": True}) == [{"user": "alice"}]

    @pytest.mark.parametrize(("pattern", "message"), [("(?P<a>", "invalid pattern"), (r"\w+", "no named groups")])
    def test_bad_pattern(self, pattern: str, message: str) -> None:
        """Unusable patterns are parse errors."""
        with pytest.raises(ParseError, match=message):
            regex_parser.parse(b"x", {"pattern": pattern})

    def test_skip_lines(self) -> None:
        """Lines the ``skip`` pattern finds give no record; an invalid skip pattern is a parse error."""
        options = {"pattern": r"(?P<n>\d+) (?P<word>\w+)", "skip": r"^#|^n word$"}
        assert regex_parser.parse(b"n word\n# comment\n1 one\n2 two\n", options) == [
            {"n": "1", "word": "one"},
            {"n": "2", "word": "two"},
        ]
        assert regex_parser.parse(b"# only a comment\n", options) == []
        with pytest.raises(ParseError, match="invalid skip pattern"):
            regex_parser.parse(b"1 one", {**options, "skip": "("})

    def test_vpc_flow_file_from_s3_starts_with_a_header(self) -> None:
        """The header line of a flow log file in S3 gives no record, so nothing is quarantined for it."""
        sample = Path(__file__).parent / "samples" / "vpc_flow" / "cloudwatch_lines.log"
        header = b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
        classifier = Classifier(_schema_view())
        outcome = classifier.classify_payload(header, header=header)
        assert outcome.error is None and outcome.records == []
        for line in sample.read_bytes().splitlines():
            assert [c.log_type for _, c in classifier.classify_payload(line, header=header).records] == ["vpc_flow"]

    def test_dispatch(self) -> None:
        """The registry passes the options to the parser named by ``type``."""
        assert parse(b"a=1", {"type": "kv"}) == [{"a": "1"}]
        assert parse(b"x", {"type": "regex", "pattern": "(?P<v>x)"}) == [{"v": "x"}]


class TestCoerce:
    tree = coerce.field_tree(
        {
            "EventID": "integer",
            "ratio": "float",
            "ok": "boolean",
            "src": "ip",
            "name": "string",
            "user": "object",
            "user.id": "integer",
            "tags": "list",
        }
    )

    def test_converts_text_to_types(self) -> None:
        """Strings become integers, floats and booleans; numbers become strings for string fields."""
        record = {"EventID": "4688", "ratio": "0.5", "ok": "true", "name": 7, "user": {"id": "12"}, "other": "x"}
        assert coerce.coerce(record, self.tree) == {
            "EventID": 4688,
            "ratio": 0.5,
            "ok": True,
            "name": "7",
            "user": {"id": 12},
            "other": "x",
        }

    def test_lists_take_a_scalar_type_element_by_element(self) -> None:
        """A repeated kv key (or a JSON array) in a typed field: every element is coerced, the list kept; a
        list-typed field is checked as a whole; an element of the wrong type refuses the record."""
        record = {"EventID": ["4688", 1, None, ""], "tags": ["a"], "src": ["10.0.0.1"]}
        coerced = coerce.coerce(record, self.tree)
        assert coerced == {"EventID": [4688, 1, None, ""], "tags": ["a"], "src": ["10.0.0.1"]}
        assert coerced["tags"] is record["tags"] and coerced["src"] is record["src"]
        with pytest.raises(coerce.Mismatch, match="EventID"):
            coerce.coerce({"EventID": ["1", "x"]}, self.tree)

    def test_does_not_mutate(self) -> None:
        """The input record is left as it was (other log types may still look at it)."""
        record = {"EventID": "1", "user": {"id": "2"}}
        coerce.coerce(record, self.tree)
        assert record == {"EventID": "1", "user": {"id": "2"}}

    def test_unchanged_record_is_returned_as_is(self) -> None:
        """A record already of the right types is not copied."""
        record = {"EventID": 1, "src": "10.0.0.1", "tags": [], "empty": None}
        assert coerce.coerce(record, self.tree) is record

    @pytest.mark.parametrize(
        ("record", "message"),
        [
            ({"EventID": "abc"}, "EventID 'abc' is not an integer"),
            ({"ok": "maybe"}, "ok 'maybe' is not a boolean"),
            ({"src": "example.com"}, "src 'example.com' is not an IP address"),
            ({"user": {"id": "x"}}, "user.id 'x' is not an integer"),
            ({"tags": "a"}, "tags 'a' is not a list"),
            ({"name": {"a": 1}}, "name {'a': 1} is not a string"),
        ],
    )
    def test_mismatch(self, record: dict[str, Any], message: str) -> None:
        """A value that cannot take its type is refused with the field, the value and the type."""
        with pytest.raises(coerce.Mismatch, match=message):
            coerce.coerce(record, self.tree)

    def test_null_and_empty_pass(self) -> None:
        """Null and the empty string are never type errors (empty CSV cells)."""
        assert coerce.coerce({"EventID": "", "ok": None}, self.tree) == {"EventID": "", "ok": None}


SCHEMAS = {
    "log_types": {
        "cloudtrail": {
            "parser": {"type": "json", "records": "Records[*]"},
            "required": ["eventVersion", "eventSource", "eventName"],
            "priority": 10,
        },
        "windows": {
            "parser": {"type": "json", "layout": "evtx"},
            "required": ["EventID", "Channel"],
            "priority": 20,
            "fields": {"EventID": "integer"},
        },
        "gcp_audit": {
            "parser": {"type": "json"},
            "required": ["protoPayload"],
            "priority": 30,
            "hints": {"logName": ["projects/*/logs/cloudaudit.googleapis.com*"]},
        },
        "sshd": {
            "parser": {"type": "syslog"},
            "required": ["application", "message"],
            "priority": 40,
            "hints": {"application": ["sshd"]},
        },
        "firewall": {
            "parser": {"type": "csv", "columns": ["time", "action", "src", "dst"]},
            "required": ["action", "src"],
            "priority": 50,
            "fields": {"src": "ip", "dst": "ip"},
        },
        "app_kv": {"parser": {"type": "kv"}, "required": ["user", "event"]},
    }
}


class TestClassifier:
    classifier = Classifier(SCHEMAS)

    def classify(self, raw: bytes, among: Any = None) -> list[str | None]:
        payload = self.classifier.classify_payload(raw, among)
        assert payload.error is None, payload.error
        return [result.log_type for _, result in payload.records]

    def test_each_parser_type(self) -> None:
        """Payloads of every parser type find their log type."""
        assert self.classify(b'{"Records": [{"eventVersion": "1", "eventSource": "s", "eventName": "n"}]}') == ["cloudtrail"]
        assert self.classify(json.dumps(EVTX_EVENT).encode()) == ["windows"]
        assert self.classify(b"<38>Jan  5 14:03:01 web-1 sshd[1]: Accepted publickey") == ["sshd"]
        assert self.classify(b"2024-01-01T00:00:00Z,deny,10.0.0.1,10.0.0.2") == ["firewall"]
        assert self.classify(b"user=alice event=login") == ["app_kv"]

    def test_coerced_record_is_returned(self) -> None:
        """The record handed on carries the schema's types."""
        payload = self.classifier.classify_payload(b'{"EventID": "4688", "Channel": "Security"}')
        assert payload.records[0][0]["EventID"] == 4688

    def test_type_mismatch_moves_to_the_next_candidate(self) -> None:
        """A value that does not fit the schema's type makes that log type refuse the record."""
        payload = self.classifier.classify_payload(b"2024,deny,not-an-ip,10.0.0.2")
        ((_, result),) = payload.records
        assert result.log_type is None
        assert result.reasons["firewall"] == "firewall: src 'not-an-ip' is not an IP address"
        assert "firewall: src 'not-an-ip' is not an IP address" in result.reason

    def test_hints_gate_candidates(self) -> None:
        """A record with the required fields but failing a hint is refused by that log type."""
        good = json.dumps({"protoPayload": {}, "logName": "projects/p1/logs/cloudaudit.googleapis.com%2Factivity"})
        bad = json.dumps({"protoPayload": {}, "logName": "projects/p1/logs/stdout"})
        assert self.classify(good.encode()) == ["gcp_audit"]
        ((_, result),) = self.classifier.classify_payload(bad.encode()).records
        reasons = result.reasons
        assert set(reasons) == set(SCHEMAS["log_types"])
        assert reasons["gcp_audit"] == "gcp_audit: logName matches none of projects/*/logs/cloudaudit.googleapis.com*"

    def test_source_restricts_candidates(self) -> None:
        """Only the log types a source may carry are candidates."""
        raw = b"user=alice event=login"
        assert self.classify(raw, {"app_kv"}) == ["app_kv"]
        payload = self.classifier.classify_payload(raw, {"cloudtrail", "firewall"})
        assert set(payload.reasons) == {"cloudtrail", "firewall"}

    def test_reason_from_each_candidate(self) -> None:
        """A payload nobody accepts carries one reason per candidate."""
        payload = self.classifier.classify_payload(b"\xff\xfe garbage")
        assert payload.error is not None and set(payload.reasons) == set(SCHEMAS["log_types"])
        assert all(reason.startswith(name) for name, reason in payload.reasons.items())
        assert "not UTF-8" in payload.reasons["sshd"]

    def test_refused_records_carry_every_reason(self) -> None:
        """Records parsed but accepted by no candidate come back one by one, each with every candidate's reason."""
        payload = self.classifier.classify_payload(b'{"Records": [{"eventName": "a"}, {"eventSource": "b"}]}')
        assert [result.log_type for _, result in payload.records] == [None, None]
        first, second = (result.reasons for _, result in payload.records)
        assert first["cloudtrail"] == "cloudtrail lacks eventVersion, eventSource"
        assert second["cloudtrail"] == "cloudtrail lacks eventVersion, eventName"
        assert first["windows"] == "windows lacks EventID, Channel" and "sshd" in first

    def test_no_candidates(self) -> None:
        """A source allowed no log types quarantines everything with that reason."""
        assert self.classifier.classify_payload(b"{}", set()).error == "no log types are allowed for this source"

    def test_mixed_records_each_find_their_type(self) -> None:
        """Records of one JSON payload are classified one by one among the log types of that parser."""
        schemas = {
            "log_types": {
                "a": {"parser": {"type": "json", "records": "items[*]"}, "required": ["x"], "priority": 1},
                "b": {"parser": {"type": "json", "records": "items[*]"}, "required": ["y"], "priority": 2},
            }
        }
        payload = Classifier(schemas).classify_payload(b'{"items": [{"y": 1}, {"x": 1}, {"z": 1}]}')
        assert [result.log_type for _, result in payload.records] == ["b", "a", None]
        assert payload.records[2][1].reasons == {"a": "a lacks x", "b": "b lacks y"}


class TestSourceMap:
    sources = SourceMap.from_config(
        {
            "kinesis": {"security-events": ["cloudtrail", "windows"], "app-*": ["app"]},
            "s3": {"firewall-logs": ["firewall"], "empty-bucket": []},
        }
    )
    names = ("cloudtrail", "windows", "firewall", "app:web", "app:db", "osquery")

    def test_exact_and_glob_resources(self) -> None:
        """A source gets its resource's entry; globs match resources; a prefix entry admits ``prefix:*``."""
        assert self.sources.allowed("kinesis:security-events", self.names) == {"cloudtrail", "windows"}
        assert self.sources.allowed("kinesis:app-prod", self.names) == {"app:web", "app:db"}
        assert self.sources.allowed("s3:empty-bucket", self.names) == frozenset()

    def test_unnamed_source_allows_everything(self) -> None:
        """A source the map does not name may carry every log type (the default)."""
        assert self.sources.allowed("sqs:other", self.names) is None
        assert SourceMap().allowed("kinesis:security-events", self.names) is None

    @pytest.mark.parametrize("text", ['{"kinesis": ["x"]}', '{"kinesis": {"s": "cloudtrail"}}', "{not json", "[]"])
    def test_invalid(self, text: str) -> None:
        """A malformed source map is refused with a message."""
        with pytest.raises(ValueError, match="source map"):
            SourceMap.from_json(text)


SCHEMAS_DIR = str(Path(__file__).resolve().parents[1] / "schemas")


class TestClassifyCommand:
    """``sigil classify`` (cli/commands/classify.py) on files."""

    @pytest.fixture
    def package(self, tmp_path: Path) -> str:
        """A compiled-package directory holding only the schemas view above."""
        (tmp_path / "pkg").mkdir()
        (tmp_path / "pkg" / "schemas.json").write_text(json.dumps(SCHEMAS))
        return str(tmp_path / "pkg")

    @staticmethod
    def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]]]:
        from cli.main import main

        status = main(["classify", *argv])
        return status, [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    def test_lines_of_plain_and_gzip_files(self, tmp_path: Path, package: str, capsys: pytest.CaptureFixture[str]) -> None:
        """Each record of each line gets its log type; a gzip file is read like S3 reads it."""
        import gzip

        cloudtrail = {"eventVersion": "1.08", "eventSource": "s3.amazonaws.com", "eventName": "GetObject"}
        plain = tmp_path / "mixed.jsonl"
        plain.write_text(json.dumps({"Records": [cloudtrail, cloudtrail]}) + "\n\n" + json.dumps(EVTX_EVENT) + "\n")
        zipped = tmp_path / "auth.log.gz"
        zipped.write_bytes(gzip.compress(b"<38>Jan  5 14:03:01 web-1 sshd[1]: Accepted publickey\n"))
        status, lines = self.run([str(plain), str(zipped), "--package", package], capsys)
        assert status == 0
        assert [(line["file"], line["line"], line["index"], line["log_type"]) for line in lines] == [
            (str(plain), 1, 0, "cloudtrail"),
            (str(plain), 1, 1, "cloudtrail"),
            (str(plain), 3, 0, "windows"),
            (str(zipped), 1, 0, "sshd"),
        ]

    def test_a_payload_without_records_is_said(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """The header line of a VPC flow file in S3 holds no record: one line says so, nothing is quarantined."""
        sample = Path(__file__).parent / "samples" / "vpc_flow" / "cloudwatch_lines.log"
        flow = tmp_path / "flow.log"
        flow.write_bytes(b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n" + sample.read_bytes())
        status, lines = self.run([str(flow), "--schemas", str(Path(__file__).resolve().parents[1] / "schemas")], capsys)
        assert status == 0
        assert lines[0] == {"file": str(flow), "line": 1, "records": 0}
        assert {line["log_type"] for line in lines[1:]} == {"vpc_flow"}

    def test_quarantine_reasons_and_status(self, tmp_path: Path, package: str, capsys: pytest.CaptureFixture[str]) -> None:
        """Records no log type accepts print the quarantine reason of each candidate, and the status is 1."""
        path = tmp_path / "bad.jsonl"
        path.write_text('{"eventName": "x"}\nnot json\n')
        status, lines = self.run([str(path), "--package", package], capsys)
        assert status == 1
        assert [(line["line"], line["stage"]) for line in lines] == [(1, "classify"), (2, "parse")]
        assert lines[0]["candidates"]["cloudtrail"] == "cloudtrail lacks eventVersion, eventSource"
        assert set(lines[1]["candidates"]) == set(SCHEMAS["log_types"])

    def test_source_map(self, tmp_path: Path, package: str, capsys: pytest.CaptureFixture[str]) -> None:
        """``--source`` with a source map limits the candidates to what that source may carry."""
        path = tmp_path / "one.json"
        path.write_text(json.dumps({"eventVersion": "1", "eventSource": "s", "eventName": "n"}))
        sources = tmp_path / "sources.json"
        sources.write_text(json.dumps({"s3": {"win-logs": ["windows"]}}))
        common = ["--package", package, "--sources", str(sources)]
        status, lines = self.run([str(path), "--source", "s3:win-logs", "--whole", *common], capsys)
        assert (status, lines[0]["line"], list(lines[0]["candidates"])) == (1, None, ["windows"])
        status, lines = self.run([str(path), "--source", "s3:other", *common], capsys)
        assert (status, lines[0]["log_type"]) == (0, "cloudtrail")

    def test_schema_directory(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Without a package the YAML schemas are read directly (here the shipped ones)."""
        path = tmp_path / "trail.json"
        path.write_text(json.dumps({"Records": [{"eventVersion": "1.08", "eventSource": "s", "eventName": "n"}]}))
        status, lines = self.run([str(path), "--schemas", SCHEMAS_DIR], capsys)
        assert (status, [line["log_type"] for line in lines]) == (0, ["cloudtrail"])

    def test_unreadable_schemas(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A directory without schemas is a usage error (status 2)."""
        path = tmp_path / "x.json"
        path.write_text("{}")
        status, _ = self.run([str(path), "--schemas", str(tmp_path)], capsys)
        assert status == 2


class TestStreamAlertOptions:
    """Parser options the StreamAlert importer maps onto (docs/migrating-from-streamalert.md)."""

    def test_json_regex_key_with_envelope(self) -> None:
        """The record is the JSON inside a text field; root fields come along as the envelope."""
        doc = {
            "host": "ghe-1",
            "@timestamp": "2024-01-01T00:00:00Z",
            "message": 'Jan 1 00:00:00 ghe github_audit: {"action": "repo.create", "actor": "octocat"}',
        }
        options = {"json_regex_key": "message", "envelope_keys": ["host", "@timestamp", "program"]}
        assert json_parser.parse(json.dumps(doc).encode(), options) == [
            {"action": "repo.create", "actor": "octocat", "envelope": {"host": "ghe-1", "@timestamp": "2024-01-01T00:00:00Z"}}
        ]

    def test_json_regex_key_without_json(self) -> None:
        """A field without a JSON object in it is a parse error naming the field."""
        with pytest.raises(ParseError, match="'message' holds no JSON object"):
            json_parser.parse(b'{"message": "plain text"}', {"json_regex_key": "message"})

    def test_json_regex_key_hostile_text_is_quick(self) -> None:
        """100 KB of `{` without a `}` is refused at once (a `{.*}` regex search took seconds: quadratic)."""
        raw = json.dumps({"message": "{" * 100_000, "other": "}"}).encode()
        start = time.perf_counter()
        with pytest.raises(ParseError, match="'message' holds no JSON object"):
            json_parser.parse(raw, {"json_regex_key": "message"})
        assert time.perf_counter() - start < 1.0  # a safety bound, not a performance test

    def test_json_regex_key_first_brace_to_last(self) -> None:
        """The object runs from the first `{` to the last `}` of the text, braces inside strings included."""
        doc = {"message": 'x } {"a": "}{", "b": {"c": 1}} tail } end'.replace(" tail } end", " tail")}
        assert json_parser.parse(json.dumps(doc).encode(), {"json_regex_key": "message"}) == [{"a": "}{", "b": {"c": 1}}]

    def test_csv_rows_inside_json(self) -> None:
        """CSV rows held as strings in a JSON envelope (CloudWatch Logs of RDS audit logs)."""
        doc = {
            "logGroup": "/aws/rds/audit",
            "owner": "123",
            "logEvents": [{"message": "1,srv,admin,'select 1'"}, {"message": "2,srv,root,'drop table x'"}],
        }
        options = {
            "columns": ["timestamp", "serverhost", "username", "object"],
            "quotechar": "'",
            "records": "logEvents[*].message",
            "envelope_keys": ["logGroup", "owner"],
        }
        records = csv_parser.parse(json.dumps(doc).encode(), options)
        assert [(r["username"], r["object"]) for r in records] == [("admin", "select 1"), ("root", "drop table x")]
        assert records[0]["envelope"] == {"logGroup": "/aws/rds/audit", "owner": "123"}

    def test_csv_nested_columns(self) -> None:
        """A column that is CSV itself becomes an object with its own names."""
        options = {"columns": ["id", "message"], "nested_columns": {"message": ["type", "src", "dst"]}}
        raw = b'7,"TRAFFIC,10.0.0.1,10.0.0.2"'
        assert csv_parser.parse(raw, options) == [{"id": "7", "message": {"type": "TRAFFIC", "src": "10.0.0.1", "dst": "10.0.0.2"}}]
        with pytest.raises(ParseError, match="has 2 columns, expected 3"):
            csv_parser.parse(b'7,"TRAFFIC,10.0.0.1"', options)
