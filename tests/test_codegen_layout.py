"""Generated modules a reviewer can read and diff.

A module is planned as data (compiler/module_plan.py) and printed (compiler/layout.py): one operand per
line indented by depth, one table entry per line, long literals one element (or piece of string) per
line, each check below a comment with its rule id, file:line, logsource mapping and condition, and
names derived from content. So lines stay short, and a change to one rule changes only a few lines
next to each other, never the names or table entries of the other rules.

`tests/fixtures/codegen/winlog.py` is the reviewed module of the rules in `tests/fixtures/codegen/rules`
(schema `tests/fixtures/codegen/schemas`). `SIGIL_UPDATE_GOLDEN=1 .venv/bin/pytest
tests/test_codegen_layout.py` rewrites it from the current output; review every changed line.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from compiler.build import compile_rules

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "codegen"
GOLDEN = FIXTURES / "winlog.py"
UPDATE = os.environ.get("SIGIL_UPDATE_GOLDEN") == "1"
LONGEST = 110  # the printer keeps to 100 columns where one element allows it; a little slack


def build(rules_dir: Path, out: Path) -> str:
    """The generated `winlog` module of the rules in `rules_dir`, compiled with the fixture schema."""
    result = compile_rules([str(rules_dir)], str(FIXTURES / "schemas"), out)
    assert result.errors == []
    return (out / "sigil_rules" / "winlog.py").read_text(encoding="utf-8")


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the fixture rules in a working directory of its own (paths in comments are relative)."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(FIXTURES / "rules", tmp_path / "rules")
    return tmp_path


def changed_lines(before: str, after: str) -> tuple[list[str], list[str], int]:
    """(removed lines, added lines, hunks) of a diff without context."""
    diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    removed = [line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    return removed, added, sum(line.startswith("@@") for line in diff)


def test_module_of_the_fixture_rules_is_the_reviewed_one(monkeypatch, tmp_path):
    """The printed module equals tests/fixtures/codegen/winlog.py, byte for byte."""
    monkeypatch.chdir(ROOT)
    source = build(FIXTURES / "rules", tmp_path)
    if UPDATE:
        GOLDEN.write_text(source, encoding="utf-8")
    assert GOLDEN.is_file(), "no golden module; run with SIGIL_UPDATE_GOLDEN=1 and review it"
    assert source == GOLDEN.read_text(encoding="utf-8")


def test_golden_module_reads_as_the_layout_promises():
    """Each check is named from its rule id and sits below its id, file:line, logsource and condition;
    operands are one per line under the selections they come from; tables hold one entry per line."""
    source = GOLDEN.read_text(encoding="utf-8")
    lines = source.splitlines()
    assert max(map(len, lines)) <= LONGEST
    assert (
        "# 5c1a2b3d-0000-4000-8000-000000000001\n"
        "#   tests/fixtures/codegen/rules/encoded_powershell.yml:1 Encoded PowerShell Command Line\n"
        "#   logsource: product=windows category=process_creation → winlog (tested by _when_"
    ) in source
    assert "#   condition: all of selection_* and not 1 of filter_main_*\ndef _r5c1a2b3d(F):\n    return (\n        # selection_cli\n" in source
    assert "renames Image → NewProcessName" in source  # the second mapping of process_creation
    for name in ("# filter_main_sccm", "# selection_img", "# selection_user", "# filter_machine"):
        assert f"        {name}\n" in source
    assert "        and ('\\x02c:\\\\windows\\\\ccm\\\\' not in F['w:ParentImage'])\n" in source
    # One table entry per line: each rule once in RULE_TABLE, each anchor literal on its own line.
    table = source[source.index("RULE_TABLE = (") : source.index("\n)\n", source.index("RULE_TABLE = ("))]
    assert len(table.splitlines()) == 1 + 8  # 5 rules, 3 of them on both process_creation mappings
    assert "        '\\\\cmd.exe\\x03': (_r3f2e1d0c,),\n" in source
    # Long literals, one piece per line: the trie regex of the download cradles is one constant.
    assert re.search(r"^RX_[0-9a-f]{8} = LazyRegex\(\($", source, re.MULTILINE)


def test_every_line_stays_short_whatever_the_rules_hold(tmp_path, monkeypatch):
    """Long literals, many values, long names and titles: every line of the module within the bound."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rules").mkdir()
    long_text = "powershell -w hidden -nop -c " + "A" * 3000 + " end"
    rule = {
        "title": "A very long title " * 12,
        "id": "0d0d0d0d-0000-4000-8000-000000000009",
        "description": "words " * 200,
        "logsource": {"product": "windows", "category": "process_creation"},
        "detection": {
            "selection_with_a_rather_long_name_" + "x" * 60: {"CommandLine|contains": [long_text, "b" * 500]},
            "selection_many_values": {"OriginalFileName": [f"tool{i:03}.exe" for i in range(300)]},
            "selection_regex": {"CommandLine|re": "(?:" + "|".join(f"verb{i}" for i in range(200)) + ")"},
            "selection_equal": {"Image": "C:\\" + "dir\\" * 200 + "x.exe"},
            "condition": "1 of selection_*",
        },
        "level": "low",
    }
    (tmp_path / "rules" / "long.yml").write_text(yaml.safe_dump(rule), encoding="utf-8")
    source = build(tmp_path / "rules", tmp_path / "build")
    assert max(map(len, source.splitlines())) <= LONGEST
    namespace: dict = {}
    exec(compile(source, "<long>", "exec"), namespace)
    assert namespace["match"]({"Channel": "Sysmon", "EventID": 1, "CommandLine": f"x {long_text} y"}) == [rule["id"]]
    assert namespace["match"]({"Channel": "Sysmon", "EventID": 1, "OriginalFileName": "TOOL299.EXE"}) == [rule["id"]]
    assert namespace["match"]({"Channel": "Sysmon", "EventID": 1, "Image": "c:\\" + "DIR\\" * 200 + "x.exe"}) == [rule["id"]]
    assert namespace["match"]({"Channel": "Sysmon", "EventID": 1, "CommandLine": "verb77"}) == [rule["id"]]
    assert namespace["match"]({"Channel": "Sysmon", "EventID": 1, "CommandLine": "verb"}) == []


def test_editing_one_literal_changes_only_the_lines_that_hold_it(project):
    """One value of one rule edited: the few changed lines all hold that value; nothing else moves."""
    before = build(project / "rules", project / "one")
    path = project / "rules" / "renamed_parent.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("'\\cmd.exe'", "'\\cmd2.exe'"), encoding="utf-8")
    after = build(project / "rules", project / "two")
    removed, added, hunks = changed_lines(before, after)
    # Its two checks (one per process_creation mapping) and its anchors on Image and NewProcessName.
    assert len(removed) == len(added) == 4, (removed, added)
    assert all("cmd.exe" in line for line in removed) and all("cmd2.exe" in line for line in added)
    assert hunks <= 4


def test_editing_a_description_changes_only_that_rules_entry(project):
    before = build(project / "rules", project / "one")
    path = project / "rules" / "logon_types.yml"
    path.write_text(path.read_text(encoding="utf-8").replace("an account named like", "an account named as"), encoding="utf-8")
    removed, added, hunks = changed_lines(before, build(project / "rules", project / "two"))
    assert hunks == 1 and len(removed) == len(added) <= 2, (removed, added)


def test_adding_a_rule_only_adds_lines_but_for_anchor_choices(project):
    """A new rule: its metadata, its check, a table line and its anchors are added; no line of the module
    before is removed or changed (no renumbering) outside ANCHORS, where the anchor chosen for another
    rule may move, since the choice weighs how many rules probe each field (compiler/anchors.py)."""
    before = build(project / "rules", project / "one")
    new_rule = {
        "title": "Service Created From A Temp Folder",
        "id": "c0ffee00-0000-4000-8000-000000000006",
        "description": "A process started from a temporary folder.",
        "logsource": {"product": "windows", "service": "security"},
        "detection": {"selection": {"EventID": 4697, "Image|contains": "\\AppData\\Local\\Temp\\"}, "condition": "selection"},
        "level": "medium",
    }
    (project / "rules" / "aaa_first.yml").write_text(yaml.safe_dump(new_rule), encoding="utf-8")  # sorts first
    after = build(project / "rules", project / "two")
    removed, added, hunks = changed_lines(before, after)
    old_lines = before.splitlines()
    anchors = range(old_lines.index("ANCHORS = {"), old_lines.index("TABLES = number_rules(RULE_TABLE, WHENS, ANCHORS, ALWAYS)"))
    matcher = difflib.SequenceMatcher(None, old_lines, after.splitlines(), autojunk=False)
    removed_at = [i for tag, i1, i2, _, _ in matcher.get_opcodes() if tag in ("delete", "replace") for i in range(i1, i2)]
    assert all(i in anchors for i in removed_at), [old_lines[i] for i in removed_at]
    assert len(removed) <= 6  # here the logon rule's anchor moves from LogonType to EventID, now probed by two rules
    assert hunks <= 6  # RULES entry, check, RULE_TABLE line, anchors
    assert "def _rc0ffee00(F):" in added
    assert "    ('c0ffee00-0000-4000-8000-000000000006', _when_a19704e6, _rc0ffee00)," in added
    assert len(added) < 40


def test_adding_a_rule_that_shares_an_anchor_changes_only_that_anchor_line(project):
    before = build(project / "rules", project / "one")
    new_rule = {
        "title": "Encoded Command From Cmd",
        "id": "d00dfeed-0000-4000-8000-000000000007",
        "logsource": {"product": "windows", "service": "security"},
        "detection": {"selection": {"CommandLine|contains": " -enc "}, "condition": "selection"},
        "level": "medium",
    }
    (project / "rules" / "zzz_last.yml").write_text(yaml.safe_dump(new_rule), encoding="utf-8")
    removed, added, _ = changed_lines(before, build(project / "rules", project / "two"))
    assert removed == ["        ' -enc ': (_r5c1a2b3d, _r3fe3d3a3),"]
    assert "        ' -enc ': (_r5c1a2b3d, _r3fe3d3a3, _rd00dfeed)," in added


def test_output_is_deterministic(project):
    """The same rules give the same bytes, build after build."""
    assert build(project / "rules", project / "one") == build(project / "rules", project / "two")
