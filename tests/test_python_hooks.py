"""Python hook modules: one module per file under a name no other file can have, and only files of the
repository (the working directory) are ever imported or copied into the bundle."""

from __future__ import annotations

import importlib
import keyword
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.build import compile_rules
from dsl.loader import load_paths
from dsl.python_hooks import hook_module_name

ROOT = Path(__file__).resolve().parents[1]

# Path parts: any text without '/', NUL or surrogates (what a file system may hold), '.' and '..' left out.
PART = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=8).filter(
    lambda p: p not in (".", "..")
)
PATH = st.lists(PART, min_size=1, max_size=4).map(lambda parts: "/".join(parts) + ".py")


@given(st.lists(PATH, min_size=2, max_size=6, unique=True))
def test_distinct_paths_give_distinct_module_names(paths: list[str]) -> None:
    """Names are identifiers, ASCII, never keywords, and distinct for distinct paths even ignoring case."""
    names = [hook_module_name(p) for p in paths]
    for name in names:
        assert name.isidentifier() and name.isascii() and not keyword.iskeyword(name), name
    assert len({n.lower() for n in names}) == len(paths)


@given(PATH, PATH)
def test_underscores_and_separators_do_not_meet(a: str, b: str) -> None:
    """The cases that collided before: `/` against `_`, and names differing only in case."""
    for x, y in [(a, a.replace("/", "_")), (a, a.upper()), (a.replace("/", "_", 1), b)]:
        if x != y:
            assert hook_module_name(x) != hook_module_name(y)


def rule(title: str, uuid: str, ref: str) -> str:
    return (
        f"title: {title}\nid: {uuid}\nlogsource: {{product: aws, service: cloudtrail}}\n"
        f"python: {{conditions: {{hook: '{ref}'}}}}\ndetection: {{condition: hook}}\n"
    )


@pytest.fixture
def import_package(monkeypatch: pytest.MonkeyPatch):
    """Import the generated `sigil_rules.cloudtrail` from a build dir, afresh."""

    def load(build: Path):
        monkeypatch.syspath_prepend(str(build))
        for name in [m for m in sys.modules if m.startswith("sigil_rules")]:
            monkeypatch.delitem(sys.modules, name)
        return importlib.import_module("sigil_rules.cloudtrail")

    return load


A, B, C = "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c51", "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c52", "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c53"


def test_each_rule_runs_its_own_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, import_package) -> None:
    """`rules/helpers/auth.py` and `rules/helpers_auth.py` (once one bundled name), a keyword file name and a
    non-ASCII one each become their own module, and each rule calls its own."""
    monkeypatch.chdir(tmp_path)
    hooks = {"rules/helpers/auth.py": 1, "rules/helpers_auth.py": 2, "rules/class.py": 3, "rules/règles.py": 4}
    for path, value in hooks.items():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(f"def hook(record):\n    return record.get('n') == {value}\n", encoding="utf-8")
    uuids = [A, B, C, "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c54"]
    for i, (path, uuid) in enumerate(zip(hooks, uuids, strict=True)):
        Path(f"rules/r{i}.yml").write_text(rule(f"R{i}", uuid, f"{path}:hook"), encoding="utf-8")
    result = compile_rules(["rules"], str(ROOT / "schemas"), tmp_path / "build")
    assert not result.diagnostics
    written = sorted(p.name for p in (tmp_path / "build" / "sigil_rules" / "_hooks").iterdir())
    assert len(written) == 1 + len(hooks)
    module = import_package(tmp_path / "build")
    assert [module.match({"n": n}) for n in (1, 2, 3, 4)] == [[u] for u in uuids]


def test_one_written_path_two_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, import_package) -> None:
    """`helpers/x.py` found beside two rule folders is two files, so two modules."""
    monkeypatch.chdir(tmp_path)
    for i, (folder, uuid) in enumerate([("rules/a", A), ("rules/b", B)]):
        Path(folder, "helpers").mkdir(parents=True)
        Path(folder, "helpers", "x.py").write_text(f"def hook(record):\n    return record.get('n') == {i}\n")
        Path(folder, "r.yml").write_text(rule(folder, uuid, "helpers/x.py:hook"))
    result = compile_rules(["rules"], str(ROOT / "schemas"), tmp_path / "build")
    assert not result.diagnostics
    module = import_package(tmp_path / "build")
    assert [module.match({"n": n}) for n in (0, 1)] == [[A], [B]]


@pytest.mark.parametrize("ref", ["../outside/x.py:hook", "{outside}/x.py:hook", "rules/link.py:hook", "rules/../../outside/x.py:hook"])
def test_files_outside_the_repository_are_refused(ref: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`..`, an absolute path or a symlink to a file outside the working directory is E086 at the
    reference, and the outside file is never imported."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.py").write_text("raise SystemExit('imported a file outside the repository')\n")
    repo = tmp_path / "repo"
    (repo / "rules").mkdir(parents=True)
    (repo / "rules" / "link.py").symlink_to(outside / "x.py")
    (repo / "rules" / "r.yml").write_text(rule("R", A, ref.format(outside=outside)))
    monkeypatch.chdir(repo)
    diags = load_paths(["rules/r.yml"]).diagnostics
    assert [(d.code, d.loc.line, d.loc.col) for d in diags] == [("E086", 4, 29)]
    assert "outside the repository" in diags[0].message


def test_a_link_inside_the_repository_is_one_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A symlink to a file of the repository names that file, so both references share one module."""
    monkeypatch.chdir(tmp_path)
    Path("rules/helpers").mkdir(parents=True)
    Path("rules/helpers/auth.py").write_text("def hook(record):\n    return True\n")
    Path("rules/alias.py").symlink_to(tmp_path / "rules/helpers/auth.py")
    Path("rules/a.yml").write_text(rule("A", A, "rules/helpers/auth.py:hook"))
    Path("rules/b.yml").write_text(rule("B", B, "rules/alias.py:hook"))
    result = compile_rules(["rules"], str(ROOT / "schemas"), tmp_path / "build")
    assert not result.diagnostics
    assert sorted(p.name for p in (tmp_path / "build" / "sigil_rules" / "_hooks").iterdir()) == ["__init__.py", "hook_rules__helpers__auth.py"]
