"""Byte-identical builds across processes: the generated modules, manifest and Lambda zip do not depend on
the hash seed of the building process nor on where the project lies on the build machine.

Each build runs `sigil compile` and `sigil bundle` in its own subprocess (a seed is fixed per process, so
two builds in one process cannot tell hash order from rule order), in its own copy of a small project.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from compiler.codegen import ExprWriter
from compiler.ir import InSet, Not
from compiler.layout import constant_lines
from dsl.python_hooks import hook_module_name

ROOT = Path(__file__).resolve().parents[1]

# Rules whose optimized trees hold set constants of many strings (merged equalities, negated ones, and
# single-character contains), affix groups and a Python hook: the constants whose order a hash seed could set.
RULES = {
    "many_names.yml": """\
title: Many event names
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: [StopLogging, DeleteTrail, UpdateTrail, PutEventSelectors, DeleteFlowLogs, DeleteDetector,
                DisableKey, ScheduleKeyDeletion, DeleteBucketPolicy, PutBucketAcl, CreateAccessKey]
  quiet:
    eventSource: [s3.amazonaws.com, kms.amazonaws.com, ec2.amazonaws.com, iam.amazonaws.com, sts.amazonaws.com]
  condition: selection and not quiet
level: low
""",
    "agents.yml": """\
title: Odd user agents
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    userAgent|contains: [a, b, c, d, e, f, g, h, i, j, k, l, m, n, curl, python, boto, aws-cli]
  condition: selection or is_odd
python:
  conditions:
    is_odd: hooks/odd.py:is_odd
level: low
""",
}
HOOK = "def is_odd(record):\n    return record.get('eventName') == 'Odd'\n"


def make_project(where: Path) -> Path:
    """A project of our own rules, a hook and the shipped schemas, at `where`."""
    (where / "rules").mkdir(parents=True)
    for name, text in RULES.items():
        (where / "rules" / name).write_text(text, encoding="utf-8")
    (where / "hooks").mkdir()
    (where / "hooks" / "odd.py").write_text(HOOK, encoding="utf-8")
    shutil.copytree(ROOT / "schemas", where / "schemas")
    return where


def sigil(project: Path, seed: str, *args: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main(sys.argv[1:]))", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def build(project: Path, seed: str) -> Path:
    sigil(project, seed, "compile", "rules", "--schemas", "schemas", "--out", "build")
    sigil(project, seed, "bundle", "--build", "build", "--out", "build/sigil-lambda.zip")
    return project / "build"


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Path]]:
    """(project, build dir) twice: other hash seeds, other folders at other depths."""
    base = tmp_path_factory.mktemp("determinism")
    projects = [make_project(base / "one" / "project"), make_project(base / "two-other" / "deeper" / "checkout")]
    return [(project, build(project, seed)) for project, seed in zip(projects, ("1", "2"), strict=True)]


def files(build_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(build_dir)): p.read_bytes() for p in sorted(build_dir.rglob("*")) if p.is_file()}


def test_the_rules_make_set_constants_a_seed_could_reorder(builds):
    """The fixture rules do produce multi-value set constants (else the comparison below proves nothing)."""
    (_, out), _ = builds
    source = (out / "sigil_rules" / "cloudtrail.py").read_text(encoding="utf-8")
    sets = [
        node.value.args[0].elts
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and getattr(node.value.func, "id", "") == "frozenset"
    ]
    assert len(sets) >= 2 and all(len(values) >= 5 for values in sets), [len(v) for v in sets]


def test_modules_manifest_and_zip_are_byte_identical_across_processes_and_folders(builds):
    """PYTHONHASHSEED 1 and 2, in two folders: every file of the build, the zip included, is the same."""
    (_, first), (_, second) = builds
    one, two = files(first), files(second)
    assert sorted(one) == sorted(two)
    assert {"sigil_rules/cloudtrail.py", "sigil_rules/manifest.json", f"sigil_rules/_hooks/{hook_module_name('hooks/odd.py')}.py", "sigil-lambda.zip"} <= set(one)
    assert [name for name in one if one[name] != two[name]] == []


def test_no_build_machine_path_in_the_generated_code_or_the_bundle(builds):
    """Neither the project's folder nor the checkout of Sigil itself appears in any generated file or zip entry."""
    for project, out in builds:
        machine_paths = [str(project).encode(), str(ROOT).encode(), str(project.parent).encode()]
        contents = dict(files(out / "sigil_rules"))
        with zipfile.ZipFile(out / "sigil-lambda.zip") as archive:
            contents.update({f"zip:{name}": archive.read(name) for name in archive.namelist()})
        assert [name for name, data in contents.items() if any(p in data for p in machine_paths)] == []


def test_set_constants_are_written_sorted_whatever_order_they_come_in():
    """The writer sorts a set's values itself: a caller handing it set-ordered values still gets one text."""
    writer = ExprWriter()
    writer.write(Not(InSet("e", ("c", "a", "b"))))
    other = ExprWriter()
    other.write(Not(InSet("e", ("a", "b", "c"))))
    assert list(writer.constants.values()) == list(other.constants.values()) == ["SET_52b56a59"]
    kind, *content = next(iter(writer.constants))
    assert constant_lines("SET_52b56a59", kind, tuple(content)) == ["SET_52b56a59 = frozenset(['a', 'b', 'c'])"]
