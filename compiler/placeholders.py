"""Placeholder values for Sigma's `expand` modifier, from a YAML file mapping name → list of values."""

from __future__ import annotations

from pathlib import Path

from dsl.ast import Rule
from dsl.diagnostics import Diagnostic, Loc, error, warning
from dsl.modifiers import placeholder_names
from dsl.yaml_source import load_documents

DEFAULT_FILE = "placeholders.yml"
Placeholders = dict[str, list[str]]


def load_placeholders(path: str | None) -> tuple[Placeholders, list[Diagnostic]]:
    """Read the file (or the project's placeholders.yml when `path` is None and it exists)."""
    if path is None:
        if not Path(DEFAULT_FILE).is_file():
            return {}, []
        path = DEFAULT_FILE
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [error("E090", f"cannot read placeholders: {exc}", Loc(path))]
    docs, diags = load_documents(text, path)
    if diags or not docs:
        return {}, diags
    doc = docs[0]
    if doc.kind != "map":
        return {}, [error("E091", "placeholders must map each name to a list of values", doc.loc)]
    values: Placeholders = {}
    for name, key_loc, node in doc.value:
        items = node.plain()
        items = items if isinstance(items, list) else [items]
        if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in items):
            diags.append(error("E091", f"placeholder '{name}' must list text values", key_loc))
            continue
        values[name] = [str(v) for v in items]
    return values, diags


def check_placeholders(rule: Rule, values: Placeholders) -> list[Diagnostic]:
    """A warning for each `%name%` an `expand` value uses that has no values (it then matches nothing)."""
    diags = []
    for selection in rule.detection.selections:
        for alternative in selection.alternatives:
            for item in alternative:
                for name in placeholder_names(item):
                    if name not in values:
                        diags.append(
                            warning("W090", f"placeholder '%{name}%' has no values, so this item matches nothing", item.loc, f"add '{name}:' with a list of values to {DEFAULT_FILE} or pass --placeholders FILE")
                        )
    return diags
