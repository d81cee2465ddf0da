"""SigmaHQ's corpus: every rule loads, and the regression events fire their rules in both engines."""

from __future__ import annotations

import glob
import io
import json
import os
from contextlib import redirect_stdout
from functools import cache
from pathlib import Path

import pytest
import yaml

from cli.main import main as sigil
from compiler.checks import field_items
from dsl.loader import LoadResult, load_paths
from runtime.regex import FLAGS, fallback_problem, problem

SHARED = Path(__file__).resolve().parents[2] / "shared"
SIGMA = SHARED / "sigma"
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not SIGMA.is_dir(), reason="../shared/sigma is not beside the project")


@cache
def _loaded(folder: str) -> LoadResult:
    return load_paths([SIGMA / folder])


@pytest.mark.parametrize(("folder", "expected"), [("rules", 3141), ("rules-placeholder", 23)])
def test_every_corpus_rule_loads_without_errors(folder, expected):
    """pySigma parses all of them; so must we: zero errors, and every file becomes a rule.

    Every `|re` value is compiled by RE2 while loading, so no error also means RE2 runs all of them.
    """
    result = _loaded(folder)
    print(f"{folder}: {result.files} files, {len(result.rules)} rules, {len(result.errors)} errors, {len(result.warnings)} warnings")
    assert result.errors == []
    assert result.files == expected
    assert len(result.rules) == expected


def test_corpus_regexes_on_re2_and_on_the_fallback():
    """The counts docs/language.md gives: 171 regexes in 87 rules, none refused by RE2; 72 rules need RE2."""
    regexes = [
        (rule.path, value, "".join(m for m in item.modifiers if m in FLAGS))
        for folder in ("rules", "rules-placeholder")
        for rule in _loaded(folder).rules
        for item in field_items(rule)
        if item.modifiers[:1] == ("re",)
        for value in item.values
    ]
    assert (len(regexes), len({path for path, _, _ in regexes})) == (171, 87)
    assert [value for _, value, flags in regexes if problem(str(value), flags)] == []
    assert len({path for path, value, flags in regexes if fallback_problem(str(value), flags)}) == 72


def _rule_index() -> dict[str, Path]:
    index = {}
    for path in glob.glob(str(SIGMA / "rules*" / "**" / "*.yml"), recursive=True):
        with open(path, encoding="utf-8") as fh:
            for doc in yaml.safe_load_all(fh):
                if isinstance(doc, dict) and doc.get("id"):
                    index[str(doc["id"])] = Path(path)
    return index


def _regression_cases() -> list[tuple[str, Path, Path, int]]:
    if not SIGMA.is_dir():
        return []
    index = _rule_index()
    cases = []
    for info_path in sorted(glob.glob(str(SIGMA / "regression_data" / "**" / "info.yml"), recursive=True)):
        info = yaml.safe_load(Path(info_path).read_text(encoding="utf-8")) or {}
        for test in info.get("regression_tests_info") or []:
            events = Path(info_path).parent / os.path.basename(test["path"]).replace(".evtx", ".json")
            for meta in info.get("rule_metadata") or []:
                cases.append((str(meta["id"]), index[str(meta["id"])], events, int(test.get("match_count") or 1)))
    return cases


CASES = _regression_cases()


def test_regression_folders_are_all_found():
    """69 folders with regression_tests_info, each naming a rule that exists in the corpus."""
    assert len(CASES) == 69


@pytest.mark.parametrize("engine", ["interpreter", "compiled"])
@pytest.mark.parametrize(("rule_id", "rule", "events", "want"), CASES, ids=[c[1].stem for c in CASES])
def test_regression_events_fire_their_rule(rule_id, rule, events, want, engine, monkeypatch):
    """`sigil replay` (logsource mapping from schemas/) fires the rule at least match_count times."""
    monkeypatch.chdir(ROOT)
    out = io.StringIO()
    with redirect_stdout(out):
        status = sigil(["replay", "--rules", str(rule), "--engine", engine, str(events)])
    alerts = [json.loads(line) for line in out.getvalue().splitlines()]
    assert status == 0
    assert sum(a["rule_id"] == rule_id for a in alerts) >= want
