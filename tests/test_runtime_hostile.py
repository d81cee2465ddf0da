"""Hostile records: every one ends processed or quarantined with a reason, never as a failed batch."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
import re
import signal
import time
import types
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runtime import metrics
from runtime.alerts import build_alert, canonical_json
from runtime.classifier import Classifier
from runtime.parsers import ParseError, json_parser, regex_parser, syslog_parser
from runtime.parsers.coerce import Mismatch, _integer
from runtime.pipeline import Deadline, Runtime, deliver_each, process_batch
from runtime.rules import RuleSet
from runtime.sources.limits import Limits

ROOT = Path(__file__).resolve().parents[1]
RULE = "hostile-any"


class ListQuarantine:
    description = "memory"

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put(self, entries: list[dict[str, Any]]) -> None:
        self.entries.extend(entries)


def matching_everything(log_type: str) -> types.ModuleType:
    """A matcher module whose one rule matches every record, so each record also builds an alert."""
    module = types.ModuleType(f"hostile_{log_type}")
    module.LOG_TYPE = log_type
    module.RULES = {RULE: {"title": "Any {n}", "level": "low", "context": [["n", "n"]]}}
    module.match = lambda record, errors=None: [RULE]
    return module


VIEW = {
    "log_types": {
        "app": {"parser": {"type": "json"}, "required": ["app"], "priority": 10, "types": {"n": "integer", "f": "float"}},
        "flow": {"parser": {"type": "regex", "pattern": r"(?P<a>\d+) (?P<b>\w+)", "skip": "^version "}, "required": ["a"], "priority": 20},
        "pairs": {"parser": {"type": "kv"}, "required": ["k"], "priority": 30, "types": {"n": "integer"}},
    }
}


def runtime(deadline: Deadline | None = None, limits: Limits | None = None) -> tuple[Runtime, list[dict[str, Any]], ListQuarantine]:
    rules = RuleSet({name: matching_everything(name) for name in VIEW["log_types"]}, VIEW, Classifier(VIEW))
    published: list[dict[str, Any]] = []
    quarantine = ListQuarantine()
    parts = {"deadline": deadline} if deadline is not None else {}
    return Runtime(rules, deliver_each(published.append), quarantine, limits=limits or Limits(), **parts), published, quarantine


def kinesis_event(*payloads: bytes) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventSource": "aws:kinesis",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/hostile",
                "kinesis": {"sequenceNumber": str(index), "data": base64.b64encode(data).decode()},
            }
            for index, data in enumerate(payloads)
        ]
    }


def run(*payloads: bytes, **options: Any) -> tuple[Any, list[dict[str, Any]], ListQuarantine]:
    rt, published, quarantine = runtime(**options)
    result = process_batch(kinesis_event(*payloads), rt)
    return result, published, quarantine


class TestRegressions:
    def test_integer_past_the_digit_limit_is_quarantined(self) -> None:
        """A JSON integer of 5,000 digits quarantines its payload instead of raising out of the batch."""
        result, published, quarantine = run(b'{"app": 1, "n": ' + b"7" * 5000 + b"}", b'{"app": "ok", "n": 2}')
        assert result.failures == [] and result.stats.violations() == []
        assert [a["record"]["app"] for a in published] == ["ok"]
        (entry,) = quarantine.entries
        assert entry["stage"] == "parse" and "a number of more than 4300 digits" in entry["reason"]

    def test_hex_string_too_large_for_decimal_is_not_an_integer(self) -> None:
        """A `0x…` string whose value has no decimal form is refused by coercion, not turned into an int."""
        with pytest.raises(Mismatch):
            _integer("0x" + "f" * 5000)
        assert _integer("0x10") == 16
        result, published, quarantine = run(b'{"app": 1, "n": "0x' + b"f" * 5000 + b'"}')
        assert published == [] and result.failures == []
        (entry,) = quarantine.entries
        assert entry["stage"] == "classify" and "n '0xffff" in entry["reason"] and "is not an integer" in entry["reason"]

    def test_an_alert_that_cannot_be_built_quarantines_its_record(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An exception while building an alert quarantines the record (stage alert), the batch goes on."""
        import runtime.alert_hooks as alert_hooks  # the pipeline builds alerts through the hooks

        def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
            raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")

        monkeypatch.setattr(alert_hooks, "build_alert", broken)
        result, published, quarantine = run(b'{"app": 1}')
        assert result.failures == [] and result.stats.violations() == [] and published == []
        (entry,) = quarantine.entries
        assert entry["stage"] == "alert" and entry["reason"].startswith(f"the alert of {RULE} raised ValueError: Exceeds")

    def test_nan_and_infinity_make_valid_alert_json(self) -> None:
        """NaN and ±Infinity in a log record reach outputs as strings: alerts are valid JSON."""
        result, published, _ = run(b'{"app": NaN, "f": "inf", "n": 1, "deep": [-Infinity, {"x": 1e999}]}')
        (alert,) = published
        assert result.stats.matched == 1
        text = json.dumps(alert, allow_nan=False)  # raises on NaN/Infinity
        assert alert["record"]["app"] == "NaN" and alert["record"]["f"] == "Infinity"
        assert alert["record"]["deep"] == ["-Infinity", {"x": "Infinity"}]
        assert json.loads(text) == alert
        assert canonical_json({"a": math.nan}) == '{"a":"NaN"}'

    def test_payload_of_skipped_header_lines_is_counted(self) -> None:
        """A payload whose every line is a `skip` header holds no record: counted, not silently nothing."""
        result, _, quarantine = run(b"version account-id interface-id\n")
        assert (result.stats.records, result.stats.quarantined, result.stats.empty_payloads) == (0, 0, 1)
        (batch,) = [d for d in metrics.documents(result.summary(), {}, {}) if "LogType" not in d][:1]
        assert batch["EmptyPayloads"] == 1 and quarantine.entries == []

    def test_repeated_json_key_keeps_every_value(self) -> None:
        """`{"CommandLine": "evil", "CommandLine": "benign"}` keeps both values, as the kv parser does."""
        raw = b'{"CommandLine": "evil", "n": {"a": 1, "a": [2], "a": 3}, "CommandLine": "benign"}'
        assert json_parser.parse(raw, {}) == [{"CommandLine": ["evil", "benign"], "n": {"a": [1, [2], 3]}}]

    def test_repeated_json_key_fires_the_rule_in_replay_with_both_engines(self, tmp_path: Path) -> None:
        """A rule on the first of two values fires in `sigil replay`, with the interpreter and compiled code."""
        from cli.replay.engine import replay

        rule = tmp_path / "rule.yml"
        rule.write_text(
            "title: Mimikatz\nid: 5d7c1e2a-0000-4000-8000-000000000001\nlogsource:\n  product: windows\n"
            "detection:\n  selection:\n    CommandLine|contains: mimikatz\n  condition: selection\nlevel: high\n"
        )
        events = tmp_path / "events.json"
        events.write_text('{"CommandLine": "mimikatz.exe", "CommandLine": "notepad.exe"}\n')
        for engine in ("interpreter", "compiled"):
            alerts: list[Any] = []
            replay([str(rule)], [str(events)], str(ROOT / "schemas"), "json", engine, alerts.append)
            assert len(alerts) == 1, engine


class FakeClock:
    """A Lambda context whose remaining time drops by ``step_ms`` at every reading."""

    aws_request_id = "hostile"

    def __init__(self, step_ms: int) -> None:
        self.left, self.step = 900_000, step_ms

    def get_remaining_time_in_millis(self) -> int:
        self.left -= self.step
        return self.left


class TestRecordBudget:
    def test_record_over_budget_is_quarantined_and_counted(self) -> None:
        """A record whose parsing takes longer than the budget (on the remaining-time clock) is quarantined."""
        result, published, quarantine = run(b'{"app": 1}', deadline=Deadline(FakeClock(3000), 100), limits=Limits(record_budget_ms=2000))
        assert published == [] and result.failures == []
        (entry,) = quarantine.entries
        assert entry["stage"] == "budget"
        assert re.fullmatch(r"parsing and classifying took \d+ ms, over the budget of 2000 ms a record \(SIGIL_RECORD_BUDGET_MS\)", entry["reason"])
        assert result.stats.over_budget == 1
        assert metrics.documents(result.summary(), {}, {})[0]["OverBudget"] == 1

    def test_record_within_budget_alerts(self) -> None:
        """The same record under a budget it keeps is matched as usual."""
        result, published, _ = run(b'{"app": 1}', deadline=Deadline(FakeClock(3000), 100), limits=Limits(record_budget_ms=10_000))
        assert len(published) == 1 and result.stats.over_budget == 0

    def test_budget_is_configurable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """SIGIL_RECORD_BUDGET_MS sets the budget; 2 s by default."""
        assert Limits.from_env({}).record_budget_ms == 2000
        assert Limits.from_env({"SIGIL_RECORD_BUDGET_MS": "250"}).record_budget_ms == 250


# --- shipped patterns run in linear time ---------------------------------------------------------------

PUMPS = [" ", '"', "\\", "a", "-", "[", "]", ":", ",", "/", "?", "0", '\\"', "a ", '" "', "\t", "\\a", " -", ', client: x', ', request: "']
REPEAT = 8_000  # a quadratic pattern spends seconds per probe at this size; a linear one milliseconds


class _Slow(Exception):
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Slow


def regex_schemas() -> list[tuple[str, re.Pattern[str], list[str]]]:
    found = []
    for path in sorted((ROOT / "schemas").glob("*.yml")):
        parser = yaml.safe_load(path.read_text())["parser"]
        if parser.get("type") == "regex":
            samples = [line for f in sorted((ROOT / "tests" / "samples" / path.stem).iterdir()) for line in f.read_text().splitlines() if line.strip()]
            found.append((path.stem, regex_parser.compile_pattern(parser["pattern"], ()), samples[:3]))
    syslog = [line for f in sorted((ROOT / "tests" / "samples" / "linux_syslog").iterdir()) for line in f.read_text().splitlines() if line.strip()]
    found.append(("syslog_rfc3164", syslog_parser.RFC3164, [line for line in syslog if not syslog_parser._is_5424(line)][:3]))
    found.append(("syslog_rfc5424", syslog_parser.RFC5424, [line for line in syslog if syslog_parser._is_5424(line)][:3]))
    return found


@pytest.mark.parametrize(("name", "pattern", "samples"), regex_schemas(), ids=lambda v: v if isinstance(v, str) else "")
def test_shipped_pattern_is_linear(name: str, pattern: re.Pattern[str], samples: list[str]) -> None:
    """Lines pumped with long runs of one token at every token boundary match or fail fast (generous bound:
    a quadratic pattern takes seconds on each; `re` checks signals while matching, so the alarm stops it)."""
    old = signal.signal(signal.SIGALRM, _alarm)
    slow = []
    try:
        for sample in samples:
            cuts = sorted({0, len(sample)} | {i for i in range(1, len(sample)) if sample[i].isalnum() != sample[i - 1].isalnum()})
            for cut in cuts:
                for pump in PUMPS:
                    body = pump * (REPEAT // len(pump))
                    for line in (sample[:cut] + body + sample[cut:], sample[:cut] + body):
                        signal.setitimer(signal.ITIMER_REAL, 2.0)
                        started = time.perf_counter()
                        try:
                            pattern.fullmatch(line)
                        except _Slow:
                            slow.append((cut, pump, round(time.perf_counter() - started, 1)))
                        finally:
                            signal.setitimer(signal.ITIMER_REAL, 0)
                        if len(slow) > 3:
                            pytest.fail(f"{name}: quadratic on {slow}")
    finally:
        signal.signal(signal.SIGALRM, old)
    assert slow == [], f"{name}: slow on {slow}"


def test_webserver_access_long_request_line() -> None:
    """The 16 KB request line that took 22 s fails to match fast, and a normal line still parses whole."""
    (pattern,) = [p for name, p, _ in regex_schemas() if name == "webserver_access"]
    line = '1.2.3.4 - - [14/May/2024:10:22:31 +0000] "GET /' + "a" * 16_000 + ' HTTP/1.1" 200 5 "\\' + "a" * 16_000
    started = time.perf_counter()
    assert not pattern.fullmatch(line)
    assert time.perf_counter() - started < 2.0
    ok = pattern.groups('1.2.3.4 - - [14/May/2024:10:22:31 +0000] "GET /a\\x22b?q=1 HTTP/1.1" 200 5 "-" "curl/8"', True)
    assert ok is not None
    assert (ok["request_path"], ok["query_string"], ok["server_protocol"]) == ("/a\\x22b", "q=1", "HTTP/1.1")


def test_json_in_text_is_linear() -> None:
    """`json_regex_key` finds the object by its first `{` and last `}`: many `{` without `}` fail fast."""
    started = time.perf_counter()
    with pytest.raises(ParseError):
        json_parser.parse(json.dumps({"m": "{" * 200_000}).encode(), {"json_regex_key": "m"})
    assert time.perf_counter() - started < 2.0
    assert json_parser.parse(json.dumps({"m": 'x {"a": 1} y'}).encode(), {"json_regex_key": "m"}) == [{"a": 1}]


# --- hostile records through the pipeline ------------------------------------------------------------

SCALAR = st.one_of(
    st.just("7" * 5000),  # past the int digit limit
    st.just('"0x' + "f" * 4000 + '"'),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-0.0", "true", "null"]),
    st.just('"\\ud800"'),  # a lone surrogate
    st.just('"' + "x" * 100_000 + '"'),
    st.integers().map(str),
    st.text(max_size=20).map(json.dumps),
)


def _value(depth: int) -> st.SearchStrategy[str]:
    nested = st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "1" + "]" * n)
    if depth == 0:
        return st.one_of(SCALAR, nested)
    inner = _value(depth - 1)
    return st.one_of(
        SCALAR,
        nested,
        st.lists(inner, max_size=3).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(st.sampled_from(["app", "n", "f", "k", "a"]), inner), max_size=4).map(
            lambda pairs: "{" + ",".join(f'"{k}":{v}' for k, v in pairs) + "}"
        ),
    )


JSON_PAYLOAD = st.lists(st.tuples(st.sampled_from(["app", "n", "f", "x", "app"]), _value(2)), max_size=5).map(
    lambda pairs: ("{" + ",".join(f'"{k}":{v}' for k, v in pairs) + "}").encode("utf-8", "surrogatepass")
)
TEXT_PAYLOAD = st.one_of(
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(["k=1 n=0x" + "f" * 5000, "k=v k=w n=nan", "12 ab", "version x", "k=" + "\\" * 999]).map(str.encode),
    st.binary(max_size=100),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.one_of(JSON_PAYLOAD, TEXT_PAYLOAD), min_size=1, max_size=4))
def test_hostile_payloads_end_processed_or_quarantined(payloads: list[bytes]) -> None:
    """Whatever the payloads hold, the batch completes, the counts add up, every quarantine entry has a
    reason, every alert is valid JSON, and the metrics can be written."""
    rt, published, quarantine = runtime()
    result = process_batch(kinesis_event(*payloads), rt)
    stats = result.stats
    assert result.failures == [] and stats.failed_items == 0
    assert stats.violations() == []
    assert stats.records == stats.matched + stats.clean + stats.quarantined
    assert len(quarantine.entries) == stats.quarantined
    assert all(entry["reason"] and entry["stage"] for entry in quarantine.entries)
    assert stats.payloads == len(payloads)
    assert stats.records + stats.empty_payloads >= len(payloads)  # every payload gave records or was counted empty
    for alert in published:
        json.loads(canonical_json(alert))
        json.dumps(alert, allow_nan=False)
    metrics.documents(result.summary(), result.log_types, result.rule_errors)


def test_build_alert_of_nested_non_finite_context() -> None:
    """A context hook's NaN is made JSON-safe as well."""
    alert = build_alert("r", {"title": "t"}, "app", "s", {"x": 1}, context={"score": math.inf})
    assert alert["context"] == {"score": "Infinity"}


class TestHostileEvents:
    def test_item_whose_reading_raises_is_quarantined_with_its_event(self) -> None:
        """An EventBridge event of a shape no source foresaw (``resources`` an object) is quarantined whole."""
        event = {"detail-type": "x", "source": "app", "detail": {"app": 1}, "id": "e1", "resources": {"a": 1}}
        rt, published, quarantine = runtime()
        result = process_batch(event, rt)
        assert result.stats.failed_items == 0 and result.stats.violations() == []
        (entry,) = quarantine.entries
        assert entry["stage"] == "decode" and entry["reason"] == "reading eventbridge e1 raised KeyError: 0"
        assert json.loads(entry["payload"]) == event and published == []

    def test_sns_envelope_in_sqs_with_a_lone_surrogate(self) -> None:
        """An SNS envelope whose message holds a lone surrogate is read like the SQS body itself would be."""
        body = json.dumps({"Type": "Notification", "TopicArn": "arn:aws:sns:us-east-1:1:t", "MessageId": "m", "Message": '{"app": "\ud800"}'})
        event = {"Records": [{"eventSource": "aws:sqs", "messageId": "1", "body": body, "eventSourceARN": "arn:aws:sqs:us-east-1:1:q"}]}
        rt, published, quarantine = runtime()
        result = process_batch(event, rt)
        assert result.failures == [] and result.stats.violations() == []
        assert result.stats.records == 1 and len(published) + len(quarantine.entries) == 1
        for alert in published:
            json.dumps(alert, allow_nan=False)


class TestCommandLine:
    def test_classify_hostile_file_prints_reasons(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`sigil classify` on a huge integer, deep nesting and a lone surrogate: one line per record, no traceback."""
        from cli.main import main

        events = tmp_path / "hostile.json"
        events.write_text('{"app": ' + "7" * 5000 + '}\n' + '{"a":' * 5000 + "1" + "}" * 5000 + '\n{"app": "\\ud800", "n": NaN}\n')
        status = main(["classify", "--schemas", str(ROOT / "schemas"), str(events)])
        out, err = capsys.readouterr()
        lines = [json.loads(line) for line in out.splitlines()]
        assert status == 1 and err == ""
        assert [line.get("log_type") or line["stage"] for line in lines] == ["parse", "parse", "json"]
        assert "a number of more than 4300 digits" in lines[0]["candidates"]["json"]

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        payloads=st.lists(st.one_of(JSON_PAYLOAD, TEXT_PAYLOAD), min_size=1, max_size=3),
        log_type=st.sampled_from([None, "json", "windows"]),
        engine=st.sampled_from(["interpreter", "compiled"]),
        whole=st.booleans(),
    )
    def test_replay_and_classify_survive_hostile_files(
        self, tmp_path_factory: pytest.TempPathFactory, payloads: list[bytes], log_type: str | None, engine: str, whole: bool
    ) -> None:
        """`sigil replay` and `sigil classify` read any file to the end: reasons and notes, no exception
        (but EventsError, the one-line message for a broken JSON document after the first)."""
        from cli.main import main
        from cli.replay.engine import replay
        from cli.replay.events_io import EventsError

        directory = tmp_path_factory.mktemp("hostile")
        rule = directory / "rule.yml"
        rule.write_text(
            "title: Any command line\nid: 5d7c1e2a-0000-4000-8000-000000000002\nlogsource:\n  product: windows\n"
            "detection:\n  selection:\n    CommandLine|contains: a\n  condition: selection\nlevel: high\n"
        )
        events = directory / "events.log"
        events.write_bytes(b"\n".join(payloads))
        with contextlib.suppress(EventsError):
            replay([str(rule)], [str(events)], str(ROOT / "schemas"), log_type, engine, lambda alert: None)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["classify", "--schemas", str(ROOT / "schemas"), str(events), *(["--whole"] if whole else [])]) in (0, 1)
