"""`sigil compile`: rules + schemas → diagnostics and the generated `sigil_rules` package."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from dsl.ast import PyRef, Rule
from dsl.diagnostics import Diagnostic, warning
from dsl.documents import Correlation
from dsl.expr import Const, Expr, all_of, fields_of
from dsl.loader import load_paths
from dsl.lower import LowerError, rule_expr, selection_expr
from dsl.modifiers import ModifierError
from dsl.python_hooks import hook_module
from dsl.rename import rename_fields
from runtime.contract import CORRELATIONS_FILE, HOOKS_PACKAGE, MANIFEST_FILE, PACKAGE, SCHEMAS_FILE, RuleMeta

from .checks import CHECKS, check_duplicate_ids, check_missing_ids
from .codegen import RuleInput, generate_module, generate_package_init, module_name
from .correlations import alert_text, correlation_config
from .passes import optimize
from .placeholders import check_placeholders, load_placeholders
from .schemas import LogSourceMapping, SchemaSet, load_schemas

GENERATOR = "sigil 0.1.0"


@dataclass
class CompiledRule:
    """A rule compiled for one log type (a rule whose logsource maps to several log types has one each)."""

    rule: Rule
    log_type: str
    expr: Expr  # the logsource condition and the rule, optimized
    own: Expr  # the rule alone, optimized: what its check function tests
    when: Expr  # the logsource condition, optimized: tested once per group of rules
    reference: Expr  # the logsource condition and the rule as lowered, for the interpreter
    logsource: str = ""  # the Sigma logsource and how the log type maps it, for the generated module's reader
    selections: tuple[tuple[str, Expr], ...] = ()  # each selection lowered, fields renamed as in `own`


@dataclass
class BuildResult:
    rules: list[Rule] = field(default_factory=list)
    compiled: list[CompiledRule] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    modules: dict[str, str] = field(default_factory=dict)  # log type -> source
    hooks: dict[str, str | None] = field(default_factory=dict)  # hook module name -> user file
    placeholders: dict[str, list[str]] = field(default_factory=dict)
    correlations: list[Correlation] = field(default_factory=list)  # as loaded
    correlation_config: dict[str, Any] = field(default_factory=dict)  # compiler.correlations: for runtime.correlate

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def compiled_rule_count(self) -> int:
        return len({id(c.rule) for c in self.compiled})


def display_path(path: str) -> str:
    """A path relative to the working directory when inside it, so builds match across machines."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def plan(
    rule_paths: list[str], schemas_dir: str, placeholders_file: str | None = None
) -> tuple[BuildResult, SchemaSet]:
    """Load and check everything; lower the rules that pass into per-log-type expressions."""
    loaded = load_paths(rule_paths)
    schemas = load_schemas(schemas_dir)
    placeholders, placeholder_diags = load_placeholders(placeholders_file)
    result = BuildResult(rules=loaded.rules, diagnostics=[*loaded.diagnostics, *schemas.diagnostics, *placeholder_diags])
    result.placeholders = placeholders
    result.diagnostics.extend(check_duplicate_ids(loaded.rules))
    result.diagnostics.extend(check_missing_ids(loaded.rules))
    for rule in loaded.rules:
        if not rule.enabled:
            continue
        rule_diags = [d for check in CHECKS for d in check(rule, schemas)] + check_placeholders(rule, placeholders)
        result.diagnostics.extend(rule_diags)
        if any(d.is_error for d in rule_diags):
            continue
        expr = rule_expr(rule, placeholders)
        verdict = optimize(expr)
        if isinstance(verdict, Const):
            code, says = ("W065", "is always true: it would alert on every record") if verdict.value else ("W064", "can never be true: the rule is left out")
            result.diagnostics.append(warning(code, f"the condition {says}", rule.detection.loc, "check the condition and its filters"))
            if not verdict.value:
                continue
        selections = lowered_selections(rule, placeholders)
        for schema, mapping in schemas.for_logsource(rule.logsource):
            mapped = rename_fields(expr, mapping.rename) if mapping.renames else expr
            reference = all_of([mapping.when, mapped])
            result.compiled.append(
                CompiledRule(
                    rule,
                    schema.name,
                    optimize(reference),
                    own=optimize(mapped),
                    when=optimize(mapping.when),
                    reference=reference,
                    logsource=logsource_text(mapping, schema.name, fields_of(expr)),
                    selections=tuple((n, rename_fields(e, mapping.rename) if mapping.renames else e) for n, e in selections),
                )
            )
    result.diagnostics.extend(check_identical_logic(result.compiled))
    result.correlations = loaded.correlations
    result.correlation_config, correlation_diags = correlation_config(loaded.correlations, loaded.rules, result.compiled, schemas)
    result.diagnostics.extend(correlation_diags)
    return result, schemas


def lowered_selections(rule: Rule, placeholders: dict[str, list[str]]) -> tuple[tuple[str, Expr], ...]:
    """Each selection of the rule as a tree (those that cannot be lowered alone left out): the names
    the generated module writes above the tests that come from them."""
    found = []
    for selection in rule.detection.selections:
        try:
            found.append((selection.name, selection_expr(selection, placeholders)))
        except (LowerError, ModifierError):
            continue
    return tuple(found)


def logsource_text(mapping: LogSourceMapping, log_type: str, fields: set[str]) -> str:
    """`product=windows category=process_creation → windows`, and the renames of the fields the rule reads."""
    keys = " ".join(f"{k}={v}" for k, v in mapping.keys().items()) or "any"
    renamed = [f"{f} → {mapping.rename(f)}" for f in sorted(fields) if mapping.rename(f) != f]
    return f"{keys} → {log_type}" + (f", renames {', '.join(renamed)}" if renamed else "")


def check_identical_logic(compiled: list[CompiledRule]) -> list[Diagnostic]:
    """A warning for a rule whose optimized logic equals an earlier rule's on the same log type."""
    first: dict[tuple[str, Expr], CompiledRule] = {}
    diags = []
    warned: set[str] = set()  # a rule compiled for several log types is warned about once
    for c in compiled:
        key = (c.log_type, c.expr)
        other = first.setdefault(key, c)
        if other is not c and other.rule.key != c.rule.key and c.rule.key not in warned:
            warned.add(c.rule.key)
            diags.append(warning("W066", f"this rule's logic is identical to '{other.rule.title}' ({other.rule.loc})", c.rule.loc, "merge the two rules or make them differ"))
    return diags


def rule_metadata(rule: Rule) -> RuleMeta:
    """The rule's entry in its module's `RULES` (and in manifest.json)."""
    return {
        "title": alert_text(rule.title, rule.templates),
        "level": rule.effective_level,
        "description": alert_text(rule.description or "", rule.templates),
        "path": display_path(rule.path),
        "line": rule.loc.line,
        "outputs": list(rule.outputs),
        "tags": list(rule.tags),
        "context": [list(pair) for pair in rule.context],
        "dedup": {"keys": list(rule.dedup.keys), "window_seconds": rule.dedup.window_seconds} if rule.dedup else None,
        "title_hook": hook_name(rule.python.title),
        "context_hook": hook_name(rule.python.context),
    }


@overload
def hook_name(ref: PyRef) -> str: ...
@overload
def hook_name(ref: None) -> None: ...
def hook_name(ref: PyRef | None) -> str | None:
    """`module:function` inside sigil_rules._hooks, for hooks the runtime calls on alerts."""
    return f"{hook_module(ref.module_path, ref.resolved)}:{ref.function}" if ref else None


def generate(result: BuildResult, schemas: SchemaSet) -> None:
    by_type: dict[str, list[RuleInput]] = {}
    for c in sorted(result.compiled, key=lambda c: (c.log_type, display_path(c.rule.path), c.rule.loc.line)):
        meta = rule_metadata(c.rule)
        origin = f"{meta['path']}:{meta['line']} {c.rule.title}"
        condition = " | ".join(c.rule.detection.condition_texts)
        by_type.setdefault(c.log_type, []).append(
            RuleInput(c.rule.key, origin, c.own, meta, c.when, c.logsource, condition, c.selections)
        )
    generated = {lt: generate_module(lt, rules, GENERATOR) for lt, rules in sorted(by_type.items())}
    result.modules = {lt: g.source for lt, g in generated.items()}
    result.hooks = {name: path for g in generated.values() for name, path in g.hooks.items()}
    for c in result.compiled:
        for ref in (c.rule.python.title, c.rule.python.context):
            if ref is not None:
                result.hooks[hook_module(ref.module_path, ref.resolved)] = ref.resolved


def write_package(result: BuildResult, schemas: SchemaSet, out_dir: Path) -> Path:
    """Write build/sigil_rules/ afresh: modules, __init__, _hooks/, schemas.json, manifest.json, correlations.json."""
    package = out_dir / PACKAGE
    if package.exists():
        shutil.rmtree(package)
    package.mkdir(parents=True)
    modules = {lt: module_name(lt) for lt in result.modules}
    for log_type, source in result.modules.items():
        (package / f"{modules[log_type]}.py").write_text(source, encoding="utf-8")
    if result.hooks:
        hooks_dir = package / HOOKS_PACKAGE
        hooks_dir.mkdir()
        (hooks_dir / "__init__.py").write_text('"""Python escape hatches copied from the rule repository."""\n', encoding="utf-8")
        for name, hook_file in sorted(result.hooks.items()):
            if hook_file is None:  # the loader reports a hook it cannot find (E080) and builds no rule with it
                raise ValueError(f"hook module {name} names no file")
            shutil.copyfile(hook_file, hooks_dir / f"{name}.py")
    (package / "__init__.py").write_text(generate_package_init(modules, GENERATOR), encoding="utf-8")
    _write_json(package / SCHEMAS_FILE, schemas.runtime_view())
    _write_json(package / MANIFEST_FILE, manifest(result))
    if result.correlation_config.get("correlations"):
        _write_json(package / CORRELATIONS_FILE, result.correlation_config)
    return package


def manifest(result: BuildResult) -> dict[str, Any]:
    files = sorted({display_path(r.path) for r in result.rules})
    return {
        "generator": GENERATOR,
        "rules": [
            {"id": c.rule.key, "log_type": c.log_type, **rule_metadata(c.rule)}
            for c in sorted(result.compiled, key=lambda c: (c.log_type, c.rule.key))
        ],
        "sources": {f: hashlib.sha256(Path(f).read_bytes()).hexdigest() for f in files if Path(f).exists()},
    }


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    # A lone surrogate (YAML's "\\ud800") has no UTF-8 form: inside a JSON string `backslashreplace` writes
    # it as the JSON escape that reads back as the same text.
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_bytes(text.encode("utf-8", "backslashreplace"))


def compile_rules(
    rule_paths: list[str], schemas_dir: str, out_dir: str | Path, keep_going: bool = False, placeholders_file: str | None = None
) -> BuildResult:
    result, schemas = plan(rule_paths, schemas_dir, placeholders_file)
    if result.errors and not keep_going:
        return result
    generate(result, schemas)
    write_package(result, schemas, Path(out_dir))
    return result
