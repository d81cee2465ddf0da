"""The examples in docs/ stay true: every YAML rule on docs/extensions.md loads and behaves as described."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dsl.interpreter import evaluate
from dsl.loader import load_text

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "extensions.md").read_text(encoding="utf-8")
YAML_BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", DOC, re.S)


@pytest.fixture
def helpers_on_disk(tmp_path, monkeypatch):
    """The page's Python helper module, written where its YAML refers to it."""
    (tmp_path / "rules" / "helpers").mkdir(parents=True)
    (tmp_path / "rules" / "helpers" / "auth.py").write_text(PYTHON_BLOCKS[0])
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("block", YAML_BLOCKS, ids=[b.splitlines()[0] for b in YAML_BLOCKS])
def test_example_loads_without_diagnostics(block, helpers_on_disk):
    """Each example is a complete rule with no error and no warning."""
    result = load_text(block, "example.yml")
    assert result.diagnostics == [] and len(result.rules) == 1


def test_examples_mean_what_the_page_says(helpers_on_disk):
    """Severity overrides level, the Python condition decides, disabled stays disabled, tests hold."""
    rules = {r.title: r for b in YAML_BLOCKS for r in load_text(b, "example.yml").rules}
    assert rules["AWS Root Account Usage"].effective_level == "critical"
    assert rules["Repeated access denied"].dedup.window_seconds == 900
    assert not rules["Noisy rule under review"].enabled
    admin = rules["Admin console login"]
    assert evaluate(admin, {"eventName": "ConsoleLogin", "userIdentity": {"userName": "Root"}})
    assert not evaluate(admin, {"eventName": "ConsoleLogin", "userIdentity": {"userName": "bob"}})
    stopped = rules["CloudTrail logging stopped"]
    assert all(evaluate(stopped, t.event) is t.expect for t in stopped.tests)
    assert len(YAML_BLOCKS) >= 7
