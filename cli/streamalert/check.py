"""Replay StreamAlert test events through our classifier (`sigil streamalert check --conf DIR --tests DIR`).

StreamAlert's conf/schemas are imported (into a temporary directory) with `cli.streamalert.importer`, and
its clusters' ``data_sources`` become the source map. Every test event (JSON lists in ``*.json`` under the
tests directory, ../shared/notes/streamalert.md §8) is classified as the runtime would classify its payload:
``data`` as sent, or ``override_record`` over the log's schema filled with type defaults, among the log types
its ``service:source`` may carry. An event is right when it yields records and all of them get its ``log``.
Prints one line per mismatch, then ``N/M records classified as expected``. Exit status: 0 when all are right,
1 on any mismatch, 2 when the directories cannot be read.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.schemas import load_schemas
from runtime.classifier import Classifier
from runtime.sources.source_map import SourceMap

from .importer import import_conf, write

DEFAULTS: dict[str, Any] = {"string": "", "integer": 0, "float": 0.0, "boolean": False}


@dataclass(frozen=True)
class Case:
    """One StreamAlert test event and where it is: ``file`` relative to the tests directory, ``index`` in it."""

    file: str
    index: int
    event: Mapping[str, Any]

    @property
    def label(self) -> str:
        return f"{self.file}[{self.index}]"


@dataclass(frozen=True)
class Mismatch:
    """A test event not classified as its ``log``: what it got (log types, or the reason there were none)."""

    test: Case
    expected: str
    got: str

    def line(self) -> str:
        description = self.test.event.get("description", "")
        return f"{self.test.label} {description!r}: expected {self.expected}, got {self.got}"


@dataclass(frozen=True)
class CheckResult:
    """How many test events were checked, and the ones that missed."""

    total: int
    mismatches: tuple[Mismatch, ...]

    @property
    def right(self) -> int:
        return self.total - len(self.mismatches)


@dataclass(frozen=True)
class Replayer:
    """The classifier, source map and raw StreamAlert log schemas a replay needs."""

    classifier: Classifier
    sources: SourceMap
    logs: Mapping[str, Mapping[str, Any]]

    @classmethod
    def from_conf(cls, conf: Path) -> Replayer:
        """Import ``conf`` (schemas and clusters' data_sources) and build the runtime classifier from it."""
        result = import_conf(conf)
        with tempfile.TemporaryDirectory(prefix="sigil-streamalert-") as tmp:
            write(result, Path(tmp))
            schemas = load_schemas(tmp)
        views = {name: schema.runtime_view() for name, schema in schemas.schemas.items()}
        return cls(Classifier({"log_types": views}), SourceMap.from_config(result.sources), streamalert_logs(conf))

    def check(self, test: Case) -> Mismatch | None:
        """Classify one test event; return its mismatch, or None when every record got the expected log type."""
        event = test.event
        expected = str(event.get("log"))
        try:
            data = payload(event, self.logs)
        except (KeyError, TypeError, AttributeError) as exc:
            return Mismatch(test, expected, f"no payload: {type(exc).__name__}: {exc}")
        among = self.sources.allowed(f"{event.get('service')}:{event.get('source')}", self.classifier.names)
        outcome = self.classifier.classify_payload(data, among)
        got = [c.log_type or f"nothing ({c.reason})" for _, c in outcome.records]
        if got and all(log_type == expected for log_type in got):
            return None
        return Mismatch(test, expected, ", ".join(got) if got else f"nothing ({outcome.error})")


def streamalert_logs(conf: Path) -> dict[str, dict[str, Any]]:
    """Every StreamAlert log entry by name, straight from ``conf/schemas/*.json`` (or ``conf/logs.json``)."""
    paths = sorted((conf / "schemas").glob("*.json")) or [p for p in [conf / "logs.json"] if p.is_file()]
    logs: dict[str, dict[str, Any]] = {}
    for path in paths:
        logs.update(json.loads(path.read_text(encoding="utf-8")))
    return logs


def payload(event: Mapping[str, Any], logs: Mapping[str, Mapping[str, Any]]) -> bytes:
    """The raw payload StreamAlert's test harness would deliver (``override_record`` over type defaults)."""
    data = event.get("data")
    if data is None:
        log = logs[event["log"]]
        schema = (log.get("configuration") or {}).get("envelope_keys", log["schema"])
        data = {key: default(kind) for key, kind in schema.items()} | dict(event["override_record"])
    return (data if isinstance(data, str) else json.dumps(data)).encode()


def default(kind: Any) -> Any:
    """The value StreamAlert fills in for a schema type: empty string, zero, false, or an empty container."""
    return DEFAULTS[kind] if isinstance(kind, str) else type(kind)()


def read_cases(tests: Path) -> Iterator[Case]:
    """Every event of every ``*.json`` test file under ``tests``, in path order; ValueError for other JSON."""
    for path in sorted(tests.rglob("*.json")):
        events = json.loads(path.read_text(encoding="utf-8"))
        name = path.relative_to(tests).as_posix()
        if not isinstance(events, list) or not all(isinstance(e, Mapping) for e in events):
            raise ValueError(f"{name} is not a StreamAlert test file (a JSON list of events)")
        for index, event in enumerate(events):
            yield Case(name, index, event)


def check(conf: Path, tests: Path) -> CheckResult:
    """Replay every test event under ``tests`` with the schemas and source map of ``conf``."""
    replayer = Replayer.from_conf(conf)
    events = list(read_cases(tests))
    mismatches = tuple(m for m in (replayer.check(test) for test in events) if m is not None)
    return CheckResult(len(events), mismatches)
