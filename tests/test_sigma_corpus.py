"""SigmaHQ's corpus: every rule loads, and the regression events fire their rules in both engines."""

from __future__ import annotations

import glob
import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import yaml

from compiler.cli import main as sigil
from dsl.loader import load_paths

SHARED = Path(__file__).resolve().parents[2] / "shared"
SIGMA = SHARED / "sigma"
ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not SIGMA.is_dir(), reason="../shared/sigma is not beside the project")


@pytest.mark.parametrize(("folder", "expected"), [("rules", 3141), ("rules-placeholder", 23)])
def test_every_corpus_rule_loads_without_errors(folder, expected):
    """pySigma parses all of them; so must we: zero errors, and every file becomes a rule."""
    result = load_paths([SIGMA / folder])
    print(f"{folder}: {result.files} files, {len(result.rules)} rules, {len(result.errors)} errors, {len(result.warnings)} warnings")
    assert result.errors == []
    assert result.files == expected
    assert len(result.rules) == expected


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
