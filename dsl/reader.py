"""The located-YAML reader shared by the readers of rules, correlations, filters and schemas: one YAML
document (a `YNode` tree from dsl.yaml_source), typed access to its values, and the diagnostics found on the
way, each at the line and column of the value it is about."""

from __future__ import annotations

import re
from collections.abc import Callable

from runtime.outputs import ALIASES, OUTPUTS

from .diagnostics import Diagnostic, Loc, did_you_mean, error, warning
from .yaml_source import YNode

LEVELS = ("informational", "low", "medium", "high", "critical")
OUTPUT_RE = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9_.\-/]+$")


class DocumentReader:
    """Reads one YAML document, appending diagnostics to ``diags`` as it goes; ``lines`` is the file's text
    (for locating columns inside block scalars)."""

    def __init__(self, doc: YNode, diags: list[Diagnostic], lines: list[str] | None = None):
        self.doc, self.diags, self.lines = doc, diags, lines or []

    def err(self, code: str, message: str, loc: Loc | None, hint: str | None = None) -> None:
        """An error at `loc` (a key's location; None when the key is absent: the document's)."""
        self.diags.append(error(code, message, loc or self.doc.loc, hint))

    def warn(self, code: str, message: str, loc: Loc | None, hint: str | None = None) -> None:
        self.diags.append(warning(code, message, loc or self.doc.loc, hint))

    def text(self, node: YNode | None, key: str, required: bool = False) -> str | None:
        if node is None:
            if required:
                self.err("E020", f"the rule has no '{key}'", self.doc.loc, f"add '{key}:' at the top level")
            return None
        if node.kind != "scalar" or not isinstance(node.value, str | int | float) or isinstance(node.value, bool):
            self.err("E011", f"'{key}' must be text, not {node.type_name()}", node.loc)
            return None
        return str(node.value)

    def text_list(self, node: YNode | None, key: str) -> tuple[str, ...]:
        if node is None or (node.kind == "scalar" and node.value is None):
            return ()
        if node.kind == "scalar":
            value = self.text(node, key)
            return (value,) if value is not None else ()
        if node.kind != "seq":
            self.err("E011", f"'{key}' must be a list of text, not a mapping", node.loc)
            return ()
        out = []
        for item in node.value:
            value = self.text(item, key)
            if value is not None:
                out.append(value)
        return tuple(out)

    def choice(self, node: YNode | None, key: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(node, key)
        if value is not None and value not in allowed:
            hint = did_you_mean(value, allowed) or "one of: " + ", ".join(allowed)
            self.err("E012", f"unknown {key} '{value}'", node.loc if node is not None else None, hint)
        return value

    def boolean(self, node: YNode | None, key: str, default: bool) -> bool:
        if node is None:
            return default
        if node.kind != "scalar" or not isinstance(node.value, bool):
            self.err("E011", f"'{key}' must be true or false", node.loc)
            return default
        return node.value

    def outputs(self, node: YNode | None) -> tuple[str, ...]:
        outputs = self.text_list(node, "outputs")
        locs = [n.loc for n in node.value] if node is not None and node.kind == "seq" else []
        for output, loc in zip(outputs, locs or [node.loc if node else self.doc.loc] * len(outputs), strict=False):
            if not OUTPUT_RE.match(output):
                self.err("E016", f"output '{output}' is not of the form service:name", loc, "e.g. slack:secops or aws-sns:alerts")
                continue
            service, _, name = output.partition(":")
            if ALIASES.get(service, service) not in OUTPUTS:
                hint = did_you_mean(service, [*OUTPUTS, *ALIASES])
                hint = f"did you mean {hint.removeprefix('did you mean ').removesuffix('?')}:{name}?" if hint else "services: " + ", ".join(sorted(OUTPUTS))
                self.err("E021", f"output '{output}' names no output service: '{service}' is unknown", loc, hint)
        return outputs

    def condition_locator(self, cnode: YNode) -> Loc | Callable[[int], Loc]:
        """Where a column of the condition text sits in the file (block scalars start a line below)."""
        if cnode.style in ("'", '"'):
            return cnode.loc.shifted(1)
        if cnode.style not in ("|", ">"):
            return cnode.loc
        lines = self.lines[cnode.loc.line :]  # the lines after the `>-` / `|` indicator
        body = [line for line in lines if line.strip()]
        indent = len(body[0]) - len(body[0].lstrip()) if body else 0
        first = cnode.loc.line + 1 + next((i for i, line in enumerate(lines) if line.strip()), 0)

        def locate(column: int) -> Loc:
            offset, line_no = column - 1, first
            for line in lines[first - cnode.loc.line - 1 :]:
                width = len(line) - indent
                if offset <= width or not line.strip():
                    break
                offset -= width + 1
                line_no += 1
            return Loc(cnode.loc.path, line_no, indent + offset + 1)

        return locate
