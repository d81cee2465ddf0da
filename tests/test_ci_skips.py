"""The no-silent-skips rule of CI (tests/support/ci_skips.py), run on a small test file of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.ci_skips import unlisted

TESTS = Path(__file__).resolve().parent

SKIPPING = """\
import pytest

def test_runs():
    assert True

def test_skips():
    pytest.skip("no widget here")
"""
CONFTEST = f"""\
import sys
sys.path.insert(0, {str(TESTS)!r})
from support.ci_skips import pytest_collectreport, pytest_runtest_logreport, pytest_sessionfinish
"""


def run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_some.py").write_text(SKIPPING)
    env = {"PATH": "/usr/bin:/bin", **({"CI": ci} if ci is not None else {})}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )


def test_a_skip_fails_a_ci_run_and_is_named(tmp_path):
    """With CI=true the run exits 1 and names the skipped test and its reason."""
    proc = run(tmp_path, "true")
    assert proc.returncode == 1, proc.stdout
    assert "test_some.py::test_skips: no widget here" in proc.stdout


def test_a_skip_outside_ci_is_a_skip(tmp_path):
    """Without CI the same run passes with one skip."""
    proc = run(tmp_path, None)
    assert proc.returncode == 0, proc.stdout
    assert "1 passed, 1 skipped" in proc.stdout


def test_an_allowed_entry_covers_its_tests_and_nothing_else():
    """An entry names a test, a class or a file; ids under it are covered, look-alikes are not."""
    skipped = [("a.py::T::t", "x"), ("a.py::u[1]", "x"), ("ab.py::t", "x"), ("a.py::v", "x")]
    assert unlisted(skipped, {"a.py::T": "why", "a.py::u": "why"}) == [("ab.py::t", "x"), ("a.py::v", "x")]
    assert unlisted(skipped, {"a.py": "why"}) == [("ab.py::t", "x")]
