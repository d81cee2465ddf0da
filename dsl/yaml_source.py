"""Safe YAML loading that keeps the line and column of every key and value.

PyYAML's safe constructors drop positions, so we compose nodes and build our own small tree of
`YNode`s. Timestamps stay strings (Sigma dates are text); everything else follows YAML 1.1 as
PyYAML's SafeLoader resolves it, which is what pySigma and the Sigma corpus expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from .diagnostics import Diagnostic, Loc, error


class _Loader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp type."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True)
class YNode:
    """A YAML value with its position. Maps hold `(key, key_loc, value)` triples in file order."""

    value: Any  # scalar, list[YNode], or list[tuple[str, Loc, YNode]]
    loc: Loc
    kind: str  # "scalar" | "seq" | "map"
    style: str | None = None  # scalar quoting style: None (plain), "'", '"', "|", ">"

    def get(self, key: str) -> YNode | None:
        if self.kind != "map":
            return None
        for k, _, v in self.value:
            if k == key:
                return v
        return None

    def key_loc(self, key: str) -> Loc | None:
        if self.kind == "map":
            for k, loc, _ in self.value:
                if k == key:
                    return loc
        return None

    def plain(self) -> Any:
        """The value as plain Python data (dicts, lists, scalars)."""
        if self.kind == "scalar":
            return self.value
        if self.kind == "seq":
            return [item.plain() for item in self.value]
        return {k: v.plain() for k, _, v in self.value}

    def type_name(self) -> str:
        if self.kind != "scalar":
            return {"seq": "list", "map": "mapping"}[self.kind]
        if isinstance(self.value, str):
            return "text"
        return type(self.value).__name__ if self.value is not None else "null"


def _loc(path: str, mark: yaml.Mark) -> Loc:
    return Loc(path, mark.line + 1, mark.column + 1)


def _convert(node: yaml.Node, path: str, loader: _Loader, diags: list[Diagnostic]) -> YNode:
    loc = _loc(path, node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        try:
            value = loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            diags.append(error("E002", f"invalid YAML value: {exc}", loc))
            value = node.value
        return YNode(value, loc, "scalar", node.style)
    if isinstance(node, yaml.SequenceNode):
        return YNode([_convert(item, path, loader, diags) for item in node.value], loc, "seq")
    items: list[tuple[str, Loc, YNode]] = []
    seen: dict[str, Loc] = {}
    for key_node, value_node in node.value:
        key_loc = _loc(path, key_node.start_mark)
        if not isinstance(key_node, yaml.ScalarNode):
            diags.append(error("E003", "a mapping key must be a plain scalar", key_loc))
            continue
        key = key_node.value
        if key in seen:
            first = seen[key]
            diags.append(
                error(
                    "E004",
                    f"duplicate key '{key}' (first defined at line {first.line})",
                    key_loc,
                    "YAML keeps only the last value of a repeated key; merge the two or rename one",
                )
            )
        seen[key] = key_loc
        items.append((key, key_loc, _convert(value_node, path, loader, diags)))
    return YNode(items, loc, "map")


def load_documents(text: str, path: str) -> tuple[list[YNode], list[Diagnostic]]:
    """Every YAML document of `text`, or diagnostics saying why the file can't be read."""
    diags: list[Diagnostic] = []
    loader = _Loader(text)
    docs: list[YNode] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                docs.append(_convert(node, path, loader, diags))
    except yaml.MarkedYAMLError as exc:
        diags.append(_yaml_error(exc, path, text.splitlines()))
    except yaml.YAMLError as exc:
        diags.append(error("E001", f"malformed YAML: {exc}", Loc(path)))
    finally:
        loader.dispose()
    return docs, diags


def _yaml_error(exc: yaml.MarkedYAMLError, path: str, lines: list[str]) -> Diagnostic:
    """A located E001 that says what is wrong in words, not in PyYAML's parser vocabulary."""
    problem = exc.problem or exc.context or "malformed YAML"
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    loc = _loc(path, mark) if mark else Loc(path)
    if "quoted scalar" in context and exc.context_mark is not None and "end of stream" in problem:
        loc = _loc(path, exc.context_mark)
        return error("E001", "malformed YAML: this quoted string is never closed", loc, "close the quote at the end of the value")
    if "mapping values are not allowed" in problem and mark is not None and mark.line < len(lines):
        text = lines[mark.line]
        loc = Loc(path, mark.line + 1, len(text) - len(text.lstrip()) + 1)
        return error(
            "E001",
            "malformed YAML: this line is indented more than the key above it",
            loc,
            f"YAML reads it as the rest of the value on line {mark.line}; align the two keys (or quote a value that contains ': ')",
        )
    if "\\t" in problem or "tab" in problem:
        return error("E001", f"malformed YAML: {problem}", loc, "YAML indentation must use spaces, not tabs")
    if "could not find expected ':'" in problem:
        return error("E001", f"malformed YAML: {problem}", loc, "a key is missing its ':' or a quoted string is not closed")
    return error("E001", f"malformed YAML: {problem}", loc)
