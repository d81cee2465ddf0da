"""Hostile inputs to the linter and compiler are refused with a located error, in bounded time and memory.

YAML aliases (every reader of YAML: rules, schemas, placeholders), `|expand` products and `|windash`
variants can each make a small file ask for an enormous tree; the caps turn each into one diagnostic.
The memory bound is a safety limit (the process may use at most 1 GB), not a measure of speed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli.main import main
from compiler.placeholders import load_placeholders
from compiler.schemas import load_schemas
from dsl import modifiers
from dsl.ast import FieldItem
from dsl.diagnostics import Loc
from dsl.modifiers import MAX_VARIANTS, ModifierError, lower_item
from dsl.yaml_source import MAX_DEPTH, load_documents

ROOT = Path(__file__).resolve().parents[1]


def laughs(levels: int, indent: str = "") -> str:
    """Nested aliases, each level nine of the one before: 9**levels values from a few hundred bytes."""
    lines = [f"{indent}l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


# Loads a file in a child process that may not use more than 1 GB, and prints its diagnostics as JSON.
LOAD_BOUNDED = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    from dsl.yaml_source import load_documents
    docs, diags = load_documents(open(sys.argv[1], encoding="utf-8").read(), sys.argv[1])
    print(json.dumps([[d.code, d.loc.line, d.loc.col, d.message] for d in diags]))
    """
)


class TestYamlAliases:
    def test_billion_laughs_is_refused_within_a_memory_bound(self, tmp_path: Path) -> None:
        """Nine levels of nine aliases (387 million values) give one E005 at the alias where the cap is
        crossed, in a process limited to 1 GB."""
        path = tmp_path / "laughs.yml"
        path.write_text("title: laughs\n" + laughs(9))
        assert path.stat().st_size < 600
        done = subprocess.run(
            [sys.executable, "-c", LOAD_BOUNDED, str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr[-2000:]
        # l1..l3 add 90 + 819 + 7,380 values; the first *l3 in l4 adds 7,381 more: over 10,000.
        assert json.loads(done.stdout) == [["E005", 6, 10, "aliases expand this document past 10,000 values"]]

    @pytest.mark.parametrize(
        ("text", "where"),
        [
            ("a: &a [x, *a]\n", (1, 11)),
            ("a: &a {k: *a}\n", (1, 11)),
            ("a: &a\n  b: [1, {c: *a}]\n", (2, 14)),
        ],
        ids=["sequence", "mapping", "nested"],
    )
    def test_alias_inside_its_own_anchor(self, text: str, where: tuple[int, int]) -> None:
        """An alias to a collection it sits in is E005 at the alias, not a RecursionError."""
        docs, diags = load_documents(text, "r.yml")
        assert docs == []
        assert [(d.code, d.loc) for d in diags] == [("E005", Loc("r.yml", *where))]
        assert "contains it" in diags[0].message

    def test_written_nesting_is_capped(self) -> None:
        """Collections nested deeper than MAX_DEPTH are E005 where the limit is crossed, not a RecursionError
        while PyYAML composes them; the next document still loads."""
        text = "a: " + "[" * 5000 + "]" * 5000 + "\n---\nb: 1\n"
        docs, diags = load_documents(text, "r.yml")
        assert [(d.code, d.loc) for d in diags] == [("E005", Loc("r.yml", 1, 3 + MAX_DEPTH))]
        assert [d.plain() for d in docs] == [{"b": 1}]

    def test_a_document_after_a_refused_one_loads(self) -> None:
        """The cap drops only the document that crosses it."""
        docs, diags = load_documents(laughs(6) + "---\ntitle: next\n", "r.yml")
        assert [d.code for d in diags] == ["E005"]
        assert [d.plain() for d in docs] == [{"title": "next"}]

    def test_ordinary_aliases_still_work(self) -> None:
        """Aliases within the caps give the anchored values, located at the alias."""
        docs, diags = load_documents("a: &a [x, y]\nb: *a\nc: &t text\nd: *t\n", "r.yml")
        assert diags == []
        assert docs[0].plain() == {"a": ["x", "y"], "b": ["x", "y"], "c": "text", "d": "text"}
        assert docs[0].get("b").loc == Loc("r.yml", 2, 4)

    def test_schema_files_are_capped(self, tmp_path: Path) -> None:
        """A schema file goes through the same reader: a billion laughs in it is E005, not a hang."""
        (tmp_path / "laughs.yml").write_text("name: laughs\n" + laughs(6))
        result = load_schemas(tmp_path)
        assert [(d.code, d.loc.line) for d in result.diagnostics] == [("E005", 6)]

    def test_placeholder_files_are_capped(self, tmp_path: Path) -> None:
        """So does a placeholders file."""
        path = tmp_path / "placeholders.yml"
        path.write_text(laughs(6))
        values, diags = load_placeholders(str(path))
        assert values == {}
        assert [(d.code, d.loc.line) for d in diags] == [("E005", 5)]


def item(values: list, *mods: str) -> FieldItem:
    return FieldItem("CommandLine", mods, tuple(values), Loc("r.yml", 3, 5), tuple(Loc("r.yml", 4 + i, 9) for i in range(len(values))))


class TestExpansions:
    def test_windash_across_values(self) -> None:
        """Each value may stay under the per-value cap, yet together they are refused at the value that
        crosses MAX_VARIANTS, before its variants are built."""
        six = "x -a -b -c -d -e -f"  # 5**6 = 15,625 variants
        lower_item(item([six], "windash"))
        with pytest.raises(ModifierError) as caught:
            lower_item(item([six, six, six], "windash", "contains"))
        assert (caught.value.code, caught.value.value_index) == ("E122", 1)

    def test_expand_product(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Placeholders multiply; the product is computed, not built, so a huge one is refused at once."""

        def build(pattern, values):
            raise AssertionError("the expansion was built before its size was checked")

        monkeypatch.setattr(modifiers, "_expand", build)
        values = {name: [f"{name}{i}" for i in range(1000)] for name in "abcde"}
        with pytest.raises(ModifierError) as caught:
            lower_item(item(["%a%%b%%c%%d%%e%"], "expand"), values)
        assert caught.value.code == "E122" and "1,000,000,000,000,000" in caught.value.message

    def test_base64offset_counts(self) -> None:
        """base64offset's three encodings count towards the cap too."""
        values = [f"v{i}" for i in range(MAX_VARIANTS // 3 + 1)]
        with pytest.raises(ModifierError) as caught:
            lower_item(item(values, "base64offset", "contains"))
        assert (caught.value.code, caught.value.value_index) == ("E122", MAX_VARIANTS // 3)

    def test_too_many_dashes_in_one_value_is_still_e118(self) -> None:
        """The per-value dash limit keeps its own code and message."""
        with pytest.raises(ModifierError) as caught:
            lower_item(item(["-a -b -c -d -e -f -g"], "windash"))
        assert caught.value.code == "E118"

    def test_compile_reports_an_expand_product_located(self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        """`sigil compile` with a placeholders file that makes an item too big: E122 at the value, exit 1."""
        monkeypatch.chdir(tmp_path)
        Path("rule.yml").write_text(
            "title: expand\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n"
            "  selection:\n    eventName|expand:\n      - '%a%-%b%'\n  condition: selection\n"
        )
        Path("placeholders.yml").write_text("a: [" + ", ".join(f"a{i}" for i in range(200)) + "]\nb: [" + ", ".join(f"b{i}" for i in range(200)) + "]\n")
        status = main(["compile", "rule.yml", "--schemas", str(ROOT / "schemas"), "--out", "out"])
        err = capsys.readouterr().err
        assert status == 1
        assert "rule.yml:8:9: error[E122]: 'expand' would make 40,000 patterns of this value, over the 20,000 an item may have" in err

    def test_replay_with_a_forced_log_type_reports_it_too(self, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        """`sigil replay --log-type json` lowers every rule itself: the rule too big to lower is left out
        with its E122, not a traceback."""
        monkeypatch.chdir(tmp_path)
        Path("rule.yml").write_text(
            "title: expand\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n"
            "  selection:\n    eventName|expand:\n      - '%a%-%b%'\n  condition: selection\n"
        )
        Path("placeholders.yml").write_text("a: [" + ", ".join(f"a{i}" for i in range(200)) + "]\nb: [" + ", ".join(f"b{i}" for i in range(200)) + "]\n")
        Path("events.json").write_text('{"eventName": "a1-b1"}\n')
        status = main(["replay", "--rules", "rule.yml", "--schemas", str(ROOT / "schemas"), "--log-type", "json", "events.json"])
        err = capsys.readouterr().err
        assert status == 1
        assert "rule.yml:8:9: error[E122]" in err
