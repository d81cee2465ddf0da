"""dedup: the first alert at once, later matches with the same keys within the window merged into one
follow-up alert, sent when the window closes (in replay: a later match past the window, or the end)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from support.stateful import compiled, kinesis_event, replay, write_tree

from runtime.dedup import Deduper, Pending
from runtime.state import MemoryStore

DOC = (Path(__file__).resolve().parents[1] / "docs" / "extensions.md").read_text(encoding="utf-8")
DEDUP_RULE = next(b for b in re.findall(r"```yaml\n(.*?)```", DOC, re.S) if "dedup:" in b)


def denied(arn: str, minute: int) -> dict:
    return {
        "eventVersion": "1.08",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "eventTime": f"2024-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z",
        "errorCode": "AccessDenied",
        "userIdentity": {"arn": arn},
    }


def run(tmp_path: Path, *files: list[dict]) -> tuple[list[dict], str]:
    write_tree(tmp_path, {"rules/r.yml": DEDUP_RULE})
    paths = []
    for index, events in enumerate(files):
        path = tmp_path / f"e{index}.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in events))
        paths.append(str(path))
    status, alerts, err = replay(["--rules", str(tmp_path / "rules"), "--lambda-alerts", *paths])
    assert status == 0
    return alerts, err


class TestReplay:
    def test_docs_example_merges_within_the_window(self, tmp_path: Path) -> None:
        """Alice's four denials in 15 minutes give her first alert and one follow-up of 3 at the end; bob's one
        denial alerts once; a denial of alice 20 minutes later opens a new window."""
        events = [denied("alice", 0), denied("alice", 5), denied("bob", 6), denied("alice", 9), denied("alice", 14), denied("alice", 40)]
        alerts, err = run(tmp_path, events)
        firsts = [a for a in alerts if "dedup" not in a["record"]]
        (follow_up,) = [a for a in alerts if "dedup" in a["record"]]
        assert [(a["record"]["userIdentity"]["arn"], a["event_index"]) for a in firsts] == [("alice", 0), ("bob", 2), ("alice", 5)]
        merged = follow_up["record"]["dedup"]
        assert (merged["count"], merged["first_time"], merged["last_time"]) == (3, "2024-01-01T00:05:00Z", "2024-01-01T00:14:00Z")
        assert follow_up["record"]["userIdentity.arn"] == "alice" and follow_up["title"] == "Repeated access denied (+3 merged)"
        assert merged["first_alert_id"] == firsts[0]["alert_id"] and len(merged["sample"]) == 3
        assert "3 merged by dedup" in err and "4 alerts" in err

    def test_the_follow_up_goes_out_when_a_later_match_opens_a_window(self, tmp_path: Path) -> None:
        """The follow-up of a closed window comes before the alert that opened the next one."""
        alerts, _ = run(tmp_path, [denied("alice", 0), denied("alice", 1)], [denied("alice", 30)])
        assert [("dedup" in a["record"], a["file"].endswith("e1.jsonl")) for a in alerts] == [(False, False), (True, True), (False, True)]


class TestEngine:
    def test_a_retried_alert_is_not_merged_twice(self) -> None:
        """The same alert admitted twice counts once; the first alert retried is sent again (outputs dedupe it)."""
        deduper = Deduper(MemoryStore())
        dedup = {"keys": ["u"], "window_seconds": 60}
        first = {"alert_id": "a1", "rule_id": "r", "title": "T", "record": {"u": "x"}}
        later = {**first, "alert_id": "a2"}
        assert deduper.admit(first, dedup, 0).send
        assert not deduper.admit(later, dedup, 10).send and not deduper.admit(later, dedup, 10).send
        assert deduper.admit(first, dedup, 0).send
        (follow_up,) = deduper.flush(None)
        assert follow_up["record"]["dedup"]["count"] == 1

    def test_flush_closes_only_past_windows(self) -> None:
        """A flush at a time inside the window sends nothing; after its end, the follow-up; then nothing more."""
        deduper = Deduper(MemoryStore())
        dedup = {"keys": ["u"], "window_seconds": 60}
        for index, when in enumerate((0, 30)):
            deduper.admit({"alert_id": f"a{index}", "rule_id": "r", "title": "T", "record": {"u": "x"}}, dedup, when)
        assert deduper.flush(50) == []
        assert len(deduper.flush(61)) == 1 and deduper.flush(1000) == []

    @settings(max_examples=150, deadline=None, database=None)
    @given(st.lists(st.tuples(st.sampled_from("xyz"), st.integers(0, 200), st.integers(0, 12)), max_size=25), st.data())
    def test_batches_admit_as_one_alert_at_a_time(self, alerts: list, data) -> None:
        """The Lambda's batch admission (one update per key per batch) sends and merges what replay's one alert
        at a time does, whatever the batches, retried batches included."""
        dedup = {"keys": ["u"], "window_seconds": 60}
        documents = [{"alert_id": f"a{i}", "rule_id": "r", "title": "T", "record": {"u": u, "n": i}} for i, (u, _, _) in enumerate(alerts)]
        one, batched = Deduper(MemoryStore()), Deduper(MemoryStore())
        expected = []
        for document, (_, when, _) in zip(documents, alerts, strict=True):
            admission = one.admit(document, dedup, when)
            expected += [*(f["alert_id"] for f in admission.follow_ups), *([document["alert_id"]] if admission.send else [])]
        cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(alerts))), max_size=4)))
        got = []
        for start, end in zip([0, *cuts], [*cuts, len(alerts)], strict=False):
            pending = [Pending(d, dedup, float(w), f"i{start}") for d, (_, w, _) in zip(documents[start:end], alerts[start:end], strict=True)]
            got += [a["alert_id"] for a in batched.admit_all(pending).alerts]
            retried = batched.admit_all(pending)  # a retry of the batch: nothing merged twice
            assert all(a["alert_id"] in got for a in retried.alerts)
        assert got == expected
        assert sorted(f["record"]["dedup"]["count"] for f in batched.flush(None)) == sorted(f["record"]["dedup"]["count"] for f in one.flush(None))

    def test_the_sample_is_bounded_in_records_and_bytes(self) -> None:
        """Twelve small merged records keep ten; big ones keep what fits in 64 KB; the count counts them all."""
        for size, kept in ((10, 10), (30_000, 2)):
            deduper = Deduper(MemoryStore())
            dedup = {"keys": ["u"], "window_seconds": 60}
            for index in range(13):
                deduper.admit({"alert_id": f"a{index}", "rule_id": "r", "title": "T", "record": {"u": "x", "pad": "p" * size}}, dedup, index)
            (follow_up,) = deduper.flush(None)
            assert (follow_up["record"]["dedup"]["count"], len(follow_up["record"]["dedup"]["sample"])) == (12, kept)


def test_alerts_sent_at_the_end_of_the_batch_count_per_output_and_log_type(tmp_path: Path, monkeypatch) -> None:
    """A dedup rule's alerts, delivered when the batch ends, are tallied per output and per log type as others."""
    from types import SimpleNamespace

    from runtime.pipeline import Runtime, process_batch
    from runtime.stateful import Stateful

    def deliver(alerts: list[dict]) -> SimpleNamespace:
        ids = tuple(a["alert_id"] for a in alerts)
        counts = SimpleNamespace(delivered=len(ids), dead_lettered=0, failed=0, retries=1)
        return SimpleNamespace(delivered=ids, dead_lettered=(), failed=(), outputs={"aws-sns:alerts": counts})

    monkeypatch.chdir(tmp_path)
    write_tree(tmp_path, {"rules/r.yml": DEDUP_RULE})
    with compiled(tmp_path) as rules:
        stateful = Stateful.from_rules(rules, MemoryStore())
        result = process_batch(kinesis_event(denied("alice", 0), denied("alice", 1), denied("bob", 2)), Runtime(rules, deliver, stateful=stateful))
    assert (result.stats.alerts, result.stats.delivered, result.failures) == (2, 2, [])
    assert dict(result.outputs["aws-sns:alerts"]) == {"delivered": 2, "dead_lettered": 0, "failed": 0, "retries": 1}
    assert result.log_types["cloudtrail"].alerts == 2
