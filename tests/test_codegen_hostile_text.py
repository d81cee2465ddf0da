"""Rule and schema text never becomes code: hostile strings in every field compile to literals only.

Rules and schemas are written with strings drawn from all of Unicode (controls, NUL, lone surrogates,
quotes, backslashes, `\"\"\"`, U+2028/2029, NEL) and with payloads that try to end a comment, a string or
a docstring and run `import builtins; builtins.SIGIL_PWNED = 1`. Each generated module must parse to
exactly the statements the template writes, every name and call in it must be one the generator
writes, importing it must run nothing else, and the text must come back unchanged from the literals.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import runtime.helpers
from compiler.build import compile_rules
from dsl.interpreter import evaluate
from dsl.loader import load_paths
from runtime.alerts import render_title

PAYLOAD = "import builtins; builtins.SIGIL_PWNED = 1"
# Everything that ends a comment, a string or a docstring somewhere, or that a tool may take as a line break.
BREAKERS = ["\n", "\r", "\r\n", "\x0c", "\x0b", "\x85", "\u2028", "\u2029", "\x00", '"""', "'''", '"', "'", "\\", "#", "\\\n"]

# Every character, surrogates and controls included.
any_char = st.characters(exclude_categories=())
any_text = st.text(any_char, max_size=12)
hostile = st.one_of(
    any_text,
    st.builds(lambda a, b, c: a + b + PAYLOAD + c + "#", any_text, st.sampled_from(BREAKERS), st.sampled_from(BREAKERS)),
)
# Names that must stay names (fields, log types): still hostile, but without the characters YAML keys or the
# schema checks refuse outright would turn almost every example into a plain diagnostic.
name_text = st.one_of(
    st.text(any_char, min_size=1, max_size=8),
    st.builds(lambda b: "f" + b + PAYLOAD + b, st.sampled_from(BREAKERS)),
)

TOP_LEVEL_NAMES = {"LOG_TYPE", "RULES", "RULE_TABLE", "WHENS", "ALWAYS", "ANCHORS", "TABLES"}
CONSTANT_NAME = re.compile(r"(SET|RX|TUPLE)_[0-9a-f]{8,}")
FUNCTION_NAME = re.compile(r"_r[0-9a-f]{8,}|_when_[0-9a-f]{8,}|match")
# Names an expression of the generator may read: its helpers, its own constants and loop variables.
EXPRESSION_NAMES = {*runtime.helpers.__all__, "F", "t", "n", "w", "p", "v", "record", "errors", "any", "bool", "float"}
EXPRESSION_NAMES |= {"frozenset", *TOP_LEVEL_NAMES}
METHODS = {"search", "fullmatch", "isdisjoint", "startswith", "endswith", "record"}


def check_module_ast(source: str, hook_modules: set[str]) -> None:
    """Every statement is one the template writes; every name and call is one the generator writes."""
    tree = ast.parse(source)
    body = tree.body
    assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant), "module docstring"
    for node in body[1:]:
        match node:
            case ast.ImportFrom(module="runtime.helpers", level=0, names=names):
                assert {a.name for a in names} <= set(runtime.helpers.__all__)
                assert all(a.asname is None for a in names)
            case ast.ImportFrom(module="_hooks", level=1, names=names):
                assert {a.name for a in names} <= hook_modules
            case ast.Assign(targets=[ast.Name(id=name)]):
                assert name in TOP_LEVEL_NAMES or CONSTANT_NAME.fullmatch(name), name
            case ast.FunctionDef(name=name, body=fbody, decorator_list=[]):
                assert FUNCTION_NAME.fullmatch(name), name
                statements = fbody[1:] if name == "match" else fbody  # match has a docstring
                assert len(statements) == 1 and isinstance(statements[0], ast.Return), ast.dump(node)
            case _:
                raise AssertionError(f"a statement the template does not write: {ast.dump(node)[:200]}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id in EXPRESSION_NAMES or CONSTANT_NAME.fullmatch(node.id) or FUNCTION_NAME.fullmatch(node.id) or node.id in hook_modules, node.id
        if isinstance(node, ast.Attribute):
            hook_call = isinstance(node.value, ast.Name) and node.value.id in hook_modules
            assert node.attr in METHODS or hook_call, node.attr
        assert not isinstance(node, ast.Lambda | ast.ClassDef | ast.Global | ast.Nonlocal | ast.Delete | ast.Import)


def check_init_ast(source: str) -> None:
    tree = ast.parse(source)
    assert isinstance(tree.body[0], ast.Expr)
    for node in tree.body[1:]:
        assert isinstance(node, ast.Assign) and [t.id for t in node.targets] in (["LOG_TYPES"], ["CONTRACT"])
        assert all(isinstance(n, ast.Dict | ast.Constant | ast.Name | ast.Load) for n in ast.walk(node.value))


def write_case(root: Path, schema: dict, rules: dict[str, dict]) -> tuple[Path, Path]:
    (root / "schemas").mkdir()
    (root / "rules").mkdir()
    (root / "schemas" / "hostile.yml").write_text(yaml.safe_dump(schema), encoding="utf-8")
    for name, rule in rules.items():
        (root / "rules" / name).write_text(yaml.safe_dump(rule), encoding="utf-8")
    return root / "schemas", root / "rules"


def forget_package() -> None:
    for name in [n for n in sys.modules if n == "sigil_rules" or n.startswith("sigil_rules.")]:
        del sys.modules[name]


def compile_and_check(tmp: Path, schema: dict, rules: dict[str, dict]) -> dict:
    """Compile; if it compiled, check the generated package and import it. The titles read back, as alerts show them."""
    schemas_dir, rules_dir = write_case(tmp, schema, rules)
    result = compile_rules([str(rules_dir)], str(schemas_dir), tmp / "build")  # a diagnostic is fine, a traceback is not
    package = tmp / "build" / "sigil_rules"
    if result.errors or not package.is_dir():
        return {}
    hooks = {p.stem for p in (package / "_hooks").glob("*.py")} if (package / "_hooks").is_dir() else set()
    for module in package.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        if module.name == "__init__.py":
            check_init_ast(source)
        else:
            check_module_ast(source, hooks)
    forget_package()
    sys.path.insert(0, str(tmp / "build"))
    try:
        init = importlib.import_module("sigil_rules")
        titles = {}
        for module_name in init.LOG_TYPES.values():
            module = importlib.import_module(f"sigil_rules.{module_name}")
            titles.update({key: render_title(meta["title"], {}) for key, meta in module.RULES.items()})  # as alerts show it
            module.match({})  # runs the checks: still nothing but matching
        return titles
    finally:
        sys.path.remove(str(tmp / "build"))
        forget_package()
        assert not hasattr(builtins, "SIGIL_PWNED"), "generated code ran rule text"


def hostile_schema(name: str, description: str, field: str, product: str) -> dict:
    return {
        "name": name,
        "description": description,
        "parser": {"type": "json"},
        "classify": {"required": [field]},
        "logsources": [{"product": product}],
        "fields": {field: "string", "count": "integer"},
    }


def hostile_rule(title: str, text: str, field: str, product: str, value: str) -> dict:
    return {
        "title": title,
        "id": "5f1f8e52-3f3a-4c1a-9a59-000000000001",
        "status": "test",
        "description": text,
        "author": text,
        "references": [text],
        "falsepositives": [text],
        "tags": ["attack.t1000"],
        "logsource": {"product": product},
        "detection": {
            "selection": {field: value, f"{field}|contains": [value, text], f"{field}|re": re.escape(value) or "x"},
            "numbers": {"count|lt": float("inf"), "count|gte": float("-inf")},
            "keywords": [text or "k"],
            "condition": "selection and numbers or keywords",
        },
        "level": "high",
        "context": {"note": text},
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    log_type=name_text,
    description=hostile,
    field=name_text,
    product=name_text,
    title=hostile,
    text=hostile,
    value=hostile,
    file_stem=st.one_of(st.sampled_from([b for b in BREAKERS if b != "\x00"]).map(lambda b: "r" + b + PAYLOAD), st.just("rule")),
)
@example(log_type='x"""' + PAYLOAD + '"""', description="d", field="f", product="p", title="t", text="t", value="v", file_stem="rule")
@example(log_type="x", description="d", field="f", product="p", title="Root\n" + PAYLOAD + "\n#", text="t", value="v", file_stem="rule")
@example(log_type="x", description="d", field="f", product="p", title="Root\r" + PAYLOAD, text="t", value="v", file_stem="rule")
@example(log_type="x", description="d", field="f", product="p", title="nul\x00title", text="t", value="v", file_stem="rule")
@example(log_type="x", description="d", field="f", product="p", title="t", text="t", value="v", file_stem="r\n" + PAYLOAD)
def test_hostile_text_compiles_to_literals_only(tmp_path_factory, log_type, description, field, product, title, text, value, file_stem) -> None:
    tmp = tmp_path_factory.mktemp("hostile")
    schema = hostile_schema(log_type, description, field, product)
    rule = hostile_rule(title, text, field, product, value)
    titles = compile_and_check(tmp, schema, {file_stem.replace("/", "_") + ".yml": rule})
    if titles:
        assert list(titles.values()) == [title]


@pytest.mark.parametrize(
    ("title", "log_type"),
    [
        ("Root\n" + PAYLOAD + "\n#", "cloudtrail_like"),
        ("Root\r" + PAYLOAD + "\r#", "cloudtrail_like"),
        ("nul\x00 and \u2028 \u2029 \x85 breaks", "cloudtrail_like"),
        ("title", 'x"""\n' + PAYLOAD + '\n"""'),
        ("lone \ud800 surrogate", "x\\"),
    ],
)
def test_known_injections_compile_and_stay_text(tmp_path: Path, title: str, log_type: str) -> None:
    """The reported cases, each of which ran code or crashed codegen before: they must compile."""
    schema = hostile_schema(log_type, "d", "f", "p")
    titles = compile_and_check(tmp_path, schema, {"rule.yml": hostile_rule(title, "t", "f", "p", "v")})
    assert titles == {"5f1f8e52-3f3a-4c1a-9a59-000000000001": title}


def test_non_finite_numbers_compile_to_floats(tmp_path: Path) -> None:
    """`|lt: .inf` wrote the bare name `inf` (a NameError at match time)."""
    schema = hostile_schema("nums", "d", "f", "p")
    rule = hostile_rule("t", "t", "f", "p", "v")
    rule["detection"] = {"selection": {"count|lt": float("inf")}, "condition": "selection"}
    compile_and_check(tmp_path, schema, {"rule.yml": rule})
    [loaded] = load_paths([tmp_path / "rules"]).rules
    sys.path.insert(0, str(tmp_path / "build"))
    try:
        module = importlib.import_module("sigil_rules.nums")
        for event, fires in [({"f": "x", "count": 5}, True), ({"f": "x", "count": "nope"}, False), ({"f": "x"}, False)]:
            assert module.match(event) == (["5f1f8e52-3f3a-4c1a-9a59-000000000001"] if fires else [])
            assert evaluate(loaded, event) is fires  # the interpreter agrees
    finally:
        sys.path.remove(str(tmp_path / "build"))
        forget_package()


def test_log_types_that_would_share_a_module_are_refused(tmp_path: Path) -> None:
    """`a-b` and `a_b` both become module a_b: the second would overwrite the first's rules."""
    from compiler.schemas import load_schemas

    (tmp_path / "one.yml").write_text(yaml.safe_dump(hostile_schema("a-b", "d", "f", "p")), encoding="utf-8")
    (tmp_path / "two.yml").write_text(yaml.safe_dump(hostile_schema("A_b", "d", "f", "q")), encoding="utf-8")
    loaded = load_schemas(tmp_path)
    [diag] = [d for d in loaded.diagnostics if d.code == "S010"]
    assert "would share the generated module 'a_b'" in diag.message
    assert diag.loc.path.endswith("two.yml") and diag.loc.line == 1
    assert list(loaded.schemas) == ["a-b"]


def test_streamalert_import_header_keeps_names_in_the_comment(tmp_path: Path) -> None:
    """A log name from StreamAlert's JSON is written into a YAML comment: a line break must not end it."""
    from cli.streamalert.importer import import_conf, render_file

    conf = tmp_path / "conf"
    (conf / "schemas").mkdir(parents=True)
    name = "evil\nparser: {type: csv}\n#"
    (conf / "schemas" / "x.json").write_text(json.dumps({name: {"parser": "json", "schema": {"a": "string"}}}), encoding="utf-8")
    result = import_conf(conf)
    [logs] = result.files.values()
    text = render_file(logs)
    [document] = yaml.safe_load_all(text)
    assert document["parser"]["type"] == "json"
    assert text.splitlines()[0].startswith("# Imported from StreamAlert") and "\\x0aparser" in text.splitlines()[0]


def test_nan_is_not_a_number_to_compare_with(tmp_path: Path) -> None:
    """`|lt: .nan` could never hold: a located error, not a rule that silently matches nothing."""
    schema = hostile_schema("nums", "d", "f", "p")
    rule = hostile_rule("t", "t", "f", "p", "v")
    rule["detection"] = {"selection": {"count|lt": float("nan")}, "condition": "selection"}
    schemas_dir, rules_dir = write_case(tmp_path, schema, {"rule.yml": rule})
    result = compile_rules([str(rules_dir)], str(schemas_dir), tmp_path / "build")
    [diag] = result.errors
    assert diag.code == "E116" and ".nan" in diag.message and diag.loc.line > 1


def test_cli_writes_unencodable_rule_text_as_escapes(tmp_path: Path) -> None:
    """A lone surrogate in a field name reaches the diagnostic: printed escaped, not a traceback."""
    import subprocess

    rule = tmp_path / "a.yml"
    rule.write_text('title: "x\\ud800"\nlogsource: {product: aws, service: cloudtrail}\ndetection:\n  sel:\n    "eventNam\\ud800e": a\n  condition: sel\n', encoding="utf-8")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())", "lint", str(rule), "--schemas", str(root / "schemas")],
        capture_output=True, text=True, cwd=root, env={"PYTHONIOENCODING": "utf-8", "PATH": "/usr/bin:/bin"},
    )
    assert "Traceback" not in done.stderr
    assert done.returncode == 1
    assert "field 'eventNam\\ud800e' is not in log type 'cloudtrail'" in done.stdout
