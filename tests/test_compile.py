"""`sigil compile`: diagnostics instead of tracebacks, deterministic output, the helper contract."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import runtime.helpers
from cli.main import main
from compiler.build import compile_rules
from compiler.codegen import HELPERS
from runtime.contract import CONTRACT, MANIFEST_FILE, PACKAGE, SCHEMAS_FILE, MatchTables, RuleMeta
from runtime.rules import load_rules

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = str(ROOT / "schemas")
RULESET = ROOT / "tests" / "fixtures" / "ruleset"  # the tests' own rules (tests/conftest.py)


def write_rule(tmp_path: Path, body: str, name: str = "rule.yml") -> Path:
    rules = tmp_path / "rules"
    rules.mkdir(exist_ok=True)
    path = rules / name
    path.write_text(body, encoding="utf-8")
    return path


ROOT_RULE = """\
title: Root usage
id: 9a1e6f3c-1f4b-4c55-9a0e-2f8f6d3b7c11
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    userIdentity.typ: Root
  condition: selection
level: high
"""


class TestDiagnostics:
    def test_unknown_field_is_reported_with_a_suggestion_and_exit_1(self, tmp_path, capsys, monkeypatch):
        """A misspelt field yields path:line:col, the source line, a caret, a did-you-mean hint, and exit 1."""
        path = write_rule(tmp_path, ROOT_RULE)
        monkeypatch.chdir(tmp_path)
        status = main(["compile", "rules", "--schemas", SCHEMAS, "--out", str(tmp_path / "out")])
        err = capsys.readouterr().err
        assert status == 1
        assert err == (
            "rules/rule.yml:8:5: error[E060]: field 'userIdentity.typ' is not in log type 'cloudtrail'\n"
            "   8 |     userIdentity.typ: Root\n"
            "     |     ^\n"
            "  = hint: did you mean userIdentity.type?\n"
            "1 rule, 0 compiled, 1 error, 0 warnings\n"
        )
        assert path.exists() and not (tmp_path / "out" / "sigil_rules").exists()

    def test_unmapped_logsource_names_what_is_missing(self, tmp_path, capsys, monkeypatch):
        """A logsource no schema serves is an error that names the logsource."""
        write_rule(tmp_path, ROOT_RULE.replace("service: cloudtrail", "service: nosuch"))
        monkeypatch.chdir(tmp_path)
        assert main(["compile", "rules", "--schemas", SCHEMAS, "--out", "out"]) == 1
        first = capsys.readouterr().err.splitlines()[0]
        assert first == "rules/rule.yml:5:12: error[E061]: logsource product=aws service=nosuch maps to no log type"

    def test_all_rules_are_checked_before_failing(self, tmp_path, capsys, monkeypatch):
        """Two broken files give two diagnostics in one run, not one."""
        write_rule(tmp_path, ROOT_RULE, "a.yml")
        write_rule(tmp_path, "title: [unclosed\n", "b.yml")
        monkeypatch.chdir(tmp_path)
        assert main(["compile", "rules", "--schemas", SCHEMAS, "--out", "out"]) == 1
        err = capsys.readouterr().err
        assert "rules/a.yml:8:5: error[E060]" in err
        assert "rules/b.yml:2:1: error[E001]: malformed YAML" in err
        assert err.rstrip().endswith("1 rule, 0 compiled, 2 errors, 0 warnings")

    def test_cli_never_prints_a_traceback(self, tmp_path):
        """The installed command reports a broken rule file and exits 1 without a Python traceback."""
        write_rule(tmp_path, "detection: {condition: 'sel and'}\n")
        proc = subprocess.run(
            [sys.executable, "-m", "cli", "compile", "rules", "--schemas", SCHEMAS, "--out", "out"],
            cwd=tmp_path, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": ""},
        )
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        assert "error[E020]: the rule has no 'title'" in proc.stderr
        assert "error[E200]: condition ends too early" in proc.stderr


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    outs = [tmp_path_factory.mktemp(f"build{i}") for i in range(2)]
    for out in outs:
        result = compile_rules([str(RULESET)], SCHEMAS, out)
        assert not result.errors
    return outs


class TestGeneratedPackage:
    def test_output_is_byte_identical_across_runs(self, two_builds):
        """Compiling the same rules twice gives the same files, byte for byte."""
        first, second = (sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file()) for out in two_builds)
        assert first == second and first
        for rel in first:
            assert (two_builds[0] / rel).read_bytes() == (two_builds[1] / rel).read_bytes(), rel

    def test_generated_code_imports_only_the_exported_helpers(self, two_builds):
        """Every generated module imports from runtime.helpers names that runtime.helpers exports."""
        assert set(HELPERS) == set(runtime.helpers.__all__)
        for module in (two_builds[0] / "sigil_rules").glob("*.py"):
            for line in module.read_text().splitlines():
                if line.startswith("from ") or line.startswith("import "):
                    assert line.startswith(("from runtime.helpers import ", "import re")), line
                    if line.startswith("from runtime.helpers import "):
                        names = line.removeprefix("from runtime.helpers import ").split(", ")
                        assert set(names) <= set(runtime.helpers.__all__)

    def test_generated_code_is_clean_under_ruff(self, two_builds):
        """The generated modules pass ruff with the project's configuration."""
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(two_builds[0] / "sigil_rules")],
            capture_output=True, text=True,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def test_the_runtime_loads_it_under_the_contract(self, two_builds, monkeypatch):
        """The package carries this contract's version and the runtime loads it: every module's tables are
        a MatchTables, every rule's metadata has exactly RuleMeta's keys, each file named by the contract."""
        package = two_builds[0] / PACKAGE
        assert {p.name for p in package.glob("*.json")} == {SCHEMAS_FILE, MANIFEST_FILE}
        monkeypatch.syspath_prepend(str(two_builds[0]))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            monkeypatch.delitem(sys.modules, name)
        rules = load_rules()
        assert sys.modules[PACKAGE].CONTRACT == CONTRACT
        assert rules.modules
        for module in rules.modules.values():
            assert isinstance(module.TABLES, MatchTables)
            assert len(module.TABLES.checks) == len(module.TABLES.rule_ids) == len(module.TABLES.rule_whens)
            for meta in module.RULES.values():
                assert set(meta) == set(RuleMeta.__annotations__)
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]

    def test_each_rule_is_preceded_by_its_source_location(self, two_builds):
        """A comment with the rule id, path:line and title, logsource mapping and condition comes right
        before each rule's check, which is named from the id."""
        source = (two_builds[0] / "sigil_rules" / "cloudtrail.py").read_text()
        assert (
            "\n# 5448a752-d801-4f72-85d9-15faa4264c9a\n"
            "#   tests/fixtures/ruleset/aws_root_account_usage.yml:1 AWS Root Account Usage\n"
            "#   logsource: product=aws service=cloudtrail → cloudtrail (tested by _when_"
        ) in source.replace(str(ROOT) + "/", "")
        assert ")\n#   condition: selection and not 1 of filter_*\ndef _r5448a752(F):\n" in source


CHECK_RULE = """\
title: {title}
id: 00000000-0000-4000-8000-{index:012d}
logsource: {{product: aws, service: cloudtrail}}
detection:
{detection}
level: low
"""


def lint_codes(tmp_path, capsys, *detections: str, titles=None) -> list[tuple[str, str]]:
    for i, detection in enumerate(detections):
        title = (titles or [f"rule {i}" for _ in detections])[i]
        write_rule(tmp_path, CHECK_RULE.format(title=title, index=i, detection=detection), f"r{i}.yml")
    main(["lint", "--format", "json", "--schemas", SCHEMAS, str(tmp_path / "rules")])
    import json as _json

    rows = [_json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return [(r["code"], r["message"]) for r in rows]


class TestSchemaChecks:
    def test_cidr_on_a_non_address_field(self, tmp_path, capsys):
        """cidr on a boolean field is an error naming the field's type."""
        codes = lint_codes(tmp_path, capsys, "  sel:\n    readOnly|cidr: 10.0.0.0/8\n  condition: sel")
        assert codes == [("E062", "'cidr' on field 'readOnly', which holds boolean values, not addresses")]

    def test_numeric_comparison_on_text(self, tmp_path, capsys):
        """lt/gt on a string field is an error."""
        codes = lint_codes(tmp_path, capsys, "  sel:\n    eventName|gt: 5\n  condition: sel")
        assert codes == [("E062", "a numeric comparison on field 'eventName', which holds string values")]

    def test_nested_repeats_are_fine_on_re2(self, tmp_path, capsys):
        """Nested unbounded repeats need no warning: RE2 runs them in linear time."""
        codes = lint_codes(tmp_path, capsys, "  sel:\n    userAgent|re: '(a+)+$'\n  condition: sel")
        assert codes == []

    def test_regex_re2_cannot_run_is_an_error(self, tmp_path, capsys):
        """A backreference or lookahead, which need backtracking, is an error naming the construct."""
        codes = lint_codes(tmp_path, capsys, "  sel:\n    userAgent|re: '(a)\\1|x(?=y)'\n  condition: sel")
        assert codes == [("E130", "RE2 has no backreferences: invalid escape sequence: \\1")]

    def test_condition_never_true_and_always_true(self, tmp_path, capsys):
        """`x and not x` can never fire; `x or not x` always would: both are warnings."""
        codes = lint_codes(
            tmp_path, capsys,
            "  sel:\n    eventName: A\n  condition: sel and not sel",
            "  sel:\n    eventName: A\n  condition: sel or not sel",
        )
        assert ("W064", "the condition can never be true: the rule is left out") in codes
        assert ("W065", "the condition is always true: it would alert on every record") in codes

    def test_rules_identical_in_logic(self, tmp_path, capsys):
        """Two rules whose optimized logic is the same get a warning on the second."""
        codes = lint_codes(
            tmp_path, capsys,
            "  sel:\n    eventName: [A, B]\n  condition: sel",
            "  one:\n    eventName: B\n  two:\n    eventName: a\n  condition: 1 of them",
            titles=["first", "second"],
        )
        assert len(codes) == 1 and codes[0][0] == "W066" and codes[0][1].startswith("this rule's logic is identical to 'first'")


EMPTY_PLACEHOLDER_FILTER_RULE = """\
title: Console login not by an admin
id: 3f0c2a61-5b7e-4d8a-9c1f-2e4b6d8a0c13
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: ConsoleLogin
  admins:
    userIdentity.userName|expand: '%admins%'
  condition: selection and not admins
level: low
"""


def test_a_filter_of_an_empty_placeholder_list_keeps_the_rule(tmp_path, monkeypatch):
    """`not` of an expand with no values is true: the rule compiles (no W064) and fires as the interpreter says."""
    import importlib.util

    from dsl.interpreter import evaluate

    write_rule(tmp_path, EMPTY_PLACEHOLDER_FILTER_RULE)
    (tmp_path / "placeholders.yml").write_text("admins: []\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = compile_rules(["rules"], SCHEMAS, tmp_path / "out", placeholders_file="placeholders.yml")
    assert [d.code for d in result.diagnostics] == []
    spec = importlib.util.spec_from_file_location("_empty_placeholder", tmp_path / "out" / "sigil_rules" / "cloudtrail.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (rule,) = result.rules
    for event in ({"eventName": "ConsoleLogin", "userIdentity": {"userName": "bob"}}, {"eventName": "GetObject"}):
        assert (module.match(event) == [rule.key]) is evaluate(rule, event) is (event["eventName"] == "ConsoleLogin")


class TestLiteralAndRangeChecks:
    """W062 and W063, run on rules loaded from text against the shipped schemas (the checks, not the CLI)."""

    SCHEMA_SET = None

    def codes(self, logsource: str, detection: str) -> list[tuple[str, str]]:
        from compiler.checks import check_literal_types, check_numeric_ranges
        from compiler.schemas import load_schemas
        from dsl.loader import load_text

        if TestLiteralAndRangeChecks.SCHEMA_SET is None:
            TestLiteralAndRangeChecks.SCHEMA_SET = load_schemas(SCHEMAS)
        loaded = load_text(f"title: t\nlogsource: {logsource}\ndetection:\n{detection}\n")
        assert not loaded.errors, loaded.errors
        rule = loaded.rules[0]
        schemas = TestLiteralAndRangeChecks.SCHEMA_SET
        return [(d.code, d.message) for d in check_literal_types(rule, schemas) + check_numeric_ranges(rule, schemas)]

    VPC = "{product: aws, service: vpcflowlogs}"
    CLOUDTRAIL = "{product: aws, service: cloudtrail}"

    @pytest.mark.parametrize(
        ("logsource", "selection", "expected"),
        [
            (VPC, "srcport: http", [("W062", "'srcport' holds whole numbers: it can never equal 'http'")]),
            (VPC, "srcport: 22.0", [("W062", "'srcport' holds whole numbers: it can never equal 22.0")]),
            (VPC, "srcport: '0022'", [("W062", "'srcport' holds whole numbers: it can never equal '0022'")]),
            (VPC, "srcport: [22, '443', -1]", []),
            (VPC, "srcport: '8*'", []),  # a wildcard may match a number's text
            (VPC, "srcport|contains: http", []),  # only equality is checked
            (VPC, "srcaddr: 10.0.0.0/8", [("W062", "'srcaddr' holds IP addresses: it can never equal '10.0.0.0/8'")]),
            (VPC, "srcaddr: ['10.1.2.3', '2001:db8::1', '10.1.*']", []),
            (CLOUDTRAIL, "readOnly: 'yes'", [("W062", "'readOnly' holds true or false: it can never equal 'yes'")]),
            (CLOUDTRAIL, "readOnly: [true, 'False']", []),
            (CLOUDTRAIL, "requestParameters.port: http", []),  # an `any` part: no type to check
        ],
    )
    def test_values_a_field_can_never_equal(self, logsource, selection, expected):
        """A plain value the field's type can never spell is W062; wildcards, other modifiers and untyped fields are left alone."""
        assert self.codes(logsource, f"  sel:\n    {selection}\n  condition: sel") == expected

    @pytest.mark.parametrize(
        ("items", "impossible"),
        [
            (["bytes|gt: 1000", "bytes|lt: 100"], True),
            (["bytes|gte: 100", "bytes|lte: 100"], False),  # exactly 100
            (["bytes|gt: 100", "bytes|lte: 100"], True),
            (["packets|gt: 10", "packets|lt: 11"], True),  # no whole number between
            (["packets|gt: 10", "packets|lt: 12"], False),
            (["dstport: [22, 2222]", "dstport|gte: 1024"], False),  # 2222
            (["dstport: 22", "dstport|gte: 1024"], True),
            (["bytes|gt: [5000, 10]", "bytes|lt: 100"], False),  # values of one item are ORed: > 10 suffices
            (["bytes|gt: 1000", "packets|lt: 100"], False),  # two fields
        ],
    )
    def test_impossible_ranges_in_one_selection(self, items, impossible):
        """Comparisons ANDed in one selection on one number field that no value meets are W063; anything satisfiable is not."""
        codes = self.codes(self.VPC, "  sel:\n" + "".join(f"    {item}\n" for item in items) + "  condition: sel")
        assert [code for code, _ in codes] == (["W063"] if impossible else [])

    def test_ranges_in_separate_alternatives_are_not_combined(self):
        """A list of mappings ORs its alternatives: `< 100` or `> 1000` is satisfiable."""
        assert self.codes(self.VPC, "  sel:\n    - bytes|lt: 100\n    - bytes|gt: 1000\n  condition: sel") == []
