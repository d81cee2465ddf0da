"""Load the generated ``sigil_rules`` package (matcher modules and ``schemas.json``) once per cold start."""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from types import ModuleType
from typing import Any

from runtime.classifier import Classifier

PACKAGE = "sigil_rules"


@dataclass(frozen=True)
class RuleSet:
    """The compiled rules: one matcher module per log type, and the classifier built from the schemas."""

    modules: Mapping[str, ModuleType]
    schemas: Mapping[str, Any]
    classifier: Classifier

    def matcher(self, log_type: str) -> Callable[[dict[str, Any]], list[str]] | None:
        """Return ``match`` of the log type's module, or None when no rule targets that log type."""
        module = self.modules.get(log_type)
        return module.match if module is not None else None

    def rule(self, log_type: str, rule_id: str) -> Mapping[str, Any]:
        """Return the metadata of a rule (``title``, ``level``...), or an empty mapping if unknown."""
        module = self.modules.get(log_type)
        return module.RULES.get(rule_id, {}) if module is not None else {}


def load_rules(package: str = PACKAGE) -> RuleSet:
    """Import ``package``, its ``LOG_TYPES`` modules and its schemas file; raise ValueError if inconsistent."""
    root = importlib.import_module(package)
    schemas_file = getattr(root, "SCHEMAS_FILE", "schemas.json")
    schemas = json.loads(resources.files(package).joinpath(schemas_file).read_text(encoding="utf-8"))
    known = schemas.get("log_types", {})
    modules: dict[str, ModuleType] = {}
    for log_type, module_name in root.LOG_TYPES.items():
        module = importlib.import_module(f"{package}.{module_name}")
        if getattr(module, "LOG_TYPE", None) != log_type:
            raise ValueError(f"{package}.{module_name}.LOG_TYPE is not {log_type!r}")
        if log_type not in known:
            raise ValueError(f"log type {log_type!r} has rules but no entry in {schemas_file}")
        if not callable(getattr(module, "match", None)) or not isinstance(
            getattr(module, "RULES", None), dict
        ):
            raise ValueError(f"{package}.{module_name} lacks match() or RULES")
        modules[log_type] = module
    return RuleSet(modules=modules, schemas=schemas, classifier=Classifier(schemas))


@functools.cache
def rule_set() -> RuleSet:
    """Return the rules of ``sigil_rules``, loaded on first use (``rule_set.cache_clear()`` reloads)."""
    return load_rules()
