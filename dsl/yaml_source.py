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
        mark = exc.problem_mark or exc.context_mark
        loc = _loc(path, mark) if mark else Loc(path)
        problem = exc.problem or exc.context or "malformed YAML"
        diags.append(error("E001", f"malformed YAML: {problem}", loc, _yaml_hint(problem)))
    except yaml.YAMLError as exc:
        diags.append(error("E001", f"malformed YAML: {exc}", Loc(path)))
    finally:
        loader.dispose()
    return docs, diags


def _yaml_hint(problem: str) -> str | None:
    if "mapping values are not allowed" in problem:
        return "quote a value that contains ': ' or indent the nested mapping"
    if "found character '\\t'" in problem or "tab" in problem:
        return "YAML indentation must use spaces, not tabs"
    if "could not find expected ':'" in problem:
        return "a key is missing its ':' or a quoted string is not closed"
    return None
