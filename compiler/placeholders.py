"""Placeholder values for Sigma's `expand` modifier, from a YAML file mapping name → list of values."""

from __future__ import annotations

from pathlib import Path

from dsl.ast import FieldItem, Rule
from dsl.diagnostics import Diagnostic, Loc, error, warning
from dsl.modifiers import ModifierError, lower_item, placeholder_names
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
    """A warning for each `%name%` an `expand` value uses that has no values (it then matches nothing),
    and an error (E122) for an item whose values would expand past `MAX_VARIANTS` patterns."""
    diags = []
    for selection in rule.detection.selections:
        for alternative in selection.alternatives:
            for item in alternative:
                names = placeholder_names(item)
                for name in names:
                    if name not in values:
                        diags.append(
                            warning("W090", f"placeholder '%{name}%' has no values, so this item matches nothing", item.loc, f"add '{name}:' with a list of values to {DEFAULT_FILE} or pass --placeholders FILE")
                        )
                if names:
                    diags.extend(_check_expansion(item, values))
    return diags


def _check_expansion(item: FieldItem, values: Placeholders) -> list[Diagnostic]:
    """The loader checked the item without placeholder values; its size depends on them."""
    try:
        lower_item(item, values)
    except ModifierError as exc:
        index = exc.value_index
        loc = item.value_locs[index] if index is not None and index < len(item.value_locs) else item.loc
        return [error(exc.code, exc.message, loc, exc.hint)]
    return []
