"""The package layout: which package may import which, no import circles, every command registered.

dsl/ is the language, compiler/ its stages, cli/ the command line and operator tools over both, runtime/ what
ships to the Lambda. Imports go one way: cli → compiler → dsl; runtime/ imports none of them (the Lambda has
only runtime/ and the generated package), and no compiler stage reaches back into the command line. Every
import run counts, those inside functions too (an import deferred to run time is still a circle to read
through), not those under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("dsl", "compiler", "cli", "runtime")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    _module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
}


def _resolve(name: str) -> str | None:
    """The project module ``name`` is, or is in (``compiler.build.plan`` → ``compiler.build``); None outside."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str, annotations: bool = False) -> set[str]:
    """The project modules ``module`` imports, anywhere in its source (absolute and relative imports); those
    under ``if TYPE_CHECKING:`` too with ``annotations``."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree) if annotations else _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            if node.level:
                base = base[: len(base) - node.level + 1]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            targets = [f"{stem}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(resolved for target in targets if (resolved := _resolve(target)) is not None)
    return found - {module}


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` but those under ``if TYPE_CHECKING:`` (imports for annotations only, never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
        else:
            todo.extend(ast.iter_child_nodes(node))


GRAPH = {module: imports(module) for module in MODULES}
WITH_ANNOTATIONS = {module: imports(module, annotations=True) for module in MODULES}


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("dsl", {"compiler", "cli"}), ("compiler", {"cli"}), ("runtime", {"dsl", "compiler", "cli"})],
)
def test_imports_go_one_way(package: str, forbidden: set[str]) -> None:
    """dsl/ imports neither compiler/ nor cli/, compiler/ never imports cli/, runtime/ none of the three."""
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if _top(module) == package
        for target in targets
        if _top(target) in forbidden
    )
    assert wrong == []


def test_compiler_holds_no_command_line() -> None:
    """compiler/ holds the stages only: no module of it parses a command line (tools live in cli/)."""
    with_argparse = sorted(
        module
        for module, path in MODULES.items()
        if _top(module) == "compiler" and "argparse" in path.read_text(encoding="utf-8")
    )
    assert with_argparse == []


def _circles(modules: set[str], graph: dict[str, set[str]] = GRAPH) -> list[list[str]]:
    """The import circles among ``modules``: strongly connected components of more than one module
    (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph[module] & modules):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return sorted(circles)


@pytest.mark.parametrize("package", ["dsl", "compiler", "cli", "runtime"])
def test_no_import_circles(package: str) -> None:
    """No two modules of the package import each other, directly or through others."""
    assert _circles({module for module in MODULES if _top(module) == package}) == []


# compiler.correlations names compiler.build's CompiledRule in annotations, under TYPE_CHECKING: compiler/ is
# left out until that type moves out of build.py.
@pytest.mark.parametrize("package", ["dsl", "cli", "runtime"])
def test_no_circles_through_annotations(package: str) -> None:
    """Not even for annotations does a module import one that imports it (dsl.documents once typed its
    reader as dsl.loader's private _RuleBuilder; both now use dsl.reader.DocumentReader)."""
    modules = {module for module in MODULES if _top(module) == package}
    assert _circles(modules, WITH_ANNOTATIONS) == []


def test_circles_are_found() -> None:
    """The circle finder sees a circle (so the test above can fail): a module graph with one."""
    saved = dict(GRAPH)
    try:
        GRAPH["cli.report"] = GRAPH["cli.report"] | {"cli.main"}
        assert any({"cli.main", "cli.report"} <= set(circle) for circle in _circles(set(MODULES)))
        assert not any("cli.report" in circle for circle in _circles(set(MODULES) - {"cli.main"}))
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


def test_every_command_is_registered() -> None:
    """Every module of cli/commands/ is in cli.main.COMMANDS, once, with ``add_parser`` and ``run``."""
    from cli.main import COMMANDS

    files = sorted(path.stem for path in (ROOT / "cli" / "commands").glob("*.py") if path.stem != "__init__")
    assert sorted(command.__name__.rpartition(".")[2] for command in COMMANDS) == files
    assert len(set(COMMANDS)) == len(COMMANDS)
    for command in COMMANDS:
        assert callable(command.add_parser) and callable(command.run), command.__name__
        assert importlib.import_module(command.__name__) is command
