"""Load the generated ``sigil_rules`` package once per cold start, and evaluate its matchers safely.

``match(record, errors)`` of a log type's module runs every rule at once and records a rule that raises
in ``errors`` while the others still run. A module that raises anyway leaves the record unevaluated, with
one error. The package must follow `runtime.contract` (its names, files and version): one that does not
is refused at load with a ContractError.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import ModuleType
from typing import Any

from runtime.classifier import Classifier
from runtime.contract import (
    CORRELATIONS_FILE,
    HOOKS_PACKAGE,
    PACKAGE,
    SCHEMAS_FILE,
    SOURCES_FILE,
    ContractError,
    RuleMeta,
    check_version,
)


@dataclass(frozen=True, slots=True)
class RuleError:
    """An exception raised while matching: by one rule, or (``rule_id`` None) by the whole module."""

    log_type: str
    rule_id: str | None
    error: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The ids of the matching rules; ``evaluated`` is False when no rule could be run on the record."""

    rule_ids: list[str]
    errors: list[RuleError] = field(default_factory=list)
    evaluated: bool = True


@dataclass(frozen=True)
class RuleSet:
    """The compiled rules: one matcher module per log type, the classifier, and the package's source map."""

    modules: Mapping[str, ModuleType]
    schemas: Mapping[str, Any]
    classifier: Classifier
    sources: Mapping[str, Any] | None = None
    correlations: Mapping[str, Any] | None = None  # correlations.json (compiler/correlations.py), if any

    def matcher(self, log_type: str) -> Callable[[dict[str, Any]], list[str]] | None:
        """Return ``match`` of the log type's module, or None when no rule targets that log type."""
        module = self.modules.get(log_type)
        return module.match if module is not None else None

    def rule(self, log_type: str, rule_id: str) -> Mapping[str, Any]:
        """Return the metadata of a rule (a `runtime.contract.RuleMeta`), or an empty mapping if unknown."""
        module = self.modules.get(log_type)
        if module is None or rule_id not in module.RULES:
            return {}
        meta: RuleMeta = module.RULES[rule_id]
        return meta

    def hook(self, log_type: str, ref: str) -> Callable[[Any], Any]:
        """Return the title or context hook ``module:function`` of a rule of ``log_type`` (``sigil_rules._hooks``).

        Raises (ImportError, AttributeError...) when it cannot be found: the caller charges that to the rule.
        """
        module = self.modules[log_type]
        return _hook(module.__name__.rpartition(".")[0], ref)

    def evaluate(self, log_type: str, record: dict[str, Any]) -> Evaluation:
        """Run the log type's rules on ``record``; exceptions become RuleErrors, never propagate."""
        module = self.modules.get(log_type)
        if module is None:
            return Evaluation([])
        raised: list[tuple[str, BaseException]] = []
        try:
            matched = list(module.match(record, raised))
        except Exception as exc:  # generated code must not take the batch down
            return Evaluation([], [RuleError(log_type, None, repr(exc))], evaluated=False)
        return Evaluation(matched, [RuleError(log_type, rule_id, repr(exc)) for rule_id, exc in raised])


@functools.cache
def _hook(package: str, ref: str) -> Callable[[Any], Any]:
    """Import ``package._hooks.<module>`` once and return its function (``ref`` is ``module:function``)."""
    module_name, _, function = ref.partition(":")
    found = getattr(importlib.import_module(f"{package}.{HOOKS_PACKAGE}.{module_name}"), function)
    if not callable(found):
        raise TypeError(f"{ref} is not a function")
    return found


def load_rules(package: str = PACKAGE) -> RuleSet:
    """Import ``package``, its ``LOG_TYPES`` modules and its schemas file.

    Raises ContractError when the package was generated for another contract version or lacks a part
    the contract names (``LOG_TYPES``; per module ``LOG_TYPE``, ``RULES``, ``match``; schemas.json).
    """
    root = importlib.import_module(package)
    check_version(vars(root).get("CONTRACT"), package)
    log_types = vars(root).get("LOG_TYPES")
    if not isinstance(log_types, dict):
        raise ContractError(f"{package} lacks LOG_TYPES")
    files = resources.files(package)
    schemas_path = files.joinpath(SCHEMAS_FILE)
    if not schemas_path.is_file():
        raise ContractError(f"{package} lacks {SCHEMAS_FILE}")
    schemas = json.loads(schemas_path.read_text(encoding="utf-8"))
    known = schemas.get("log_types", {})
    modules: dict[str, ModuleType] = {}
    for log_type, module_name in log_types.items():
        module = importlib.import_module(f"{package}.{module_name}")
        names = vars(module)
        if names.get("LOG_TYPE") != log_type:
            raise ContractError(f"{package}.{module_name}.LOG_TYPE is not {log_type!r}")
        if log_type not in known:
            raise ContractError(f"log type {log_type!r} has rules but no entry in {SCHEMAS_FILE}")
        if not callable(names.get("match")) or not isinstance(names.get("RULES"), dict):
            raise ContractError(f"{package}.{module_name} lacks match() or RULES")
        modules[log_type] = module
    sources_file = files.joinpath(SOURCES_FILE)
    sources = json.loads(sources_file.read_text(encoding="utf-8")) if sources_file.is_file() else None
    correlations_file = files.joinpath(CORRELATIONS_FILE)
    correlations = json.loads(correlations_file.read_text(encoding="utf-8")) if correlations_file.is_file() else None
    return RuleSet(modules=modules, schemas=schemas, classifier=Classifier(schemas), sources=sources, correlations=correlations)


@functools.cache
def rule_set() -> RuleSet:
    """Return the rules of ``sigil_rules``, loaded on first use (``rule_set.cache_clear()`` reloads)."""
    return load_rules()
