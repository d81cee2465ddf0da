"""`sigil replay`: run rules over recorded events with the interpreter or the compiled matchers."""

from __future__ import annotations

import importlib
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dsl.ast import Rule
from dsl.expr import Const
from dsl.interpreter import eval_expr
from dsl.lower import rule_expr
from runtime.classifier import Classifier
from runtime.helpers import get_field
from runtime.parsers import evtx

from .build import CompiledRule, generate, plan, write_package
from .events_io import iter_events
from .passes import optimize
from .schemas import SchemaSet

GENERIC = "json"  # the schema-less log type: any JSON object, every rule applies


@dataclass(frozen=True)
class Alert:
    rule: Rule
    log_type: str
    file: str
    event_index: int

    def as_dict(self) -> dict:
        return {
            "rule_id": self.rule.key,
            "title": self.rule.title,
            "level": self.rule.effective_level,
            "log_type": self.log_type,
            "file": self.file,
            "event_index": self.event_index,
        }


def records_of(obj: Any, parser: dict) -> list[Any]:
    """The records one decoded object holds under a log type's parser options."""
    records = [obj]
    path = parser.get("records")
    if path and isinstance(obj, dict):
        inner = get_field(obj, path.removesuffix("[*]"))
        if isinstance(inner, list):
            records = [r for r in inner if isinstance(r, dict)]
    if parser.get("layout") == "evtx":
        records = [evtx.flatten(r) if isinstance(r, dict) else r for r in records]
    return records


class Matchers:
    """Rule matching per log type, by the interpreter or by compiled modules."""

    def __init__(self, compiled: list[CompiledRule], engine: str):
        self.rules_by_key = {c.rule.key: c.rule for c in compiled}
        self.by_type: dict[str, list[CompiledRule]] = {}
        for c in compiled:
            self.by_type.setdefault(c.log_type, []).append(c)
        self.engine = engine
        self.modules: dict[str, Any] = {}

    def match(self, log_type: str, record: Any) -> list[Rule]:
        if self.engine == "compiled":
            module = self.modules.get(log_type)
            return [self.rules_by_key[k] for k in module.match(record)] if module else []
        return [c.rule for c in self.by_type.get(log_type, ()) if eval_expr(c.reference or c.expr, record)]


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


def replay(
    rule_paths: list[str],
    event_paths: list[str],
    schemas_dir: str,
    log_type: str | None,
    engine: str,
    emit: Callable[[Alert], None],
    placeholders_file: str | None = None,
) -> dict:
    """Evaluate the rules on every event; return counts for the summary."""
    result, schemas = plan(rule_paths, schemas_dir, placeholders_file=placeholders_file)
    if log_type == GENERIC:
        result.compiled = generic_rules(result.rules, result.placeholders)
    elif log_type is not None:
        if log_type not in schemas.schemas:
            raise SystemExit(f"sigil replay: unknown log type '{log_type}' (known: {', '.join(sorted(schemas.schemas))}, json)")
        result.compiled = [_unmapped(r, log_type, result.placeholders) for r in result.rules if r.enabled]
    matchers = Matchers(result.compiled, engine)
    with tempfile.TemporaryDirectory(prefix="sigil-replay-") as tmp:
        if engine == "compiled":
            matchers.modules = load_compiled(result, schemas, Path(tmp))
        classifier = Classifier({"log_types": {n: s.runtime_view() for n, s in schemas.schemas.items()}})
        counts = {"events": 0, "alerts": 0, "unclassified": 0}
        for path in event_paths:
            for index, obj in enumerate(iter_events(path)):
                counts["events"] += 1
                for lt, record in _classified(obj, log_type, schemas, classifier):
                    if lt is None:
                        counts["unclassified"] += 1
                        continue
                    for rule in matchers.match(lt, record):
                        counts["alerts"] += 1
                        emit(Alert(rule, lt, path, index))
    counts["rules"] = len(result.rules)
    schema_codes = ("E060", "W060", "E061")  # about schemas: with --log-type they don't apply, else the rule just doesn't run
    counts["diagnostics"] = [d for d in result.diagnostics if d.code not in schema_codes]
    counts["unmapped"] = 0 if log_type else sum(d.code == "E061" for d in result.diagnostics)
    return counts


def _classified(obj: Any, log_type: str | None, schemas: SchemaSet, classifier: Classifier) -> Iterator[tuple[str | None, Any]]:
    if log_type == GENERIC:
        yield GENERIC, obj
        return
    if log_type is not None:
        for record in records_of(obj, schemas.schemas[log_type].parser):
            yield log_type, record
        return
    for candidate in classifier.log_types:
        records = records_of(obj, dict(candidate.parser))
        if records and all(isinstance(r, dict) for r in records) and not candidate.missing(records[0]):
            for record in records:
                yield candidate.name, record
            return
    yield None, obj

