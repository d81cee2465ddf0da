"""Static checks of the Terraform under deploy/terraform (no terraform binary or AWS access needed).

python-hcl2 changed its output format across versions: v4-v7 return plain strings with `${...}`
interpolation wrappers, v8 also keeps the quotes of string literals and block labels. `_norm`
reduces both forms to the same structure: unquoted strings, unwrapped whole-expression
interpolations, and no `__is_block__`/`__comments__`/line metadata.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

hcl2 = pytest.importorskip("hcl2")

REPO = Path(__file__).resolve().parents[1]
TF_DIR = REPO / "deploy" / "terraform"
MODULE_DIR = TF_DIR / "modules" / "sigil"
EXAMPLE_DIR = TF_DIR / "examples" / "complete"
BUNDLE = REPO / "build" / "sigil-lambda.zip"

TF_FILES = sorted(TF_DIR.rglob("*.tf"))
HANDLER = "runtime.handler.handler"

# Actions that support no resource-level permissions and therefore need "Resource": "*".
ACTIONS_REQUIRING_STAR = {"kinesis:ListStreams"}


# --------------------------------------------------------------------------------------------
# Normalisation helpers (tolerate python-hcl2 v4 to v8)
# --------------------------------------------------------------------------------------------


def _unquote(s: str) -> str:
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return s[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return s


def _unwrap(s: str) -> str:
    """`${expr}` -> `expr` when the whole string is a single interpolation."""
    if not (s.startswith("${") and s.endswith("}")):
        return s
    depth = 0
    for i, ch in enumerate(s):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and i != len(s) - 1:
                return s  # e.g. "${a}:${b}" or "${arn}:*" is a template, not one expression
    return s[2:-1]


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return {_unquote(k): _norm(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, str):
        return _unwrap(_unquote(value))
    return value


def _load(path: Path) -> dict:
    with path.open(encoding="utf-8") as f:
        return _norm(hcl2.load(f))


def _block(value: Any) -> dict:
    """A nested block that appears once: python-hcl2 may or may not wrap it in a list."""
    if isinstance(value, list):
        assert len(value) == 1, value
        value = value[0]
    assert isinstance(value, dict), value
    return value


def _blocks(value: Any) -> list[dict]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _load_dir(directory: Path) -> dict[str, list]:
    """All top-level blocks of the .tf files of one directory (a Terraform module), by kind."""
    merged: dict[str, list] = {}
    for path in sorted(directory.glob("*.tf")):
        for kind, items in _load(path).items():
            merged.setdefault(kind, []).extend(_blocks(items))
    return merged


def _labelled(doc: dict, kind: str) -> dict[str, dict]:
    """`variable "x" {}` / `output "x" {}` / `module "x" {}` -> {"x": body}."""
    out: dict[str, dict] = {}
    for item in doc.get(kind, []):
        for name, body in item.items():
            assert name not in out, f"duplicate {kind} {name!r}"
            out[name] = _block(body)
    return out


def _typed(doc: dict, kind: str) -> dict[tuple[str, str], dict]:
    """`resource "t" "n" {}` / `data "t" "n" {}` -> {("t", "n"): body}."""
    out: dict[tuple[str, str], dict] = {}
    for item in doc.get(kind, []):
        for rtype, by_name in item.items():
            for name, body in _block(by_name).items():
                assert (rtype, name) not in out, f"duplicate {kind} {rtype}.{name}"
                out[(rtype, name)] = _block(body)
    return out


def _policy_statements(document: dict) -> list[dict]:
    """Static and dynamic `statement` blocks of an aws_iam_policy_document."""
    statements = list(_blocks(document.get("statement")))
    for dyn in _blocks(document.get("dynamic")):
        for label, body in dyn.items():
            if label == "statement":
                statements.extend(_blocks(_block(body).get("content")))
    return statements


@pytest.fixture(scope="module")
def module() -> dict[str, list]:
    return _load_dir(MODULE_DIR)


@pytest.fixture(scope="module")
def resources(module) -> dict[tuple[str, str], dict]:
    return _typed(module, "resource")


@pytest.fixture(scope="module")
def variables(module) -> dict[str, dict]:
    return _labelled(module, "variable")


@pytest.fixture(scope="module")
def outputs(module) -> dict[str, dict]:
    return _labelled(module, "output")


@pytest.fixture(scope="module")
def lambda_function(resources) -> dict:
    return resources[("aws_lambda_function", "this")]


@pytest.fixture(scope="module")
def example_module() -> dict:
    modules = _labelled(_load_dir(EXAMPLE_DIR), "module")
    assert set(modules) == {"sigil"}
    return modules["sigil"]


# --------------------------------------------------------------------------------------------
# Parsing and conventions
# --------------------------------------------------------------------------------------------


def test_terraform_files_exist():
    for name in ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "iam.tf"):
        assert (MODULE_DIR / name).is_file(), name
    for name in ("main.tf", "versions.tf", "outputs.tf"):
        assert (EXAMPLE_DIR / name).is_file(), name


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TF_DIR)))
def test_tf_file_parses(path):
    assert isinstance(_load(path), dict)


@pytest.mark.parametrize("directory", [MODULE_DIR, EXAMPLE_DIR], ids=["module", "example"])
def test_variables_have_description_and_type(directory):
    for name, body in _labelled(_load_dir(directory), "variable").items():
        assert isinstance(body.get("description"), str) and body["description"].strip(), name
        assert body.get("type"), f"variable {name!r} has no type"


@pytest.mark.parametrize("directory", [MODULE_DIR, EXAMPLE_DIR], ids=["module", "example"])
def test_outputs_have_description(directory):
    for name, body in _labelled(_load_dir(directory), "output").items():
        assert isinstance(body.get("description"), str) and body["description"].strip(), name


def test_output_names_follow_resource_attr_convention(outputs):
    prefixes = (
        "lambda_function",
        "lambda_role",
        "lambda_event_source_mapping",
        "cloudwatch_log_group",
        "kinesis_stream",
        "sns_topic",
    )
    for name in outputs:
        assert re.fullmatch(rf"({'|'.join(prefixes)})_[a-z0-9_]+", name), name


@pytest.mark.parametrize("directory", [MODULE_DIR, EXAMPLE_DIR], ids=["module", "example"])
def test_versions_pinned(directory):
    terraform = _block(_load(directory / "versions.tf")["terraform"])
    assert terraform["required_version"] == ">= 1.5"
    aws = _block(terraform["required_providers"])["aws"]
    assert aws["source"] == "hashicorp/aws"
    assert aws["version"] == ">= 5.0, < 7.0"


def test_terraform_fmt_if_available():
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform binary not installed")
    env = {**os.environ, "CHECKPOINT_DISABLE": "1"}
    proc = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(TF_DIR)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------------------------
# Lambda function and its contract with the bundle
# --------------------------------------------------------------------------------------------


def test_lambda_handler_matches_runtime_module(lambda_function):
    handler = lambda_function["handler"]
    assert handler == HANDLER
    module_name, function_name = handler.rsplit(".", 1)
    assert module_name == "runtime.handler"
    assert function_name == "handler"
    source = REPO.joinpath(*module_name.split(".")).with_suffix(".py")
    if source.exists():
        assert re.search(rf"^(async\s+)?def {function_name}\(", source.read_text(encoding="utf-8"), re.M)


def test_lambda_function_settings(lambda_function, variables):
    assert lambda_function["runtime"] == "python3.12"
    assert lambda_function["filename"] == "var.package_path"
    assert lambda_function["source_code_hash"] == "filebase64sha256(var.package_path)"
    assert lambda_function["architectures"] == "var.architectures"
    assert variables["architectures"]["default"] == ["arm64"]
    assert lambda_function["memory_size"] == "var.memory_size"
    assert variables["memory_size"]["default"] == 512
    assert lambda_function["timeout"] == "var.timeout"
    assert variables["timeout"]["default"] == 60
    assert lambda_function["reserved_concurrent_executions"] == "var.reserved_concurrent_executions"
    assert variables["reserved_concurrent_executions"].get("default") is None
    env = _block(lambda_function["environment"])["variables"]
    assert env["SIGIL_ALERTS_TOPIC_ARN"] == "aws_sns_topic.this.arn"
    assert "aws_cloudwatch_log_group.this" in _as_list(lambda_function.get("depends_on", []))


def test_example_package_path_points_at_bundle(example_module):
    assert example_module["source"] == "../../modules/sigil"
    package_path = example_module["package_path"]
    assert package_path.endswith("build/sigil-lambda.zip")
    assert package_path.startswith("${path.module}/")
    resolved = Path(os.path.normpath(package_path.replace("${path.module}", str(EXAMPLE_DIR))))
    assert resolved == BUNDLE


def test_makefile_writes_bundle_path():
    makefile = REPO / "Makefile"
    if not makefile.exists():
        pytest.skip("no Makefile yet")
    assert "build/sigil-lambda.zip" in makefile.read_text(encoding="utf-8")


def test_tags_applied_to_every_taggable_resource(resources):
    # aws_iam_role_policy has no tags; event source mappings only since AWS provider 5.77.
    untaggable = {"aws_iam_role_policy", "aws_lambda_event_source_mapping"}
    for (rtype, name), body in resources.items():
        if rtype not in untaggable:
            assert body.get("tags") == "var.tags", f"{rtype}.{name}"


# --------------------------------------------------------------------------------------------
# Stream, topic, logs
# --------------------------------------------------------------------------------------------


def test_log_group_retention(resources, variables):
    log_group = resources[("aws_cloudwatch_log_group", "this")]
    assert log_group["name"] == "/aws/lambda/${var.name}"
    assert log_group["retention_in_days"] == "var.cloudwatch_logs_retention_in_days"
    assert variables["cloudwatch_logs_retention_in_days"]["default"] == 30


def test_event_source_mapping(resources, variables):
    esm = resources[("aws_lambda_event_source_mapping", "this")]
    assert esm["event_source_arn"] == "aws_kinesis_stream.this.arn"
    assert esm["function_name"] in {"aws_lambda_function.this.arn", "aws_lambda_function.this.function_name"}
    assert _as_list(esm["function_response_types"]) == ["ReportBatchItemFailures"]
    assert esm["bisect_batch_on_function_error"] is True
    assert esm["batch_size"] == "var.event_source_batch_size"
    assert variables["event_source_batch_size"]["default"] == 100
    assert esm["starting_position"] == "var.event_source_starting_position"
    assert variables["event_source_starting_position"]["default"] in {"LATEST", "TRIM_HORIZON"}
    assert esm["maximum_retry_attempts"] == "var.event_source_maximum_retry_attempts"


def test_kinesis_stream_encrypted_by_default(resources, variables):
    stream = resources[("aws_kinesis_stream", "this")]
    assert stream["kms_key_id"] == "var.kinesis_kms_key_id"
    assert variables["kinesis_kms_key_id"]["default"] == "alias/aws/kinesis"
    assert "KMS" in stream["encryption_type"]
    assert stream["retention_period"] == "var.kinesis_retention_period"
    assert "var.kinesis_stream_mode" in _block(stream["stream_mode_details"])["stream_mode"]


def test_sns_topic_encrypted_by_default(resources, variables):
    topic = resources[("aws_sns_topic", "this")]
    assert topic["kms_master_key_id"] == "var.sns_kms_master_key_id"
    assert variables["sns_kms_master_key_id"]["default"] == "alias/aws/sns"


# --------------------------------------------------------------------------------------------
# IAM least privilege
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy_documents(module) -> dict[str, dict]:
    return {
        name: body
        for (dtype, name), body in _typed(module, "data").items()
        if dtype == "aws_iam_policy_document"
    }


def test_role_assumed_by_lambda_only(resources, policy_documents):
    role = resources[("aws_iam_role", "lambda")]
    assert role["assume_role_policy"] == "data.aws_iam_policy_document.assume_role.json"
    (statement,) = _policy_statements(policy_documents["assume_role"])
    assert _as_list(statement["actions"]) == ["sts:AssumeRole"]
    principals = _block(statement["principals"])
    assert principals["type"] == "Service"
    assert _as_list(principals["identifiers"]) == ["lambda.amazonaws.com"]
    policy = resources[("aws_iam_role_policy", "lambda")]
    assert policy["role"] == "aws_iam_role.lambda.id"
    assert policy["policy"] == "data.aws_iam_policy_document.lambda.json"


def test_policies_have_no_wildcard_actions(policy_documents):
    for doc_name, document in policy_documents.items():
        for statement in _policy_statements(document):
            assert "not_actions" not in statement, doc_name
            for action in _as_list(statement["actions"]):
                assert "*" not in action, f"{doc_name}: wildcard action {action!r}"
                assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9]+", action), action


def test_star_resources_only_for_actions_that_require_it(policy_documents):
    for doc_name, document in policy_documents.items():
        for statement in _policy_statements(document):
            assert statement.get("effect", "Allow") == "Allow"
            assert "not_resources" not in statement, doc_name
            resources = _as_list(statement.get("resources", []))
            if doc_name != "assume_role":
                assert resources, f"{doc_name}: statement without resources"
            if "*" in resources:
                actions = set(_as_list(statement["actions"]))
                assert actions <= ACTIONS_REQUIRING_STAR, f"{doc_name}: {sorted(actions)} on '*'"


def _statements_with(policy_documents, action):
    found = []
    for document in policy_documents.values():
        for statement in _policy_statements(document):
            if action in _as_list(statement["actions"]):
                found.append(statement)
    return found


def test_lambda_policy_scopes(policy_documents):
    (publish,) = _statements_with(policy_documents, "sns:Publish")
    assert _as_list(publish["resources"]) == ["aws_sns_topic.this.arn"]

    (logs,) = _statements_with(policy_documents, "logs:PutLogEvents")
    assert set(_as_list(logs["actions"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert _as_list(logs["resources"]) == ["${aws_cloudwatch_log_group.this.arn}:*"]

    (read,) = _statements_with(policy_documents, "kinesis:GetRecords")
    assert set(_as_list(read["actions"])) == {
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:ListShards",
    }
    assert _as_list(read["resources"]) == ["aws_kinesis_stream.this.arn"]

    # KMS permissions exist only as dynamic statements scoped to a customer managed key.
    for action in ("kms:Decrypt", "kms:GenerateDataKey"):
        for statement in _statements_with(policy_documents, action):
            assert _as_list(statement["resources"]) == ["statement.value"]
    static_actions = {
        action
        for document in policy_documents.values()
        for statement in _blocks(document.get("statement"))
        for action in _as_list(statement["actions"])
    }
    assert not {a for a in static_actions if a.startswith("kms:")}


# --------------------------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------------------------


def _tf_docs_section() -> str:
    text = (MODULE_DIR / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- BEGIN_TF_DOCS -->(.*?)<!-- END_TF_DOCS -->", text, re.S)
    assert match, "README.md has no BEGIN_TF_DOCS/END_TF_DOCS section"
    return match.group(1)


def _table_names(section: str, heading: str, anchor: str) -> set[str]:
    match = re.search(rf"^## {heading}\s*$(.*?)(?=^## |\Z)", section, re.S | re.M)
    assert match, f"no '## {heading}' table"
    rows = [line for line in match.group(1).splitlines() if line.startswith("|")]
    names = {m.group(1) for line in rows if (m := re.search(rf'<a name="{anchor}_(\w+)"></a>', line))}
    assert len(names) == len(rows) - 2, f"{heading}: unexpected rows"  # header + separator
    return names


def test_readme_lists_every_input(variables):
    assert _table_names(_tf_docs_section(), "Inputs", "input") == set(variables)


def test_readme_lists_every_output(outputs):
    assert _table_names(_tf_docs_section(), "Outputs", "output") == set(outputs)


def test_readme_required_inputs(variables):
    section = _tf_docs_section()
    for name, body in variables.items():
        row = next(line for line in section.splitlines() if f'<a name="input_{name}"></a>' in line)
        required = "default" not in body
        assert row.rstrip().rstrip("|").strip().endswith("yes" if required else "no"), name
