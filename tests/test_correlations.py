"""Sigma correlations run by `sigil replay` on event time, with one engine (runtime.correlate) and an
in-memory state store that carries across files; bad correlations are located diagnostics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.stateful import SCHEMAS, replay, write_tree

from compiler.build import plan
from runtime.correlate import Correlator, Observation, Spec, advance, event_time
from runtime.state import MemoryStore

BASE = """\
title: Failed console login
name: failed_login
id: 11111111-1111-4111-8111-111111111111
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: ConsoleLogin
    errorMessage: Failed authentication
  condition: selection
---
title: Key created
name: key_created
id: 33333333-3333-4333-8333-333333333333
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: CreateAccessKey
  condition: selection
"""
COUNT = """\
title: Brute force against {userIdentity.userName}
id: 22222222-2222-4222-8222-222222222222
name: brute_force
correlation:
  type: event_count
  rules: [failed_login]
  group-by: [userIdentity.userName]
  timespan: 5m
  condition: {gte: 3}
level: high
templates: true
"""


def event(user: str, minute: float, name: str = "ConsoleLogin", **extra) -> dict:
    seconds = int(minute * 60)
    return {
        "eventVersion": "1.08",
        "eventSource": "signin.amazonaws.com",
        "eventName": name,
        "eventTime": f"2024-01-01T00:{seconds // 60:02d}:{seconds % 60:02d}Z",
        "errorMessage": "Failed authentication",
        "userIdentity": {"userName": user},
        **extra,
    }


def run(tmp_path: Path, rules: str, *files: list[dict], extra: list[str] = ()) -> tuple[int, list[dict], str]:
    """Replay the event files (each a list of events) with the rules; return status, alerts and stderr."""
    write_tree(tmp_path, {"rules/r.yml": rules})
    paths = []
    for index, events in enumerate(files):
        path = tmp_path / f"events{index}.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        paths.append(str(path))
    return replay(["--rules", str(tmp_path / "rules"), *extra, *paths])


def correlation_alerts(alerts: list[dict]) -> list[dict]:
    return [a for a in alerts if a["log_type"] == "correlation"]


class TestEventCount:
    def test_fires_once_per_group_when_the_count_is_reached(self, tmp_path: Path) -> None:
        """Three failures of alice in 5 minutes alert once with her name, the count and the event ids; bob's two
        do not; the failures alone do not alert (the correlation has no generate: true)."""
        events = [event("alice", 0), event("alice", 1), event("bob", 1), event("alice", 2), event("bob", 2)]
        status, alerts, err = run(tmp_path, BASE + "---\n" + COUNT, events)
        (alert,) = alerts
        assert status == 0 and alert["title"] == "Brute force against alice" and alert["level"] == "high"
        assert alert["group"] == {"userIdentity.userName": "alice"}
        corr = alert["correlation"]
        assert (corr["count"], corr["first_time"], corr["last_time"], len(corr["event_ids"])) == (3, "2024-01-01T00:00:00Z", "2024-01-01T00:02:00Z", 3)
        assert "5 events, 1 alert" in err

    def test_severity_overrides_the_level(self, tmp_path: Path) -> None:
        """`severity` on a correlation is its alert's level, over `level`, as on a detection rule."""
        _, alerts, _ = run(tmp_path, BASE + "---\n" + COUNT + "severity: critical\n", [event("alice", m) for m in (0, 1, 2)])
        assert [a["level"] for a in alerts] == ["critical"]

    def test_generate_true_keeps_the_rules_alerts(self, tmp_path: Path) -> None:
        """With generate: true the failures alert on their own too."""
        _, alerts, _ = run(tmp_path, BASE + "---\n" + COUNT.replace("level: high", "generate: true\nlevel: high"), [event("alice", m) for m in (0, 1, 2)])
        assert [a["log_type"] for a in alerts] == ["cloudtrail", "cloudtrail", "cloudtrail", "correlation"]

    def test_the_window_starts_afresh_after_an_alert(self, tmp_path: Path) -> None:
        """Six failures in five minutes are two windows of three: two alerts, no event counted twice."""
        _, alerts, _ = run(tmp_path, BASE + "---\n" + COUNT, [event("alice", m / 2) for m in range(6)])
        assert len(alerts) == 2
        first, second = (a["correlation"]["event_ids"] for a in alerts)
        assert not set(first) & set(second)

    def test_events_outside_the_timespan_do_not_count_together(self, tmp_path: Path) -> None:
        """Failures 5 minutes and 1 second apart never make three within the timespan."""
        _, alerts, _ = run(tmp_path, BASE + "---\n" + COUNT, [event("alice", m) for m in (0, 5.02, 10.04, 15.06)])
        assert alerts == []

    def test_event_time_not_arrival_order_across_files(self, tmp_path: Path) -> None:
        """Events shuffled across two files (as Kinesis shards deliver them) alert as in time order; a late event
        within the timespan still completes the window; the state carries across files."""
        in_order = [event("alice", m) for m in (0, 1, 2)]
        _, expected, _ = run(tmp_path / "a", BASE + "---\n" + COUNT, in_order)
        _, shuffled, _ = run(tmp_path / "b", BASE + "---\n" + COUNT, [in_order[2], in_order[0]], [in_order[1]])
        assert len(expected) == 1
        assert [a["correlation"] for a in shuffled] == [a["correlation"] for a in expected]

    def test_an_event_without_a_usable_time_is_counted_nowhere_and_noted(self, tmp_path: Path) -> None:
        """A matching record whose eventTime is not a time is not counted, is noted, and breaks nothing."""
        broken = {**event("alice", 1), "eventTime": "yesterday"}
        status, alerts, err = run(tmp_path, BASE + "---\n" + COUNT, [event("alice", 0), broken, event("alice", 2)])
        assert status == 0 and alerts == []
        assert "1 matched without an event time" in err and "no usable event time" in err

    def test_condition_ranges(self, tmp_path: Path) -> None:
        """`{gt: 1, lte: 2}` holds for a count of 2 (the window ending at the second event) only."""
        rules = BASE + "---\n" + COUNT.replace("{gte: 3}", "{gt: 1, lte: 2}")
        _, alerts, _ = run(tmp_path, rules, [event("alice", m) for m in (0, 1)])
        assert [a["correlation"]["count"] for a in alerts] == [2]


class TestOtherTypes:
    def test_value_count_counts_distinct_values(self, tmp_path: Path) -> None:
        """Three distinct users failing from one address alert; the same user thrice does not."""
        corr = COUNT.replace("event_count", "value_count").replace("[userIdentity.userName]", "[sourceIPAddress]").replace("{gte: 3}", "{field: userIdentity.userName, gte: 3}")
        same = [event("alice", m, sourceIPAddress="198.51.100.1") for m in (0, 1, 2)]
        many = [event(u, m, sourceIPAddress="198.51.100.2") for u, m in (("a", 0), ("b", 1), ("a", 1.5), ("c", 2))]
        _, alerts, _ = run(tmp_path, BASE + "---\n" + corr.replace("{userIdentity.userName}", "{sourceIPAddress}"), same + many)
        (alert,) = alerts
        assert alert["group"] == {"sourceIPAddress": "198.51.100.2"} and alert["correlation"]["count"] == 3

    TEMPORAL = """\
title: Failed login then a key
correlation:
  type: temporal_ordered
  rules: [failed_login, key_created]
  group-by: [user]
  timespan: 10m
  aliases:
    user: {failed_login: userIdentity.userName, key_created: requestParameters.userName}
"""

    def key(self, user: str, minute: float) -> dict:
        return event("admin", minute, name="CreateAccessKey", requestParameters={"userName": user})

    def test_temporal_ordered_needs_the_order(self, tmp_path: Path) -> None:
        """A failure of bob then a key for bob (aliases map the user per rule) alert; the reverse order does not."""
        _, alerts, _ = run(tmp_path, BASE + "---\n" + self.TEMPORAL, [event("bob", 1), self.key("bob", 2), self.key("eve", 1), event("eve", 2)])
        (alert,) = alerts
        assert alert["group"] == {"user": "bob"}

    @pytest.mark.parametrize(("condition", "warned"), [("failed_login and key_created", False), ("key_created and failed_login", True), ("failed_login or key_created", True)])
    def test_temporal_ordered_expression_runs_or_is_warned(self, tmp_path: Path, condition: str, warned: bool) -> None:
        """A temporal_ordered expression is the AND of its rules in their order (it runs as written), or W058 at
        the condition saying it runs as every rule in the order of `rules`; either way the order decides."""
        rules = BASE + "---\n" + self.TEMPORAL + f"  condition: {condition}\n"
        write_tree(tmp_path, {"rules/r.yml": rules})
        result, _ = plan([str(tmp_path / "rules")], str(SCHEMAS))
        assert [(d.code, d.loc.line, d.loc.col) for d in result.diagnostics] == ([("W058", 28, 14)] if warned else [])
        _, alerts, _ = run(tmp_path, rules, [event("bob", 1), self.key("bob", 2), self.key("eve", 1), event("eve", 2)])
        assert [a["group"] for a in alerts] == [{"user": "bob"}]

    def test_temporal_any_order(self, tmp_path: Path) -> None:
        """temporal: both rules within the timespan, in any order."""
        rules = BASE + "---\n" + self.TEMPORAL.replace("temporal_ordered", "temporal")
        _, alerts, _ = run(tmp_path, rules, [event("bob", 1), self.key("bob", 2), self.key("eve", 1), event("eve", 2)])
        assert sorted(a["group"]["user"] for a in alerts) == ["bob", "eve"]

    def test_temporal_condition_expression(self, tmp_path: Path) -> None:
        """`condition: key_created and not failed_login` holds for a key alone, not for a failure, nor for both."""
        rules = BASE + "---\n" + self.TEMPORAL.replace("temporal_ordered", "temporal") + "  condition: key_created and not failed_login\n"
        _, alerts, _ = run(tmp_path, rules, [self.key("bob", 1), event("eve", 2), event("ann", 1), self.key("ann", 2)])
        assert [a["group"]["user"] for a in alerts] == ["bob"]

    def test_temporal_condition_naming_no_rule(self, tmp_path: Path) -> None:
        """An expression naming something other than the correlation's rules is E053 at the name."""
        write_tree(tmp_path, {"rules/r.yml": BASE + "---\n" + self.TEMPORAL.replace("temporal_ordered", "temporal") + "  condition: key_created and failed_logn\n"})
        result, _ = plan([str(tmp_path / "rules")], str(SCHEMAS))
        (diag,) = result.errors
        assert (diag.code, diag.loc.line, diag.loc.col, diag.hint) == ("E053", 28, 30, "did you mean failed_login?")

    def test_a_correlation_over_a_correlation(self, tmp_path: Path) -> None:
        """Two brute-force windows of alice within an hour alert through a chained event_count; the inner
        correlation does not alert on its own."""
        outer = "title: Repeated brute force\ncorrelation:\n  type: event_count\n  rules: [brute_force]\n  group-by: [userIdentity.userName]\n  timespan: 1h\n  condition: {gte: 2}\n"
        _, alerts, _ = run(tmp_path, BASE + "---\n" + COUNT + "---\n" + outer, [event("alice", m / 2) for m in range(6)])
        (alert,) = alerts
        assert alert["title"] == "Repeated brute force" and alert["correlation"]["count"] == 2
        assert alert["correlation"]["rules"] == ["22222222-2222-4222-8222-222222222222"]


def sent(user: str, minute: float, size: object) -> dict:
    """A failure of ``user`` carrying a byte count (numbers, numeric text, or anything else)."""
    return event(user, minute, additionalEventData={"bytesTransferredOut": size})


def numeric(kind: str, condition: str) -> str:
    """The brute-force correlation as a numeric type over the failures' byte counts."""
    return COUNT.replace("event_count", kind).replace("{gte: 3}", "{field: additionalEventData.bytesTransferredOut, " + condition + "}")


class TestNumericTypes:
    """value_sum, value_avg, value_percentile and value_median over the numbers of the condition's field."""

    @pytest.mark.parametrize(
        ("kind", "condition", "expected"),
        [
            ("value_sum", "gt: 1000", [1200]),
            ("value_avg", "gte: 400", [400]),
            ("value_percentile", "percentile: 95, gt: 700", [900 - 0.1 * 700]),
            ("value_median", "eq: 200", [200]),
        ],
        ids=["sum", "avg", "percentile", "median"],
    )
    def test_each_type_fires_on_its_aggregate(self, tmp_path: Path, kind: str, condition: str, expected: list) -> None:
        """Alice's 100, 200 and 900 bytes (the 900 as text) in five minutes: the sum 1200, the mean 400, the
        95th percentile 830 (between 200 and 900), the median 200; bob's 50 and a non-number fire nothing."""
        events = [sent("alice", 0, 100), sent("bob", 0.5, 50), sent("alice", 1, 200), sent("bob", 1, "lots"), sent("alice", 2, "900")]
        status, alerts, _ = run(tmp_path, BASE + "---\n" + numeric(kind, condition), events)
        assert status == 0
        assert [(a["group"], a["correlation"]["count"], a["correlation"]["type"]) for a in alerts] == [
            ({"userIdentity.userName": "alice"}, pytest.approx(value), kind) for value in expected
        ]

    def test_a_window_without_numbers_never_holds(self, tmp_path: Path) -> None:
        """`value_sum lt: 10` does not fire on failures whose field is absent or not a number (no value to test),
        and fires on a window holding a small number."""
        events = [event("alice", 0), sent("alice", 1, "n/a"), sent("bob", 0, 3)]
        _, alerts, _ = run(tmp_path, BASE + "---\n" + numeric("value_sum", "lt: 10"), events)
        assert [(a["group"]["userIdentity.userName"], a["correlation"]["count"]) for a in alerts] == [("bob", 3)]

    def test_the_window_starts_afresh(self, tmp_path: Path) -> None:
        """A sum over 100 fires at 150 bytes, then starts again: the next 60 alone do not fire, 60 more do."""
        events = [sent("alice", 0, 150), sent("alice", 1, 60), sent("alice", 2, 60)]
        _, alerts, _ = run(tmp_path, BASE + "---\n" + numeric("value_sum", "gt: 100"), events)
        assert [a["correlation"]["count"] for a in alerts] == [150, 120]

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=40), st.integers(1, 100))
    def test_percentile_is_linear_between_ranks(self, numbers: list[float], which: int) -> None:
        """The percentile lies between the sorted neighbours of its rank; 50 is the median; 100 the maximum."""
        import statistics

        from runtime.correlate import percentile

        ordered = sorted(numbers)
        value = percentile(ordered, which)
        rank = which / 100 * (len(ordered) - 1)
        assert ordered[int(rank)] - 1e-6 <= value <= ordered[min(int(rank) + 1, len(ordered) - 1)] + 1e-6
        assert percentile(ordered, 50) == pytest.approx(statistics.median(ordered))
        assert percentile(ordered, 100) == ordered[-1]

    @pytest.mark.parametrize(
        ("condition", "code", "col"),
        [("gt: 700", "E054", 14), ("percentile: 0, gt: 700", "E053", 75), ("percentile: 95.5, gt: 700", "E053", 75)],
        ids=["no percentile", "percentile 0", "percentile not whole"],
    )
    def test_percentile_mistakes(self, tmp_path: Path, condition: str, code: str, col: int) -> None:
        """value_percentile without a whole percentile from 1 to 100 is a located error."""
        write_tree(tmp_path, {"rules/r.yml": BASE + "---\n" + numeric("value_percentile", condition)})
        result, _ = plan([str(tmp_path / "rules")], str(SCHEMAS))
        (diag,) = result.errors
        assert (diag.code, diag.loc.line, diag.loc.col) == (code, 28, col)

    def test_percentile_on_another_type_is_an_error(self, tmp_path: Path) -> None:
        """`percentile` on value_sum is not silently ignored: E053 naming where it belongs."""
        write_tree(tmp_path, {"rules/r.yml": BASE + "---\n" + numeric("value_sum", "percentile: 95, gt: 700")})
        result, _ = plan([str(tmp_path / "rules")], str(SCHEMAS))
        (diag,) = result.errors
        assert diag.code == "E053" and "value_percentile" in (diag.hint or "")


class TestEngine:
    SPEC = Spec.from_dict({"key": "c", "type": "event_count", "rules": ["r"], "group": ["u"], "timespan": 300, "condition": [["gte", 3]], "inputs": {"r": {"t": {"group": ["u"]}}}})

    def test_a_retried_batch_counts_nothing_twice(self) -> None:
        """The same two events observed again (a retried batch) leave the count at two: no alert."""
        store = MemoryStore()
        correlator = Correlator([self.SPEC], store, {"t": ["time"]})
        for _ in range(2):
            for index in range(2):
                correlator.observe("t", "r", {"u": "alice", "time": 1000 + index}, event_id=f"e{index}")
            assert correlator.flush().alerts == []
        (document,) = store.documents.values()
        assert [e[0] for e in document["events"]] == ["e0", "e1"]

    def test_too_late_events_are_counted_as_late(self) -> None:
        """An event older than the group's newest by more than the timespan is late, not counted."""
        doc, (fired, late) = advance(self.SPEC, None, [Observation("a", 10_000, "r", ("x",))])
        doc, (fired, late) = advance(self.SPEC, doc, [Observation("b", 10_000 - 301, "r", ("x",))])
        assert (fired, late, len(doc["events"])) == ([], 1, 1)

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.sets(st.integers(0, 2000), min_size=1, max_size=30), st.data())
    def test_batching_does_not_change_in_order_results(self, distinct: set[int], data) -> None:
        """Events arriving in time order (distinct times: a later one at the very time of a window that fired is
        late) fire the same windows whatever the batches they arrive in."""
        times = sorted(distinct)
        observations = [Observation(f"e{i}", float(t), "r", ("x",)) for i, t in enumerate(times)]
        whole, (expected, _) = advance(self.SPEC, None, observations)
        cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(times) - 1)), max_size=5)))
        doc, fired = None, []
        for start, end in zip([0, *cuts], [*cuts, len(times)], strict=True):
            doc, (batch, _) = advance(self.SPEC, doc, observations[start:end])
            fired += batch
            doc = {**doc, "outbox": []}  # the alerts were sent and confirmed
        assert fired == expected and doc == {**whole, "outbox": []}

    def test_unconfirmed_windows_are_sent_again(self) -> None:
        """A window whose alert was not confirmed delivered comes back with the group's next batch (a retry
        of the same events included), and not after it is confirmed."""
        store = MemoryStore()
        correlator = Correlator([self.SPEC], store, {"t": ["time"]})
        records = [({"u": "x", "time": 1000 + i}, f"e{i}") for i in range(3)]
        for record, event_id in records:
            correlator.observe("t", "r", record, event_id=event_id, origin="item-1")
        (alert,) = correlator.flush().alerts
        for record, event_id in records:  # the retried batch
            correlator.observe("t", "r", record, event_id=event_id, origin="item-1")
        again = correlator.flush()
        assert [a["alert_id"] for a in again.alerts] == [alert["alert_id"]] and again.origins == {alert["alert_id"]: {"item-1"}}
        assert correlator.confirm([alert["alert_id"]]) == []
        correlator.observe("t", "r", {"u": "x", "time": 1010}, event_id="e9")
        assert correlator.flush().alerts == []

    def test_a_full_group_fits_in_a_dynamodb_item(self) -> None:
        """A value_count group at its MAX_KEPT events, each with a 1 KB distinct value, stays under DynamoDB's
        400 KB item (values are kept as digests past 40 characters) and still counts them as distinct."""
        from runtime.correlate import MAX_KEPT

        spec = Spec.from_dict({"key": "c", "type": "value_count", "rules": ["r"], "group": [], "timespan": 86400, "condition": [["gte", 10**6]], "inputs": {"r": {"t": {"group": [], "field": "v"}}}})
        store = MemoryStore()
        correlator = Correlator([spec], store, {"t": ["time"]})
        for index in range(MAX_KEPT + 10):
            correlator.observe("t", "r", {"v": f"{index:04d}" + "x" * 1000, "time": 1000 + index}, event_id=f"{index:064x}")
        assert correlator.flush().alerts == []
        (document,) = store.documents.values()
        assert len(document["events"]) == MAX_KEPT and len({e[3] for e in document["events"]}) == MAX_KEPT
        assert len(json.dumps(document, separators=(",", ":"))) < 400_000 * 0.9

    def test_long_rule_keys_keep_fewer_events_not_a_bigger_item(self) -> None:
        """A rule known by a 256-character title: the group keeps the newest events that fit, and the item
        still fits in DynamoDB's 400 KB."""
        title = "T" * 256
        spec = Spec.from_dict({"key": "c", "type": "event_count", "rules": [title], "group": [], "timespan": 86400, "condition": [["gte", 10**6]], "inputs": {title: {"t": {"group": []}}}})
        store = MemoryStore()
        correlator = Correlator([spec], store, {"t": ["time"]})
        for index in range(2000):
            correlator.observe("t", title, {"time": 1_733_356_800.125 + index}, event_id=f"{index:064x}")
        correlator.flush()
        (document,) = store.documents.values()
        assert 500 < len(document["events"]) < 2000 and document["events"][-1][0] == f"{1999:064x}"
        assert len(json.dumps(document, separators=(",", ":"))) < 400_000 * 0.9

    def test_event_time_reads_each_form(self) -> None:
        """ISO 8601, epoch seconds and milliseconds, numeric text and the common log format; None otherwise."""
        forms = ["2024-01-01T00:00:00Z", 1704067200, 1704067200000, "1704067200", "[01/Jan/2024:00:00:00 +0000]", "2024-01-01 00:00:00.000"]
        assert {event_time({"t": form}, ["t"]) for form in forms} == {1704067200.0}
        assert event_time({"t": "soon"}, ["t"]) is None and event_time({}, ["t"]) is None
        assert event_time({"b": 1704067200}, ["a", "b"]) == 1704067200.0


class TestMistakes:
    def diagnostics(self, tmp_path: Path, corr: str):
        write_tree(tmp_path, {"rules/r.yml": BASE + "---\n" + corr})
        result, _ = plan([str(tmp_path / "rules")], str(SCHEMAS))
        return [d for d in result.diagnostics if d.is_error]

    @pytest.mark.parametrize(
        ("change", "code", "line", "col"),
        [
            (("event_count", "event_cnt"), "E012", 24, 9),
            (("timespan: 5m", "timespan: 5 minutes"), "E051", 27, 13),
            (("[userIdentity.userName]", "[userIdentity.usrName]"), "E059", 26, 14),
            (("[failed_login]", "[failed_logn]"), "E056", 25, 11),
        ],
        ids=["unknown type", "timespan in words", "group-by field not in the schema", "missing rule"],
    )
    def test_located_diagnostics(self, tmp_path: Path, change, code, line, col) -> None:
        """Each mistake is one error with its code, at the offending value."""
        (diag,) = self.diagnostics(tmp_path, COUNT.replace(*change))
        assert (diag.code, diag.loc.line, diag.loc.col) == (code, line, col)

    def test_alias_mistakes(self, tmp_path: Path) -> None:
        """An alias mapping a rule the correlation does not take is E055 at the rule; an alias that is no group-by
        name is W056 at the alias; `field` on event_count is W052 at the key: none is silently ignored."""
        corr = COUNT.replace("  condition: {gte: 3}\n", "  condition: {field: sourceIPAddress, gte: 3}\n  aliases:\n    usr: {failed_logn: userIdentity.userName}\n")
        write_tree(tmp_path, {"rules/r.yml": BASE + "---\n" + corr})
        result, _ = plan([str(tmp_path / "rules")], str(SCHEMAS))
        found = sorted((d.code, d.loc.line, d.loc.col) for d in result.diagnostics if d.code in ("E055", "W056", "W052"))
        assert found == [("E055", 30, 11), ("W052", 28, 15), ("W056", 30, 5)]

    def test_circular_chain(self, tmp_path: Path) -> None:
        """Two correlations taking each other are E071, naming the cycle."""
        a = "title: A\nname: a\ncorrelation:\n  type: event_count\n  rules: [b]\n  group-by: [x]\n  timespan: 5m\n  condition: {gte: 2}\n"
        b = a.replace("title: A\nname: a", "title: B\nname: b").replace("rules: [b]", "rules: [a]")
        (diag,) = self.diagnostics(tmp_path, a + "---\n" + b)
        assert diag.code == "E071" and "a -> b -> a" in diag.message


def test_the_language_page_example_runs_as_it_says(tmp_path: Path) -> None:
    """The correlation example of docs/language.md alerts once on three failures of one user in five minutes."""
    import re

    page = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", page.split("## Correlations", 1)[1], re.S).group(1)
    _, alerts, _ = run(tmp_path, BASE + "---\n" + example, [event("carol", m) for m in (0, 1, 2)])
    assert [a["title"] for a in alerts] == ["Brute force against carol"]


def test_a_disabled_rule_under_a_correlation_is_a_warning(tmp_path: Path) -> None:
    """A correlation over a disabled rule would never count: W059 at the reference."""
    write_tree(tmp_path, {"rules/r.yml": BASE.replace("name: failed_login\n", "name: failed_login\nenabled: false\n", 1) + "---\n" + COUNT})
    result, _ = plan([str(tmp_path / "rules")], str(SCHEMAS))
    (diag,) = [d for d in result.diagnostics if d.code == "W059"]
    assert diag.loc.line == 26 and "failed_login" in diag.message
