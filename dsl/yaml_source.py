"""Safe YAML loading that keeps the line and column of every key and value.

PyYAML's safe constructors drop positions, so we compose nodes and build our own small tree of
`YNode`s. Timestamps stay strings (Sigma dates are text); everything else follows YAML 1.1 as
PyYAML's SafeLoader resolves it, which is what pySigma and the Sigma corpus expect.

Aliases are where a small file becomes a large tree: PyYAML shares the anchored node, and building our
tree copies it at every alias, so nine lines of nested aliases ("billion laughs") would make a billion
nodes, and an alias inside its own anchor an endless tree. Every reader of YAML (rules, schemas,
placeholders) comes through `load_documents`, which therefore caps the nodes that aliases may add to a
document (`MAX_ALIAS_NODES`) and the nesting of the tree (`MAX_DEPTH`), and refuses an alias to the
collection it sits in: each is error E005 at the alias (or the too-deep value), and the document is
dropped.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import yaml

from .diagnostics import Diagnostic, Loc, error

MAX_ALIAS_NODES = 10_000  # values aliases may add to one document: far more than any rule needs
MAX_DEPTH = 100  # nested collections: a rule is about 5 deep, a schema 6


class _Loader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp type, that marks each alias where it is used.

    PyYAML's composer hands back the anchored node itself for an alias; we hand back a shallow copy
    located at the alias (its children are still shared) and remember it, so that converting the tree
    can count what aliases add and say where. Composing is recursive, so its depth is capped too.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.aliases: set[int] = set()  # ids of the alias copies (kept alive by the tree)
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # types-PyYAML leaves the parser's methods untyped
        if isinstance(event, yaml.AliasEvent):
            alias = copy.copy(super().compose_node(parent, index))
            if alias is not None:
                alias.start_mark = event.start_mark
                self.aliases.add(id(alias))
            return alias
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _TooLarge(f"values are nested more than {MAX_DEPTH} deep", _mark_loc(event.start_mark))
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


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
                found: YNode = v
                return found
        return None

    def child(self, key: str) -> YNode:
        """The value of a key the caller knows the map has (KeyError otherwise)."""
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def key_loc(self, key: str) -> Loc | None:
        if self.kind == "map":
            for k, loc, _ in self.value:
                if k == key:
                    key_loc: Loc = loc
                    return key_loc
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


def _mark_loc(mark: yaml.Mark) -> tuple[int, int]:
    return mark.line + 1, mark.column + 1


class _TooLarge(Exception):
    """A document whose tree would be too big or endless; `where` is (line, col) of the culprit."""

    def __init__(self, message: str, where: tuple[int, int], hint: str | None = None):
        super().__init__(message)
        self.message, self.where, self.hint = message, where, hint


@dataclass
class _Budget:
    """What converting one document may still do: nodes aliases may add, and the collections open."""

    alias_nodes: int = MAX_ALIAS_NODES
    outer_alias: yaml.Node | None = None  # the outermost alias being expanded, which is blamed
    open: tuple[int, ...] = ()  # ids of the value lists of the collections being converted

    def spend(self, node: yaml.Node) -> None:
        if self.outer_alias is None:
            return
        self.alias_nodes -= 1
        if self.alias_nodes < 0:
            raise _TooLarge(
                f"aliases expand this document past {MAX_ALIAS_NODES:,} values",
                _mark_loc(self.outer_alias.start_mark),
                "nested aliases multiply: write the values out, or alias fewer of them",
            )


def _convert(node: yaml.Node, path: str, loader: _Loader, diags: list[Diagnostic], budget: _Budget, depth: int = 0) -> YNode:
    is_alias = id(node) in loader.aliases
    if is_alias and budget.outer_alias is None:
        budget.outer_alias = node
        try:
            return _convert_node(node, path, loader, diags, budget, depth)
        finally:
            budget.outer_alias = None
    return _convert_node(node, path, loader, diags, budget, depth)


def _convert_node(node: yaml.Node, path: str, loader: _Loader, diags: list[Diagnostic], budget: _Budget, depth: int) -> YNode:
    budget.spend(node)
    if depth > MAX_DEPTH:  # only aliases get here: composing caps the written nesting
        blamed = budget.outer_alias or node
        raise _TooLarge(f"aliases nest values more than {MAX_DEPTH} deep", _mark_loc(blamed.start_mark), "each alias nests the values it names: write some out")
    loc = _loc(path, node.start_mark)
    if isinstance(node, yaml.ScalarNode):
        try:
            value = loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            diags.append(error("E002", f"invalid YAML value: {exc}", loc))
            value = node.value
        return YNode(value, loc, "scalar", node.style)
    if id(node.value) in budget.open:
        raise _TooLarge("this alias names a collection that contains it, which would never end", _mark_loc(node.start_mark), "an alias must come after its anchor's value is complete")
    budget.open = (*budget.open, id(node.value))
    try:
        if isinstance(node, yaml.SequenceNode):
            return YNode([_convert(item, path, loader, diags, budget, depth + 1) for item in node.value], loc, "seq")
        if isinstance(node, yaml.MappingNode):
            return _convert_map(node, loc, path, loader, diags, budget, depth)
        raise TypeError(f"not a YAML node PyYAML composes: {node!r}")
    finally:
        budget.open = budget.open[:-1]


def _convert_map(node: yaml.MappingNode, loc: Loc, path: str, loader: _Loader, diags: list[Diagnostic], budget: _Budget, depth: int) -> YNode:
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
        items.append((key, key_loc, _convert(value_node, path, loader, diags, budget, depth + 1)))
    return YNode(items, loc, "map")


def load_documents(text: str, path: str) -> tuple[list[YNode], list[Diagnostic]]:
    """Every YAML document of `text`, or diagnostics saying why the file can't be read."""
    diags: list[Diagnostic] = []
    loader = _Loader(text)
    docs: list[YNode] = []
    try:
        while loader.check_node():
            try:
                node = loader.get_node()
            except _TooLarge as exc:  # while composing: drop the rest of this document
                diags.append(error("E005", exc.message, Loc(path, *exc.where), exc.hint))
                _skip_document(loader)
                continue
            try:
                if node is not None:
                    docs.append(_convert(node, path, loader, diags, _Budget()))
            except _TooLarge as exc:
                diags.append(error("E005", exc.message, Loc(path, *exc.where), exc.hint))
            loader.aliases.clear()  # ids of this document's nodes, which may be reused once it is freed
    except yaml.MarkedYAMLError as exc:
        diags.append(_yaml_error(exc, path, text.splitlines()))
    except yaml.YAMLError as exc:
        diags.append(error("E001", f"malformed YAML: {exc}", Loc(path)))
    finally:
        loader.dispose()
    return docs, diags


def _skip_document(loader: _Loader) -> None:
    """Drop the rest of the document being composed (cut short by _TooLarge), so the next one reads."""
    while not loader.check_event(yaml.DocumentEndEvent, yaml.StreamEndEvent):
        loader.get_event()  # type: ignore[no-untyped-call]  # types-PyYAML leaves the parser's methods untyped
    if loader.check_event(yaml.DocumentEndEvent):
        loader.get_event()  # type: ignore[no-untyped-call]  # as above
    loader.anchors = {}
    loader.aliases.clear()
    loader.depth = 0


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
