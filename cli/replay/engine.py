"""`sigil replay`: run rules over recorded events with the interpreter or the compiled matchers."""

from __future__ import annotations

import functools
import importlib
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.build import CompiledRule, generate, plan, rule_metadata, write_package
from compiler.correlations import correlation_config
from compiler.passes import optimize
from compiler.placeholders import check_placeholders
from compiler.schemas import SchemaSet
from dsl.ast import Rule
from dsl.expr import Const
from dsl.interpreter import eval_expr
from dsl.lower import rule_expr
from dsl.rename import rename_fields
from runtime.alert_hooks import alert_with_hooks
from runtime.classifier import Classifier
from runtime.correlate import Correlator, event_time
from runtime.dedup import Deduper
from runtime.logs import brief
from runtime.state import MemoryStore

from .hooks import HookResolver
from .records import GENERIC, file_records

MAX_NOTES = 5  # notes on records not replayed, or replayed unlike the Lambda, printed before the summary


@dataclass(frozen=True)
class Alert:
    rule: Rule
    log_type: str
    file: str
    event_index: int
    record_index: int = 0
    document: dict | None = field(default=None, compare=False)  # the alert as the Lambda builds it

    def as_lambda_dict(self) -> dict:
        """The alert document the Lambda would send (hooks run, title rendered), and where its event is."""
        return {**(self.document or {}), "file": self.file, "event_index": self.event_index, "record_index": self.record_index}

    def as_dict(self) -> dict:
        return {
            "rule_id": self.rule.key,
            "title": self.rule.title,
            "level": self.rule.effective_level,
            "log_type": self.log_type,
            "file": self.file,
            "event_index": self.event_index,
            "record_index": self.record_index,
        }


@dataclass(frozen=True)
class CorrelationAlert:
    """A correlation's alert: the window that fired, found while replaying ``file``."""

    document: dict
    file: str

    def as_dict(self) -> dict:
        record = self.document["record"]
        return {
            "rule_id": self.document["rule_id"],
            "title": self.document["title"],
            "level": self.document["level"],
            "log_type": self.document["log_type"],
            "file": self.file,
            "group": {k: v for k, v in record.items() if k != "correlation"},
            "correlation": record["correlation"],
        }

    def as_lambda_dict(self) -> dict:
        return {**self.document, "file": self.file}


@dataclass(frozen=True)
class FollowUp:
    """The alert merging the later matches of a dedup window (``record.dedup``)."""

    document: dict
    file: str

    def as_dict(self) -> dict:
        shown = {k: self.document[k] for k in ("rule_id", "title", "level", "log_type")}
        return {**shown, "file": self.file, "dedup": self.document["record"]["dedup"]}

    def as_lambda_dict(self) -> dict:
        return {**self.document, "file": self.file}


class Matchers:
    """Rule matching per log type, by the interpreter or by compiled modules."""

    def __init__(self, compiled: list[CompiledRule], engine: str):
        self.rules_by_key = {c.rule.key: c.rule for c in compiled}
        self.by_type: dict[str, list[CompiledRule]] = {}
        for c in compiled:
            self.by_type.setdefault(c.log_type, []).append(c)
        self.engine = engine
        self.modules: dict[str, Any] = {}

    def match(self, log_type: str, record: Any, errors: list | None = None) -> list[Rule]:
        """The rules matching `record`, each once (a rule has a form per logsource mapping); a rule that
        raises is left out and recorded in ``errors`` as ``(rule key, exception)``, as in the Lambda."""
        errors = [] if errors is None else errors
        if self.engine == "compiled":
            module = self.modules.get(log_type)
            keys = module.match(record, errors) if module else []
        else:
            keys = []
            for c in self.by_type.get(log_type, ()):
                try:
                    if eval_expr(c.reference or c.expr, record):
                        keys.append(c.rule.key)
                except Exception as exc:  # a hostile record: one rule error, the other rules still run
                    errors.append((c.rule.key, exc))
        return [self.rules_by_key[k] for k in dict.fromkeys(keys)]


def load_compiled(result, schemas: SchemaSet, workdir: Path) -> dict[str, Any]:
    """Generate the package into `workdir` and import its modules under a private name."""
    generate(result, schemas)
    package = write_package(result, schemas, workdir)
    for name in [m for m in sys.modules if m == package.name or m.startswith(package.name + ".")]:
        del sys.modules[name]  # a previous replay in this process may have loaded other rules
    sys.path.insert(0, str(workdir))
    try:
        init = importlib.import_module(package.name)
        return {lt: importlib.import_module(f"{package.name}.{mod}") for lt, mod in init.LOG_TYPES.items()}
    finally:
        sys.path.remove(str(workdir))


def generic_rules(rules: list[Rule], placeholders: dict) -> list[CompiledRule]:
    return [_unmapped(r, GENERIC, placeholders) for r in rules if r.enabled]


def _unmapped(rule: Rule, log_type: str, placeholders: dict) -> CompiledRule:
    """A rule run against a log type given on the command line: no logsource condition."""
    reference = rule_expr(rule, placeholders)
    own = optimize(reference)
    return CompiledRule(rule, log_type, own, own=own, when=Const(True), reference=reference)


def forced_rules(rule: Rule, log_type: str, schemas: SchemaSet, placeholders: dict) -> list[CompiledRule]:
    """A rule run against the log type given on the command line: without the logsource's condition, but
    with its field renames when the rule's logsource maps to that log type (one form per mapping)."""
    expr = rule_expr(rule, placeholders)
    forms = []
    for schema, mapping in schemas.for_logsource(rule.logsource):
        if schema.name == log_type:
            reference = rename_fields(expr, mapping.rename) if mapping.renames else expr
            own = optimize(reference)
            forms.append(CompiledRule(rule, log_type, own, own=own, when=Const(True), reference=reference))
    return forms or [_unmapped(rule, log_type, placeholders)]


def replay(
    rule_paths: list[str],
    event_paths: list[str],
    schemas_dir: str,
    log_type: str | None,
    engine: str,
    emit: Callable[[Alert], None],
    placeholders_file: str | None = None,
) -> dict:
    """Evaluate the rules on every record of the event files (see `cli.replay.records`); return counts
    for the summary, with the first notes on records not replayed, or replayed unlike the Lambda."""
    result, schemas = plan(rule_paths, schemas_dir, placeholders_file=placeholders_file)
    # A rule whose placeholders expand too far (E122, reported by plan) cannot be lowered at all.
    rules = [r for r in result.rules if not any(d.is_error for d in check_placeholders(r, result.placeholders))]
    if log_type == GENERIC:
        result.compiled = generic_rules(rules, result.placeholders)
    elif log_type is not None:
        if log_type not in schemas.schemas:
            raise SystemExit(f"sigil replay: unknown log type '{log_type}' (known: {', '.join(sorted(schemas.schemas))}, json)")
        result.compiled = [c for r in rules if r.enabled for c in forced_rules(r, log_type, schemas, result.placeholders)]
    matchers = Matchers(result.compiled, engine)
    with tempfile.TemporaryDirectory(prefix="sigil-replay-") as tmp:
        if engine == "compiled":
            matchers.modules = load_compiled(result, schemas, Path(tmp))
        views = {"log_types": {n: s.runtime_view() for n, s in schemas.schemas.items()}}
        classifier = Classifier(views)
        counts: dict = {"events": 0, "alerts": 0, "unclassified": 0, "lenient": 0, "rule_errors": 0, "untimed": 0, "late": 0, "merged": 0, "notes": []}
        config, _ = correlation_config(result.correlations, result.rules, result.compiled, schemas)  # as compiled here
        correlator = Correlator.from_config(config, MemoryStore(), views)
        deduper = Deduper(MemoryStore())
        hooks = HookResolver(result.rules)
        metadata = functools.cache(rule_metadata)

        def warn(note: str) -> None:
            if len(counts["notes"]) < MAX_NOTES:
                counts["notes"].append(note)
        for path in event_paths:
            last = -1
            for replayed in file_records(path, classifier, log_type):
                counts["events"] += replayed.event_index != last
                last = replayed.event_index
                if replayed.log_type is None:
                    counts["unclassified"] += 1
                    warn(f"{path}: event {replayed.event_index}: not replayed: {replayed.note}")
                    continue
                if replayed.note and replayed.record_index == 0:  # once per event, not per record
                    counts["lenient"] += 1
                    warn(f"{path}: event {replayed.event_index}: {replayed.note}; replayed as {replayed.log_type}")
                errors: list = []
                for rule in matchers.match(replayed.log_type, replayed.record, errors):
                    if correlator.takes(rule.key):
                        untimed = correlator.observe(replayed.log_type, rule.key, replayed.record)
                        if untimed:
                            counts["untimed"] += 1
                            warn(f"{path}: event {replayed.event_index}: {untimed}")
                    if not correlator.alerts_alone(rule.key):
                        continue  # referred to by a correlation without generate: true
                    counts["alerts"] += 1
                    document, failures = alert_with_hooks(
                        rule.key, metadata(rule), replayed.log_type, path, replayed.record, hooks.resolve
                    )
                    for failure in failures:  # as the Lambda: a rule error, the alert still goes out
                        counts["rule_errors"] += 1
                        warn(f"{path}: event {replayed.event_index}: rule {failure.rule_id}: {failure.error}")
                    if rule.dedup is not None:
                        when = event_time(replayed.record, views["log_types"].get(replayed.log_type, {}).get("timestamp") or ())
                        admission = deduper.admit(document, metadata(rule)["dedup"], time.time() if when is None else when)
                        for follow_up in admission.follow_ups:
                            emit(FollowUp(follow_up, path))
                        counts["alerts"] += len(admission.follow_ups) - (not admission.send)
                        counts["merged"] += not admission.send
                        if not admission.send:
                            continue
                    emit(Alert(rule, replayed.log_type, path, replayed.event_index, replayed.record_index, document))
                for key, exc in errors:  # as the Lambda: a rule that raises is a rule error, the others still run
                    counts["rule_errors"] += 1
                    warn(f"{path}: event {replayed.event_index}: rule {key} raised {brief(exc)}")
            flushed = correlator.flush()  # a file as a batch; the state carries over to the next file
            counts["late"] += flushed.late
            counts["alerts"] += len(flushed.alerts)
            for document in flushed.alerts:
                emit(CorrelationAlert(document, path))
            correlator.confirm(a["alert_id"] for a in flushed.alerts)
        for follow_up in deduper.flush(None):  # the end of the replay closes every dedup window
            counts["alerts"] += 1
            emit(FollowUp(follow_up, event_paths[-1]))
    counts["rules"] = len(result.rules)
    schema_codes = ("E060", "W060", "E061")  # about schemas: with --log-type they don't apply, else the rule just doesn't run
    counts["diagnostics"] = [d for d in result.diagnostics if d.code not in schema_codes]
    counts["unmapped"] = 0 if log_type else sum(d.code == "E061" for d in result.diagnostics)
    return counts
