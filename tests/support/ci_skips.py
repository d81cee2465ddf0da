"""No silent skips in CI: under `CI=true`, a skipped test fails the run unless `ALLOWED` lists it with its reason.

A test that cannot run in CI guards nothing, and a skip reads as green. CI runs on a machine of the project's
kind with ../shared beside the checkout, Terraform and its provider mirror, and a Python of the Lambda's
version, so every test can run there. Outside CI (a laptop without ../shared, say) skips stay skips.

Hooks for tests/conftest.py, which imports them.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

# Test ids (or a prefix of them: a file, a class) that may skip in CI → why. The one place skips are allowed.
ALLOWED: dict[str, str] = {}

_skipped: list[tuple[str, str]] = []


def _reason(report: Any) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def _record(report: Any) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _skipped.append((report.nodeid, _reason(report)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _record(report)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    _record(report)  # a module skipped whole (pytestmark skipif, importorskip at import)


def unlisted(skipped: list[tuple[str, str]], allowed: dict[str, str]) -> list[tuple[str, str]]:
    """The skips no entry of `allowed` covers (an entry covers its id and every id under it)."""
    return [(nodeid, why) for nodeid, why in skipped if not any(nodeid == a or nodeid.startswith(a + "::") or nodeid.startswith(a + "[") for a in allowed)]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI", "").lower() != "true":
        return
    silent = unlisted(_skipped, ALLOWED)
    if not silent:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"CI: {len(silent)} skipped test(s) not allowed in tests/support/ci_skips.py ALLOWED (a skip in CI is a failure):"]
    lines += [f"  {nodeid}: {why}" for nodeid, why in silent]
    for line in lines:
        if reporter is not None:
            reporter.write_line(line, red=True)
        else:
            print(line)
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
