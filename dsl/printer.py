"""Print a rule back as YAML that `dsl.loader.load_text` reads into an equal Rule.

Values are stored raw (Sigma wildcards and backslashes included), so they are written as they are;
PyYAML's safe dumper quotes every string that YAML would otherwise read as a number, boolean, null
or date. Rules that YAML cannot say faithfully (two equal keys in one mapping, an identifier named
`condition`) raise PrintError instead of printing something that loads back different.
"""

from __future__ import annotations

from typing import Any

import yaml

from .ast import Condition, Dedup, Detection, FieldItem, LogSource, PythonHooks, Rule, RuleTest, Selection
from .condition import ConditionError, parse_condition, unparse
from .diagnostics import Loc

RESERVED_KEYS = ("condition", "timeframe")  # detection keys the loader does not read as identifiers
TEXT_FIELDS = ("title", "id", "name", "status", "description", "references", "author", "date", "modified", "tags")
TAIL_FIELDS = ("fields", "falsepositives", "level", "outputs", "severity")
UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


class PrintError(ValueError):
    """A rule that YAML cannot say so that it loads back equal (e.g. two identical keys in one mapping)."""


def dump_rule(rule: Rule) -> str:
    """The YAML text of `rule`."""
    doc: dict[str, Any] = {}
    _put_fields(doc, rule, TEXT_FIELDS)
    doc["logsource"] = _logsource(rule.logsource)
    doc["detection"] = _detection(rule.detection)
    _put_fields(doc, rule, TAIL_FIELDS)
    if not rule.enabled:
        doc["enabled"] = False
    if rule.templates:
        doc["templates"] = True
    if rule.context:
        doc["context"] = _context(rule.context)
    if rule.dedup is not None:
        doc["dedup"] = _dedup(rule.dedup)
    if rule.python != PythonHooks():
        doc["python"] = _python(rule.python)
    if rule.tests:
        doc["tests"] = [_test(t) for t in rule.tests]
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1 << 30)


class _Dumper(yaml.SafeDumper):
    """SafeDumper that double-quotes text holding YAML line breaks (NEL, LS, PS), which it would fold."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = '"' if any(ch in text for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _represent_str)


def _put_fields(doc: dict[str, Any], rule: Rule, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(rule, name)
        if value is None or value == ():
            continue
        doc[name] = list(value) if isinstance(value, tuple) else value


def _logsource(logsource: LogSource) -> dict[str, str]:
    keys = ("product", "category", "service", "definition")
    return {k: getattr(logsource, k) for k in keys if getattr(logsource, k) is not None}


def _test(test: RuleTest) -> dict[str, Any]:
    return {"name": test.name, "event": test.event, "expect": test.expect}


def _context(context: tuple[tuple[str, str], ...]) -> list[str] | dict[str, str]:
    """A list of field paths when every name is its path, else a mapping of names to paths."""
    if all(name == path for name, path in context):
        return [path for _, path in context]
    names = [name for name, _ in context]
    if len(set(names)) != len(names):
        raise PrintError("context names a field twice")
    return dict(context)


def _dedup(dedup: Dedup) -> dict[str, Any]:
    unit, size = next((u, n) for u, n in UNITS if dedup.window_seconds % n == 0)
    return {"keys": list(dedup.keys), "window": f"{dedup.window_seconds // size}{unit}"}


def _python(hooks: PythonHooks) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if hooks.conditions:
        out["conditions"] = {name: str(ref) for name, ref in hooks.conditions}
    if hooks.title is not None:
        out["title"] = str(hooks.title)
    if hooks.context is not None:
        out["context"] = str(hooks.context)
    return out


# -- detection -------------------------------------------------------------------------------


def _detection(detection: Detection) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for selection in detection.selections:
        if selection.name in RESERVED_KEYS or selection.name in out:
            raise PrintError(f"search identifier '{selection.name}' cannot be written as a detection key")
        out[selection.name] = _selection(selection)
    texts = condition_texts(detection)
    out["condition"] = texts[0] if len(texts) == 1 else texts
    return out


def condition_texts(detection: Detection) -> list[str]:
    """Each condition as written when that text still parses to it, else as `unparse` prints it."""
    conds = detection.conditions
    written = detection.condition_texts if len(detection.condition_texts) == len(conds) else (None,) * len(conds)
    return [
        text if text is not None and _parses_to(text, cond) else unparse(cond)
        for cond, text in zip(conds, written, strict=True)
    ]


def _parses_to(text: str, cond: Condition) -> bool:
    try:
        return parse_condition(text, Loc("<printer>")) == cond
    except ConditionError:
        return False


def _selection(selection: Selection) -> Any:
    alternatives = selection.alternatives
    if not alternatives or not all(alternatives):
        raise PrintError(f"search identifier '{selection.name}' has nothing to match")
    if len(alternatives) == 1 and _is_plain_keyword_list(alternatives[0]):
        return list(alternatives[0][0].values)
    maps = [_alternative(selection.name, alt) for alt in alternatives]
    return maps[0] if len(maps) == 1 else maps


def _is_plain_keyword_list(alternative: tuple[FieldItem, ...]) -> bool:
    """A lone keyword item without modifiers: written as a list of plain values."""
    (item, *rest) = alternative
    return not rest and item.field is None and not item.modifiers and bool(item.values) and None not in item.values


def _alternative(name: str, items: tuple[FieldItem, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key = item_key(item)
        if key in out:
            raise PrintError(f"search identifier '{name}' tests '{key}' twice in one mapping")
        out[key] = _item_values(item)
    return out


def item_key(item: FieldItem) -> str:
    """`field|mod|mod`, with an empty field name for a keyword item."""
    if item.field is not None and (not item.field or "|" in item.field):
        raise PrintError(f"field name {item.field!r} cannot be written as a detection key")
    if any(not m or "|" in m for m in item.modifiers):
        raise PrintError(f"modifiers {item.modifiers!r} cannot be written after '|'")
    return "|".join([item.field or "", *item.modifiers])


def _item_values(item: FieldItem) -> Any:
    values = item.values
    return values[0] if len(values) == 1 else list(values)
