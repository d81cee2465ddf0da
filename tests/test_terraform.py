"""Static checks of the Terraform under deploy/terraform (no terraform binary or AWS access needed).

python-hcl2 changed its output format across versions: v4-v7 return plain strings with `${...}`
interpolation wrappers, v8 also keeps the quotes of string literals and block labels. `_norm`
reduces both forms to the same structure: unquoted strings, unwrapped whole-expression
interpolations, and no `__is_block__`/`__comments__`/line metadata.
"""

from __future__ import annotations

import ast
import json
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
RUNTIME_DIR = REPO / "runtime"
# Local mirror of the AWS provider for `terraform init` without network (skipped when absent).
PLUGIN_MIRROR = Path(os.environ.get("SIGIL_TF_PLUGIN_MIRROR", "/opt/tf-plugins"))

# Actions that support no resource-level permissions and therefore need "Resource": "*".
ACTIONS_REQUIRING_STAR = {"kinesis:ListStreams", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


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
        "lambda_permission",
        "cloudwatch_log_group",
        "kinesis_stream",
        "sns_topic",
        "sqs_queue",
        "s3_bucket",
        "dynamodb_table",
        "cloudwatch_metric_alarm",
        "lambda_alias",
        "kms_key",
        "cloudwatch_log_subscription_filter",
        "cloudwatch_event_rule",
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
    assert _block(lambda_function["environment"])["variables"] == "local.lambda_environment"
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
    # aws_iam_role_policy, aws_lambda_permission and the S3 bucket configuration resources have no
    # tags; event source mappings only since AWS provider 5.77.
    untaggable = {
        "aws_cloudwatch_event_target",
        "aws_cloudwatch_log_subscription_filter",
        "aws_iam_role_policy",
        "aws_iam_role_policy_attachment",
        "aws_lambda_alias",
        "aws_lambda_event_source_mapping",
        "aws_lambda_permission",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_s3_bucket_logging",
        "aws_s3_bucket_notification",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_versioning",
        "aws_sns_topic_subscription",
    }
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
    # A year at least (checkov CKV_AWS_338): investigations reach back months.
    assert variables["cloudwatch_logs_retention_in_days"]["default"] >= 365
    assert log_group["kms_key_id"] == "local.kms_key_arn"


def test_event_source_mapping(resources, variables):
    esm = resources[("aws_lambda_event_source_mapping", "this")]
    assert esm["event_source_arn"] == "aws_kinesis_stream.this.arn"
    assert esm["function_name"] == "aws_lambda_alias.live.arn"
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
    # sns:Publish and logs:PutLogEvents also appear in the alert output statements (below).
    publish, for_each = _statement(policy_documents, "PublishAlerts")
    assert for_each is None
    assert _as_list(publish["actions"]) == ["sns:Publish"]
    assert _as_list(publish["resources"]) == ["aws_sns_topic.this.arn"]

    logs, for_each = _statement(policy_documents, "WriteOwnLogs")
    assert for_each is None
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
# Runtime configuration: environment names shared with runtime/
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tf_locals(module) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in module.get("locals", []):
        for name, value in block.items():
            assert name not in merged, f"duplicate local {name!r}"
            merged[name] = value
    return merged


def _environment(tf_locals) -> dict[str, tuple[str | None, str]]:
    """`local.lambda_environment` (a merge of one-entry objects) -> {name: (guard or None, value)}."""
    expr = tf_locals["lambda_environment"]
    assert expr.startswith("merge("), expr
    entries = re.findall(
        r"""(?:,|\()\s*(?:([^,?(]+?)\s*\?\s*)?\{\s*"?(SIGIL_[A-Z0-9_]+)"?\s*[=:]\s*([^{},]+?)\s*\}""", expr
    )
    assert entries, expr
    return {name: (guard.strip() or None, _unwrap(value)) for guard, name, value in entries}


def _runtime_env_constants() -> dict[str, str]:
    """`<ROLE>_ENV = "SIGIL_..."` constants of runtime/ (a role defined twice must agree)."""
    found: dict[str, set[str]] = {}
    for path in RUNTIME_DIR.rglob("*.py"):
        for role, name in re.findall(
            r"""^(\w+_ENV)\s*=\s*["'](SIGIL_[A-Z0-9_]+)["']""", path.read_text(encoding="utf-8"), re.M
        ):
            found.setdefault(role, set()).add(name)
    for role, names in found.items():
        assert len(names) == 1, f"runtime defines {role} as {sorted(names)}"
    return {role: names.pop() for role, names in found.items()}


def _runtime_namespace_env() -> str:
    """The variable runtime/metrics.py reads its namespace from (`os.environ.get("SIGIL_...", DEFAULT_NAMESPACE)`)."""
    names = re.findall(
        r"""os\.environ\.get\(\s*["'](SIGIL_[A-Z0-9_]+)["']\s*,\s*DEFAULT_NAMESPACE\s*\)""",
        (RUNTIME_DIR / "metrics.py").read_text(encoding="utf-8"),
    )
    assert len(set(names)) == 1, names
    return names[0]


def test_environment_names_match_runtime(tf_locals):
    """Each variable the module sets is the name runtime/ reads, with the value that role needs."""
    if not RUNTIME_DIR.is_dir():
        pytest.skip("no runtime/ to compare with")
    constants = _runtime_env_constants()
    expected = {
        constants["TOPIC_ENV"]: "aws_sns_topic.this.arn",
        constants["DLQ_ENV"]: "local.dlq_url",
        constants["QUARANTINE_ENV"]: "local.quarantine_url",
        constants["PREFIX_ENV"]: "var.secrets_prefix",
        constants["TABLE_ENV"]: "local.delivery_ledger_table_name",
        constants["OVERRIDE_ENV"]: "jsonencode(var.outputs)",
        constants["STATE_TABLE_ENV"]: "aws_dynamodb_table.state[0].name",
        _runtime_namespace_env(): "var.metrics_namespace",
    }
    environment = _environment(tf_locals)
    assert {name: value for name, (_, value) in environment.items()} == expected
    runtime_text = "".join(p.read_text(encoding="utf-8") for p in RUNTIME_DIR.rglob("*.py"))
    for name in environment:
        assert re.search(rf"""["']{name}["']""", runtime_text), f"{name} is not read by runtime/"


def test_optional_environment_set_only_when_configured(tf_locals):
    """The topic and metrics namespace are always set; the dead-letter queue, quarantine, secrets prefix, ledger and output overrides only when configured."""
    guards = {name: guard for name, (guard, _) in _environment(tf_locals).items()}
    assert guards == {
        "SIGIL_ALERTS_TOPIC_ARN": None,
        "SIGIL_METRICS_NAMESPACE": None,
        "SIGIL_DLQ_URL": "local.dlq_enabled",
        "SIGIL_QUARANTINE_URL": "local.quarantine_enabled",
        "SIGIL_SECRETS_PREFIX": "var.secrets_prefix != null",
        "SIGIL_LEDGER_TABLE": "local.delivery_ledger_enabled",
        "SIGIL_OUTPUTS_OVERRIDE": "local.outputs_declared",
        "SIGIL_STATE_TABLE": "var.create_state_table",
    }


# --------------------------------------------------------------------------------------------
# Dead-letter queue, quarantine bucket
# --------------------------------------------------------------------------------------------


def _statement(policy_documents, sid) -> tuple[dict, str | None]:
    """The statement with this sid and the `for_each` of its dynamic block (None when static)."""
    found = []
    for document in policy_documents.values():
        found += [(st, None) for st in _blocks(document.get("statement")) if st.get("sid") == sid]
        for dyn in _blocks(document.get("dynamic")):
            for label, body in dyn.items():
                body = _block(body)
                if label == "statement":
                    found += [
                        (c, body["for_each"]) for c in _blocks(body.get("content")) if c.get("sid") == sid
                    ]
    assert len(found) == 1, f"{len(found)} statements with sid {sid!r}"
    return found[0]


def test_dead_letter_queue_created_encrypted_by_default(resources, variables, tf_locals):
    """The dead-letter queue is created by default with SSE-SQS, or an existing queue's URL is derived from its ARN."""
    queue = resources[("aws_sqs_queue", "dlq")]
    assert queue["count"] == "var.create_dlq ? 1 : 0"
    assert variables["create_dlq"]["default"] is True
    assert queue["sqs_managed_sse_enabled"] is True
    assert tf_locals["dlq_arn"] == "var.create_dlq ? aws_sqs_queue.dlq[0].arn : var.dlq_arn"
    assert "aws_sqs_queue.dlq[0].url" in tf_locals["dlq_url"]
    assert tf_locals["dlq_enabled"] == "var.create_dlq || var.dlq_arn != null"


def test_dead_letter_permission_scoped_to_queue(policy_documents):
    """The role may only send messages, and only to the dead-letter queue, when there is one."""
    statement, for_each = _statement(policy_documents, "SendDeadLetters")
    assert _as_list(statement["actions"]) == ["sqs:SendMessage"]
    assert _as_list(statement["resources"]) == ["statement.value"]
    assert for_each == "local.dlq_enabled ? [local.dlq_arn] : []"


def test_quarantine_bucket_hardened(resources, variables):
    """The created quarantine bucket is encrypted, versioned, owner-enforced and blocks all public access."""
    assert variables["create_quarantine_bucket"]["default"] is True
    for rtype in (
        "aws_s3_bucket",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_ownership_controls",
        "aws_s3_bucket_server_side_encryption_configuration",
        "aws_s3_bucket_versioning",
    ):
        assert resources[(rtype, "quarantine")]["count"] == "var.create_quarantine_bucket ? 1 : 0", rtype
    block = resources[("aws_s3_bucket_public_access_block", "quarantine")]
    for setting in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert block[setting] is True, setting
    versioning = resources[("aws_s3_bucket_versioning", "quarantine")]
    assert _block(versioning["versioning_configuration"])["status"] == "Enabled"
    ownership = resources[("aws_s3_bucket_ownership_controls", "quarantine")]
    assert _block(ownership["rule"])["object_ownership"] == "BucketOwnerEnforced"
    rule = _block(resources[("aws_s3_bucket_server_side_encryption_configuration", "quarantine")]["rule"])
    default = _block(rule["apply_server_side_encryption_by_default"])
    assert default["sse_algorithm"] == 'var.quarantine_kms_key_arn == null ? "AES256" : "aws:kms"'
    assert default["kms_master_key_id"] == "var.quarantine_kms_key_arn"


def test_quarantine_permission_scoped_to_prefix(policy_documents, tf_locals, variables):
    """The role may only put objects, and only under the quarantine prefix of the quarantine bucket."""
    statement, for_each = _statement(policy_documents, "WriteQuarantine")
    assert _as_list(statement["actions"]) == ["s3:PutObject"]
    assert _as_list(statement["resources"]) == ["statement.value"]
    assert for_each == "local.quarantine_enabled ? [local.quarantine_objects_arn] : []"
    objects = tf_locals["quarantine_objects_arn"]
    assert objects.endswith('"${local.quarantine_bucket_arn}/${var.quarantine_prefix}/*"'), objects
    assert tf_locals["quarantine_url"].endswith(
        '"s3://${local.quarantine_bucket_name}/${var.quarantine_prefix}"'
    )
    assert variables["quarantine_prefix"]["default"] == "quarantine"
    assert "^[" in str(variables["quarantine_prefix"]["validation"]), "a prefix must be validated non-empty"


# --------------------------------------------------------------------------------------------
# Additional sources
# --------------------------------------------------------------------------------------------


def test_s3_sources_read_scoped_to_prefixes(policy_documents, tf_locals, variables):
    """The role may read objects of the source buckets only, under their prefixes when given."""
    assert variables["s3_sources"]["default"] == []
    statement, for_each = _statement(policy_documents, "ReadSourceObjects")
    assert set(_as_list(statement["actions"])) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert _as_list(statement["resources"]) == ["statement.value"]
    assert for_each == "length(var.s3_sources) > 0 ? [local.s3_source_object_arns] : []"
    objects = tf_locals["s3_source_object_arns"]
    assert '"${source.bucket_arn}/${prefix}*"' in objects and '"${source.bucket_arn}/*"' in objects


def test_s3_sources_may_invoke_function(resources, tf_locals):
    """Each source bucket gets an invoke permission for s3.amazonaws.com scoped to that bucket and its owner."""
    permission = resources[("aws_lambda_permission", "s3")]
    assert permission["for_each"] == "local.s3_sources"
    assert tf_locals["s3_sources"] == "{for source in var.s3_sources : source.bucket_arn => source}"
    assert permission["principal"] == "s3.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["function_name"] == "aws_lambda_function.this.function_name"
    assert permission["qualifier"] == "aws_lambda_alias.live.name"
    assert permission["source_arn"] == "each.key"
    assert permission["source_account"] == "coalesce(each.value.account_id, local.account_id)"


def test_sqs_sources_mapped_with_batch_item_failures(resources, variables):
    """Each source queue gets an event source mapping that reports failed messages individually."""
    assert variables["sqs_source_queue_arns"]["default"] == []
    esm = resources[("aws_lambda_event_source_mapping", "sqs")]
    assert esm["for_each"] == "local.sqs_source_queue_arns"
    assert esm["event_source_arn"] == "each.value"
    assert esm["function_name"] == "aws_lambda_alias.live.arn"
    assert _as_list(esm["function_response_types"]) == ["ReportBatchItemFailures"]
    assert esm["batch_size"] == "var.sqs_event_source_batch_size"
    assert "aws_iam_role_policy.lambda" in _as_list(esm["depends_on"])


def test_sqs_sources_permissions_scoped_to_queues(policy_documents):
    """The role may receive, delete and inspect messages of the source queues only."""
    statement, for_each = _statement(policy_documents, "ReadSourceQueues")
    assert set(_as_list(statement["actions"])) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    assert _as_list(statement["resources"]) == ["statement.value"]
    assert for_each == "length(var.sqs_source_queue_arns) > 0 ? [var.sqs_source_queue_arns] : []"


# --------------------------------------------------------------------------------------------
# Secrets and KMS
# --------------------------------------------------------------------------------------------


def test_secrets_permissions_scoped_to_prefix(policy_documents, tf_locals, variables, module):
    """The role may read Secrets Manager secrets and SSM parameters under the secrets prefix of its own account and region only."""
    assert variables["secrets_prefix"]["default"] == "/sigil/outputs"
    arn = "arn:${local.partition}:%s:${local.region}:${local.account_id}:%s"
    secrets, for_each = _statement(policy_documents, "ReadSecretsManagerSecrets")
    assert _as_list(secrets["actions"]) == ["secretsmanager:GetSecretValue"]
    assert _as_list(secrets["resources"]) == [arn % ("secretsmanager", "secret:${statement.value}/*")]
    assert for_each == "var.secrets_prefix != null ? [var.secrets_prefix] : []"
    parameters, for_each = _statement(policy_documents, "ReadSsmParameters")
    assert _as_list(parameters["actions"]) == ["ssm:GetParameter"]
    assert _as_list(parameters["resources"]) == [arn % ("ssm", "parameter${statement.value}/*")]
    assert for_each == "var.secrets_prefix != null ? [var.secrets_prefix] : []"
    assert tf_locals["region"] == "data.aws_region.current.name"
    assert tf_locals["account_id"] == "data.aws_caller_identity.current.account_id"
    assert tf_locals["partition"] == "data.aws_partition.current.partition"
    data_sources = set(_typed(module, "data"))
    assert {
        ("aws_region", "current"),
        ("aws_caller_identity", "current"),
        ("aws_partition", "current"),
    } <= data_sources


def test_kms_permissions_only_for_given_keys(policy_documents):
    """Each KMS statement exists only when its customer managed key is given, and names only that key."""
    expected = {
        "DecryptInputStream": ("local.kinesis_kms_key_arn", {"kms:Decrypt"}),
        "EncryptAlerts": ("local.sns_kms_key_arn", {"kms:Decrypt", "kms:GenerateDataKey"}),
        "EncryptQuarantine": ("var.quarantine_kms_key_arn", {"kms:GenerateDataKey"}),
        "DecryptSources": ("var.source_kms_key_arns", {"kms:Decrypt"}),
        "DecryptSecrets": ("var.secrets_kms_key_arn", {"kms:Decrypt"}),
        "EncryptOutputs": ("var.alert_outputs.kms_key_arns", {"kms:GenerateDataKey"}),
        "EncryptOutputTopicsAndQueues": ("var.alert_outputs.kms_key_arns", {"kms:Decrypt"}),
        "DecryptDeliveryLedger": ("var.delivery_ledger_kms_key_arn", {"kms:Decrypt"}),
        "DecryptEnvironment": ("local.kms_key_arn", {"kms:Decrypt"}),
        "UseStateKey": ("local.state_kms_key_arn", {"kms:Decrypt", "kms:GenerateDataKey"}),
    }
    for sid, (key, actions) in expected.items():
        statement, for_each = _statement(policy_documents, sid)
        assert set(_as_list(statement["actions"])) == actions, sid
        assert _as_list(statement["resources"]) == ["statement.value"], sid
        assert for_each is not None and key in for_each and for_each.endswith(": []"), (sid, for_each)
    kms_sids = {
        st.get("sid")
        for document in policy_documents.values()
        for st in _policy_statements(document)
        if any(a.startswith("kms:") for a in _as_list(st["actions"]))
    }
    assert kms_sids == set(expected)


def test_optional_permissions_are_all_conditional(policy_documents):
    """Every statement of the optional and output documents is a dynamic block that is empty unless its feature is configured."""
    for name in ("optional", "outputs"):
        document = policy_documents[name]
        assert not _blocks(document.get("statement")), name
        for dyn in _blocks(document.get("dynamic")):
            for label, body in dyn.items():
                assert label == "statement"
                assert re.fullmatch(r".+ \? \[.+\] : \[\]", _block(body)["for_each"]), body
    # What the Lambda service does with the role: traces always (the function is always traced, at least
    # passed through), the rest only with its key or queue.
    service = policy_documents["lambda_service"]
    assert [st["sid"] for st in _blocks(service.get("statement"))] == ["WriteTraces"]
    for dyn in _blocks(service.get("dynamic")):
        for label, body in dyn.items():
            assert label == "statement"
            assert re.fullmatch(r".+ \? \[.+\] : \[\]", _block(body)["for_each"]), body
    assert _as_list(policy_documents["lambda"]["source_policy_documents"]) == [
        "data.aws_iam_policy_document.lambda_service.json",
        "data.aws_iam_policy_document.optional.json",
        "data.aws_iam_policy_document.outputs.json",
    ]



# --------------------------------------------------------------------------------------------
# Alert outputs and delivery ledger: the role grants what runtime/outputs/ calls
# --------------------------------------------------------------------------------------------

OUTPUTS_DIR = RUNTIME_DIR / "outputs"
# The boto3 service each statement covers -> sid of its statement in the `outputs` policy document.
OUTPUT_STATEMENTS = {
    "sns": "PublishOutputTopics",
    "sqs": "SendOutputQueues",
    "s3": "WriteOutputObjects",
    "firehose": "PutOutputRecords",
    "lambda": "InvokeOutputFunctions",
    "logs": "WriteOutputLogs",
    "dynamodb": "ReadWriteDeliveryLedger",
}
# Runtime output service (runtime.outputs.OUTPUTS) -> attribute of `alert_outputs` granting it.
ALERT_OUTPUT_LISTS = {
    "aws-sns": "sns_topic_arns",
    "aws-sqs": "sqs_queue_arns",
    "aws-s3": "s3_buckets",
    "aws-firehose": "firehose_delivery_stream_arns",
    "aws-lambda": "lambda_function_arns",
    "aws-cloudwatch-log": "cloudwatch_log_group_arns",
}
# IAM actions whose name is not the API operation's.
IAM_ACTION_OF_OPERATION = {("lambda", "Invoke"): "lambda:InvokeFunction"}
# Modules of runtime/outputs/ that never run in the Lambda: the dead-letter redrive is an operator's
# command (cli/commands/redrive.py), run with the operator's credentials, not the function's role.
NOT_RUN_BY_THE_FUNCTION = {"redrive.py"}


# A client factory named with a service: `aws("sqs")`, `self._aws("sqs")`, `boto3.client("sns")`,
# `_client("ssm")`, `_boto3_client("dynamodb", ...)`.
CLIENT_FACTORY = re.compile(r"""(?<![A-Za-z0-9])(?:aws|_aws|client|_client|_boto3_client)\(\s*["']([a-z0-9-]+)["']\s*[,)]""")
METHOD_CALL = re.compile(r"\.([a-z][a-z0-9_]*)\(")


def aws_calls_in(
    text: str,
    session,
    renamed: dict[tuple[str, str], str] = IAM_ACTION_OF_OPERATION,
    by_argument: dict[tuple[str, str, str], str] | None = None,
) -> dict[str, set[str]]:
    """{boto3 service: IAM actions} of the client calls in one source file's text.

    The file's services are the string literals passed to a client factory; its calls are the `.method(`
    names that are operations of one of those services in botocore's model (`put_log_events` ->
    `logs:PutLogEvents`; `renamed` where the IAM action is named otherwise). `by_argument` adds an action when a call's operation names an argument
    (`("s3", "GetObject", "VersionId")` -> `s3:GetObjectVersion`).
    """
    from botocore import xform_name

    calls: dict[str, set[str]] = {}
    methods = set(METHOD_CALL.findall(text))
    for service in set(CLIENT_FACTORY.findall(text)):
        model = session.get_service_model(service)
        operations = {xform_name(name): name for name in model.operation_names}
        for method in methods & operations.keys():
            operation = operations[method]
            found = calls.setdefault(service, set())
            found.add(renamed.get((service, operation), f"{model.signing_name}:{operation}"))
            for (svc, op, argument), action in (by_argument or {}).items():
                if (svc, op) == (service, operation) and f'"{argument}"' in text:
                    found.add(action)
    return calls


def _runtime_output_aws_calls() -> dict[str, set[str]]:
    """{boto3 service: IAM actions} of the client calls in runtime/outputs/*.py, read from the source."""
    botocore_session = pytest.importorskip("botocore.session")
    session = botocore_session.get_session()
    calls: dict[str, set[str]] = {}
    for path in sorted(OUTPUTS_DIR.glob("*.py")):
        if path.name in NOT_RUN_BY_THE_FUNCTION:
            continue
        for service, actions in aws_calls_in(path.read_text(encoding="utf-8"), session).items():
            calls.setdefault(service, set()).update(actions)
    return calls


def test_runtime_output_calls_found():
    """The source scan finds the calls it must (guards the scan itself against silently finding nothing)."""
    if not OUTPUTS_DIR.is_dir():
        pytest.skip("no runtime/outputs to compare with")
    calls = _runtime_output_aws_calls()
    assert set(calls) == set(OUTPUT_STATEMENTS), "an AWS service used by runtime/outputs has no statement here"
    assert "sns:Publish" in calls["sns"] and "dynamodb:PutItem" in calls["dynamodb"]
    assert "lambda:InvokeFunction" in calls["lambda"]


def test_output_statements_grant_exactly_the_runtime_calls(policy_documents):
    """Each output kind's statement grants every AWS call its runtime output makes, and nothing else.

    A new boto3 call in runtime/outputs/ (say `send_message_batch`) fails here until the module grants it.
    """
    if not OUTPUTS_DIR.is_dir():
        pytest.skip("no runtime/outputs to compare with")
    calls = _runtime_output_aws_calls()
    for service, sid in OUTPUT_STATEMENTS.items():
        statement, for_each = _statement(policy_documents, sid)
        assert for_each is not None, f"{sid} must be conditional"
        granted = set(_as_list(statement["actions"]))
        assert granted == calls.get(service, set()), (
            f"{sid}: grants {sorted(granted)}, runtime/outputs calls {sorted(calls.get(service, set()))}"
        )


def test_every_aws_output_service_has_an_alert_outputs_list(variables):
    """Each AWS output service of the runtime has a list in `alert_outputs` (else its alerts go to the DLQ with AccessDenied)."""
    if not OUTPUTS_DIR.is_dir():
        pytest.skip("no runtime/outputs to compare with")
    services = set()
    for path in OUTPUTS_DIR.glob("*.py"):
        services |= set(
            re.findall(r"""^\s+service\s*=\s*["'](aws-[a-z0-9-]+)["']""", path.read_text(encoding="utf-8"), re.M)
        )
    assert services == set(ALERT_OUTPUT_LISTS)
    variable = variables["alert_outputs"]
    assert variable["default"] == {}
    assert variable.get("nullable") is False
    for attribute in [*ALERT_OUTPUT_LISTS.values(), "kms_key_arns"]:
        assert re.search(rf"\b{attribute} = optional\(list\(", variable["type"]), attribute
    # One validation per list, so that an ARN of the wrong kind is refused at plan.
    validations = [_block(v)["condition"] for v in _blocks(variable["validation"])]
    for attribute in [*ALERT_OUTPUT_LISTS.values(), "kms_key_arns"]:
        assert any(f"var.alert_outputs.{attribute}" in c for c in validations), attribute


def test_alert_output_statements_scoped_to_their_list(policy_documents, tf_locals):
    """Each output statement exists only when its list is non-empty and names only that list's resources.

    A list is the `alert_outputs` one followed by the resources the settings of `outputs` name; it is
    deduplicated in the statement only, so that its length (hence the statement) is known at plan.
    """
    expected = {
        "PublishOutputTopics": ("sns_topic_arns", "local.output_sns_topic_arns"),
        "SendOutputQueues": ("sqs_queue_arns", "local.output_sqs_queue_arns"),
        "WriteOutputObjects": ("s3_object_arns", "local.output_s3_object_arns"),
        "PutOutputRecords": ("firehose_delivery_stream_arns", "local.output_firehose_delivery_stream_arns"),
        "InvokeOutputFunctions": ("lambda_function_arns", "local.output_lambda_function_arns"),
        "WriteOutputLogs": ("log_stream_arns", "local.output_cloudwatch_log_group_arns"),
    }
    for sid, (name, derived) in expected.items():
        source = f"local.alert_output_{name}"
        statement, for_each = _statement(policy_documents, sid)
        assert for_each == f"length({source}) > 0 ? [distinct({source})] : []", sid
        assert _as_list(statement["resources"]) == ["statement.value"], sid
        merged = tf_locals[f"alert_output_{name}"]
        assert "distinct(" not in merged, f"{name}: its length must not depend on values unknown at plan"
        assert derived in merged, f"{sid} must also grant what `outputs` names"
    for name in ("sns_topic_arns", "sqs_queue_arns", "firehose_delivery_stream_arns", "lambda_function_arns"):
        assert tf_locals[f"alert_output_{name}"] == f"concat(var.alert_outputs.{name}, local.output_{name})"
    statement, for_each = _statement(policy_documents, "EncryptOutputs")
    assert for_each == "length(var.alert_outputs.kms_key_arns) > 0 ? [var.alert_outputs.kms_key_arns] : []"
    assert _as_list(statement["resources"]) == ["statement.value"]
    # S3: under the output's prefix only, used as is like the runtime's key `{prefix}dt=.../{rule_id}/{alert_id}.json`.
    assert '"${b.bucket_arn}/${b.prefix}*"' in tf_locals["alert_output_s3_object_arns"]
    assert '"${trimsuffix(arn, ":*")}:*"' in tf_locals["alert_output_log_stream_arns"]


def test_s3_output_prefix_default_matches_runtime(variables, tf_locals):
    """The default prefix granted for an S3 output (of `alert_outputs` or `outputs`) is the runtime's default prefix."""
    s3 = (OUTPUTS_DIR / "s3.py").read_text(encoding="utf-8")
    (runtime_default,) = re.findall(r"""^DEFAULT_PREFIX\s*=\s*["']([^"']*)["']""", s3, re.M)
    assert f'prefix = optional(string, "{runtime_default}")' in variables["alert_outputs"]["type"]
    assert tf_locals["s3_output_default_prefix"] == runtime_default
    assert "${try(settings.prefix, local.s3_output_default_prefix)}*" in tf_locals["output_s3_object_arns"]
    assert re.search(r"""f"\{prefix\}dt=""", s3), "the S3 key must start with the prefix (the granted ARN is <bucket>/<prefix>*)"


# --------------------------------------------------------------------------------------------
# `outputs`: each output declared once, for the runtime (SIGIL_OUTPUTS_OVERRIDE) and for the role
# --------------------------------------------------------------------------------------------

PERMISSIONS_TFTEST = MODULE_DIR / "tests" / "permissions.tftest.hcl"


def _variable_source(name: str) -> str:
    """The source text of `variable "<name>" {...}` in variables.tf (terraform fmt puts its closing brace at column 0)."""
    text = (MODULE_DIR / "variables.tf").read_text(encoding="utf-8")
    match = re.search(rf'^variable "{name}" \{{\n(.*?)^\}}\n', text, re.S | re.M)
    assert match, f"no variable {name!r}"
    return match.group(1)


def _settings_table(source: str, binding: str) -> dict[str, set[str]]:
    """The table `for <binding> in [lookup({"<service>" = ["<setting>", ...], ...}, ...)]` of a validation of `outputs`."""
    match = re.search(rf"for {binding} in \[lookup\(\{{(.*?)\}}, ", source, re.S)
    assert match, f"no {binding!r} table"
    rows = re.findall(r'"([a-z0-9-]+)"\s*=\s*\[([^\]]*)\]', match.group(1))
    table = {service: set(re.findall(r'"([a-z_]+)"', settings)) for service, settings in rows}
    assert len(table) == len(rows), f"{binding}: a service listed twice"
    return table


@pytest.fixture(scope="module")
def runtime_outputs():
    if not OUTPUTS_DIR.is_dir():
        pytest.skip("no runtime/outputs to compare with")
    return pytest.importorskip("runtime.outputs")


def test_outputs_variable_accepts_exactly_the_runtime_settings(variables, runtime_outputs):
    """`outputs` knows every runtime service, and allows and requires per service exactly the settings its class declares.

    Read from the output classes (`required`, `optional`) and from the checks they add to `check_settings`, so that
    a setting added to, or removed from, a runtime output fails here until the variable follows.
    """
    from runtime.outputs import awslambda, base, config, teams

    variable = variables["outputs"]
    # `any`: an object type would drop a misspelt setting silently instead of refusing it as the runtime does.
    assert variable["type"] == "any"
    assert variable["default"] == {}
    assert variable.get("nullable") is False
    source = _variable_source("outputs")
    classes = dict(runtime_outputs.OUTPUTS)
    allowed = _settings_table(source, "allowed")
    required = _settings_table(source, "required")
    assert allowed == {service: set(cls.required | cls.optional) for service, cls in classes.items()}
    assert required == {service: set(cls.required) for service, cls in classes.items()}
    # Descriptors: the canonical service names (the runtime merges an override only over an entry spelt alike).
    (services,) = re.findall(r'"\^\(([a-z0-9|-]+)\):', source)
    assert set(services.split("|")) == set(classes)
    # Enumerated values: each setting the runtime checks beyond its name is checked with the same values.
    enumerations = {
        "format": base.FORMATS,
        "invocation_type": tuple(awslambda.PAYLOAD_LIMITS),
        "card": teams.CARD_STYLES,
    }
    for setting, values in enumerations.items():
        found = re.findall(rf"contains\(\[([^\]]*)\], settings\.{setting}\)", source)
        assert found, setting
        for listed in found:
            assert set(re.findall(r'"([^"]+)"', listed)) == set(values), setting
    extra_checks = {
        service
        for service, cls in classes.items()
        if cls.check_settings.__func__ is not base.Output.check_settings.__func__
    }
    assert extra_checks == {"aws-lambda", "teams"}, "a runtime output checks more settings: check them in `outputs` too"
    # The built-in topic's ARN comes from SIGIL_ALERTS_TOPIC_ARN, applied after the overrides.
    assert f'"{config.TOPIC_OUTPUT}")' in source


def test_outputs_validation_and_derivation_share_their_patterns(tf_locals):
    """The queue URL and Lambda function patterns that validate `outputs` are the ones that turn them into ARNs."""
    iam = (MODULE_DIR / "iam.tf").read_text(encoding="utf-8")
    source = _variable_source("outputs")
    for name, setting in (("sqs_queue_url_pattern", "queue_url"), ("lambda_function_pattern", "function")):
        (pattern,) = re.findall(rf'^  {name}\s*=\s*("(?:[^"\\]|\\.)*")$', iam, re.M)
        assert f"regex({pattern}, settings.{setting})" in source, name
    assert "regex(local.sqs_queue_url_pattern, settings.queue_url)" in tf_locals["output_sqs_queue_arns"]
    assert "regex(local.lambda_function_pattern, settings.function)" in tf_locals["output_lambda_function_arns"]


def test_outputs_declared_in_terraform_tests_are_accepted_by_the_runtime(runtime_outputs):
    """Every `outputs` value a `terraform test` run plans without failure is accepted by the runtime at cold start.

    The value reaches the function as SIGIL_OUTPUTS_OVERRIDE; it is parsed here as the handler parses it.
    """
    from runtime.outputs import config

    runs = _labelled(_load(PERMISSIONS_TFTEST), "run")
    samples = {
        name: _block(run["variables"])["outputs"]
        for name, run in runs.items()
        if "outputs" in _block(run.get("variables", {})) and "expect_failures" not in run
    }
    assert len(samples) >= 2, sorted(runs)
    for name, outputs in samples.items():
        document = config.apply_environment({}, {config.OVERRIDE_ENV: json.dumps(outputs)})
        parsed = config.parse_config(document)
        assert dict(parsed.outputs) == outputs, name
        for descriptor, settings in parsed.outputs.items():
            runtime_outputs.OUTPUTS[descriptor.partition(":")[0]].check_settings(settings)


def test_delivery_ledger_table_matches_runtime(resources, variables):
    """The created table has the key schema and TTL attribute runtime/outputs/ledger.py reads and writes."""
    ledger = pytest.importorskip("runtime.outputs.ledger")

    class Recorder:
        def __init__(self) -> None:
            self.calls: list[tuple[str, dict]] = []

        def get_item(self, **kwargs: Any) -> dict:
            self.calls.append(("get_item", kwargs))
            return {}

        def put_item(self, **kwargs: Any) -> dict:
            self.calls.append(("put_item", kwargs))
            return {}

    client = Recorder()
    table = ledger.DynamoLedger("t", client, clock=lambda: 1000.0)
    table.get(("alert-1", "aws-sqs:triage"))
    table.settle(("alert-1", "aws-sqs:triage"), "delivered")
    (get_key,) = [kw["Key"] for name, kw in client.calls if name == "get_item"]
    (item,) = [kw["Item"] for name, kw in client.calls if name == "put_item"]
    key_types = {name: next(iter(value)) for name, value in get_key.items()}

    table_tf = resources[("aws_dynamodb_table", "ledger")]
    assert table_tf["count"] == "var.create_delivery_ledger ? 1 : 0"
    assert variables["create_delivery_ledger"]["default"] is False
    declared = {_block(a)["name"]: _block(a)["type"] for a in _blocks(table_tf["attribute"])}
    assert declared == key_types == {table_tf["hash_key"]: "S", table_tf["range_key"]: "S"}
    assert (table_tf["hash_key"], table_tf["range_key"]) == ("alert_id", "output")
    ttl = _block(table_tf["ttl"])
    assert ttl["enabled"] is True
    assert ttl["attribute_name"] in item and next(iter(item[ttl["attribute_name"]])) == "N"
    assert int(item[ttl["attribute_name"]]["N"]) > 1000, "the TTL attribute must be an epoch time in the future"


def test_delivery_ledger_table_hardened(resources, variables):
    """On demand, encrypted with a KMS key (aws/dynamodb or the given one), point-in-time recovery and deletion protection by default."""
    table = resources[("aws_dynamodb_table", "ledger")]
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    sse = _block(table["server_side_encryption"])
    assert sse["enabled"] is True
    assert sse["kms_key_arn"] == "var.delivery_ledger_kms_key_arn"
    assert _block(table["point_in_time_recovery"])["enabled"] == "var.delivery_ledger_point_in_time_recovery_enabled"
    assert variables["delivery_ledger_point_in_time_recovery_enabled"]["default"] is True
    assert table["deletion_protection_enabled"] == "var.delivery_ledger_deletion_protection_enabled"
    assert variables["delivery_ledger_deletion_protection_enabled"]["default"] is True


def test_delivery_ledger_permission_scoped_to_table(policy_documents, tf_locals):
    """The role may get and put items of the ledger table only, when there is one; its key only through DynamoDB."""
    statement, for_each = _statement(policy_documents, "ReadWriteDeliveryLedger")
    assert _as_list(statement["resources"]) == ["statement.value"]
    assert for_each == "local.delivery_ledger_enabled ? [local.delivery_ledger_table_arn] : []"
    assert tf_locals["delivery_ledger_enabled"] == "var.create_delivery_ledger || var.delivery_ledger_table_arn != null"
    assert "aws_dynamodb_table.ledger[0].arn" in tf_locals["delivery_ledger_table_arn"]
    decrypt, _ = _statement(policy_documents, "DecryptDeliveryLedger")
    condition = _block(decrypt["condition"])
    assert condition["variable"] == "kms:ViaService"
    assert _as_list(condition["values"]) == ["dynamodb.${local.region}.${data.aws_partition.current.dns_suffix}"]

# --------------------------------------------------------------------------------------------
# Example
# --------------------------------------------------------------------------------------------


def test_example_shows_new_options(example_module):
    """The complete example configures S3 and SQS sources, the dead-letter queue, the quarantine, the secrets prefix, an alert output, the delivery ledger and the alarms."""
    for name in (
        "s3_sources",
        "sqs_source_queue_arns",
        "create_dlq",
        "create_quarantine_bucket",
        "secrets_prefix",
        "outputs",
        "create_delivery_ledger",
        "create_alarms",
        "alarms",
    ):
        assert name in example_module, name
    # The triage queue is declared once, in `outputs` (its settings and its permission), not again in `alert_outputs`.
    outputs = example_module["outputs"]
    assert outputs == {"aws-sqs:triage": {"queue_url": "aws_sqs_queue.alerts.url"}}, outputs
    assert not _block(example_module.get("alert_outputs", {})).get("sqs_queue_arns")
    source = _block(example_module["s3_sources"])
    assert source["bucket_arn"] == "local.log_bucket_arn"
    assert _as_list(source["prefixes"]) == ["AWSLogs/"]


def test_example_wires_bucket_notification_after_permission():
    """The example's bucket notification targets the function and waits for the module's invoke permission."""
    resources = _typed(_load_dir(EXAMPLE_DIR), "resource")
    notification = resources[("aws_s3_bucket_notification", "logs")]
    target = _block(notification["lambda_function"])
    # The module lets S3 invoke the `live` alias (the version triggers run), not the unqualified function.
    assert target["lambda_function_arn"] == "module.sigil.lambda_alias_arn"
    assert _as_list(target["events"]) == ["s3:ObjectCreated:*"]
    assert _as_list(notification["depends_on"]) == ["module.sigil"]


# --------------------------------------------------------------------------------------------
# Alarms: the metrics they watch are those the runtime writes
# --------------------------------------------------------------------------------------------

ALARMS_TFTEST = MODULE_DIR / "tests" / "alarms.tftest.hcl"

# The AWS metrics the alarms may watch, with their statistic and dimensions.
AWS_ALARM_METRICS = {
    ("AWS/Lambda", "Errors"): ("Sum", {"FunctionName"}),
    ("AWS/Lambda", "Throttles"): ("Sum", {"FunctionName"}),
    ("AWS/Lambda", "IteratorAge"): ("Maximum", {"FunctionName"}),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible"): ("Maximum", {"QueueName"}),
}


def _runtime_metrics() -> dict[str, Any]:
    """The literal constants of runtime/metrics.py (DEFAULT_NAMESPACE, FUNCTION_DIMENSION, BATCH_METRICS, OUTPUT_METRICS)."""
    tree = ast.parse((RUNTIME_DIR / "metrics.py").read_text(encoding="utf-8"))
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in {"DEFAULT_NAMESPACE", "FUNCTION_DIMENSION", "BATCH_METRICS", "OUTPUT_METRICS"}:
                found[name] = ast.literal_eval(node.value)
    assert set(found) == {"DEFAULT_NAMESPACE", "FUNCTION_DIMENSION", "BATCH_METRICS", "OUTPUT_METRICS"}, sorted(found)
    return found


@pytest.fixture(scope="module")
def alarm_definitions(tf_locals) -> dict[str, dict]:
    definitions = tf_locals["alarm_definitions"]
    assert isinstance(definitions, dict) and definitions
    return definitions


def _dimensions(expr: str) -> dict[str, str]:
    """`tomap({Name = value, ...})` -> {name: value} (values without top-level commas)."""
    match = re.fullmatch(r"tomap\(\{(.*)\}\)", expr.strip(), re.S)
    assert match, expr
    return {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"(\w+)\s*=\s*((?:[^,()]|\((?:[^()]|\([^()]*\))*\))+)", match.group(1))
    }


def test_alarms_on_function_metrics_use_metrics_the_runtime_emits(alarm_definitions):
    """Each alarm in the function's namespace watches a metric runtime/metrics.py writes, with the dimensions it writes it with.

    A metric renamed in the runtime (or an alarm on a per-output metric without its Output dimension) would leave
    the alarm without data, never firing: this test breaks instead.
    """
    if not RUNTIME_DIR.is_dir():
        pytest.skip("no runtime/ to compare with")
    runtime = _runtime_metrics()
    function = runtime["FUNCTION_DIMENSION"]
    batch = {name for name, _ in runtime["BATCH_METRICS"].values()}
    per_output = {name for name, _ in runtime["OUTPUT_METRICS"].values()}
    own = {key: a for key, a in alarm_definitions.items() if a["namespace"] == "var.metrics_namespace"}
    assert {a["metric_name"] for a in own.values()} >= {"FailedItems", "AlertsDeadLettered", "Quarantined"}
    for key, alarm in own.items():
        dimensions = _dimensions(alarm["dimensions"])
        assert dimensions.get(function) == "aws_lambda_function.this.function_name", (key, dimensions)
        # The batch document has FunctionName only; the per-output one FunctionName and Output.
        emitted = {frozenset({function}): batch, frozenset({function, "Output"}): per_output}.get(frozenset(dimensions))
        assert emitted is not None, f"alarm {key}: the runtime writes no metric with dimensions {sorted(dimensions)}"
        assert alarm["metric_name"] in emitted, f"alarm {key}: the runtime writes no {alarm['metric_name']} with {sorted(dimensions)}"
        assert alarm["statistic"] == "Sum", key  # counts per batch


def test_alarms_on_aws_metrics(alarm_definitions):
    """The other alarms watch the AWS metrics they are meant to, for the module's function or dead-letter queue."""
    for key, alarm in alarm_definitions.items():
        if alarm["namespace"] == "var.metrics_namespace":
            continue
        expected = AWS_ALARM_METRICS.get((alarm["namespace"], alarm["metric_name"]))
        assert expected is not None, f"alarm {key}: unexpected metric {alarm['namespace']} {alarm['metric_name']}"
        statistic, dimension_names = expected
        assert alarm["statistic"] == statistic, key
        dimensions = _dimensions(alarm["dimensions"])
        assert set(dimensions) == dimension_names, key
        if "FunctionName" in dimensions:
            assert dimensions["FunctionName"] == "aws_lambda_function.this.function_name", key
    # The Lambda metric covers the event source mapping (the Kinesis metric is the stream's, over all its consumers).
    assert any(a["metric_name"] == "IteratorAge" for a in alarm_definitions.values())
    assert not any("GetRecords" in a["metric_name"] for a in alarm_definitions.values())


def test_metrics_namespace_default_matches_runtime(variables, tf_locals):
    """The module's namespace defaults to the runtime's, and is passed to the function (so alarms and metrics agree)."""
    if not RUNTIME_DIR.is_dir():
        pytest.skip("no runtime/ to compare with")
    assert variables["metrics_namespace"]["default"] == _runtime_metrics()["DEFAULT_NAMESPACE"]
    assert _environment(tf_locals)[_runtime_namespace_env()] == (None, "var.metrics_namespace")


def test_alarms_optional_and_each_configurable(variables, alarm_definitions, tf_locals, resources):
    """No alarm unless create_alarms; each alarm has its settings in `alarms`, a terraform test, and a README entry."""
    assert variables["create_alarms"]["default"] is False
    settings = set(re.findall(r"(\w+)\s*=\s*optional\(object\(", variables["alarms"]["type"]))
    assert settings == set(alarm_definitions)
    for key, alarm in alarm_definitions.items():
        assert alarm["settings"] == f"var.alarms.{key}", key
    assert "var.create_alarms" in tf_locals["alarms"] and "alarm.settings.enabled" in tf_locals["alarms"]
    alarm = resources[("aws_cloudwatch_metric_alarm", "this")]
    assert alarm["for_each"] == "local.alarms"
    assert alarm["treat_missing_data"] == "notBreaching"
    assert alarm["alarm_actions"] == "var.alarms.sns_topic_arns"
    tftest = ALARMS_TFTEST.read_text(encoding="utf-8")
    readme = (MODULE_DIR / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^### Alarms\s*$(.*?)(?=^##)", readme, re.S | re.M)
    assert section, "README.md has no '### Alarms' section"
    for key, alarm in alarm_definitions.items():
        assert re.search(rf"\b{key}\s*=", tftest), f"alarms.tftest.hcl does not check {key}"
        assert f"`{key}`" in section.group(1), f"README's Alarms section does not explain {key}"
        assert f"`{alarm['metric_name']}`" in section.group(1), f"README's Alarms section does not name {alarm['metric_name']}"


# --------------------------------------------------------------------------------------------
# terraform validate / terraform test, offline, in a temporary copy
# --------------------------------------------------------------------------------------------


def _terraform(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    proc = subprocess.run(
        [shutil.which("terraform") or "terraform", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"terraform {' '.join(args)} in {cwd}:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def terraform_copy(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    if shutil.which("terraform") is None:
        pytest.skip("terraform binary not installed")
    if not PLUGIN_MIRROR.is_dir():
        pytest.skip(f"no AWS provider mirror at {PLUGIN_MIRROR} (set SIGIL_TF_PLUGIN_MIRROR)")
    root = tmp_path_factory.mktemp("terraform")
    copy = root / "terraform"
    shutil.copytree(
        TF_DIR, copy, ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*")
    )
    cli_config = root / "terraformrc"
    cli_config.write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PLUGIN_MIRROR}"\n  }}\n}}\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": str(cli_config),
        "TF_IN_AUTOMATION": "1",
        # Any AWS call the plan should not make fails fast on a closed local port instead of reaching out.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    }
    for directory in ("modules/sigil", "examples/complete"):
        _terraform(["init", "-backend=false", "-input=false", "-no-color"], copy / directory, env)
    return copy, env


@pytest.mark.parametrize("directory", ["modules/sigil", "examples/complete"])
def test_terraform_validate(terraform_copy, directory):
    """`terraform validate` accepts the module and the example."""
    copy, env = terraform_copy
    _terraform(["validate", "-no-color"], copy / directory, env)


def test_terraform_test_plans_scoped_permissions(terraform_copy):
    """The module's `terraform test` (offline plans) finds every permission, the environment, the bucket settings and the alarms as expected."""
    copy, env = terraform_copy
    files = sorted((copy / "modules/sigil/tests").glob("*.tftest.hcl"))
    assert {f.name for f in files} >= {"permissions.tftest.hcl", "alarms.tftest.hcl", "hardening.tftest.hcl"}
    # Some seventy offline plans: about a minute and a half of CPU, several minutes on a busy machine.
    output = _terraform(["test", "-no-color"], copy / "modules/sigil", env, timeout=1200)
    # Every file ran, and every run of it: none skipped.
    for f in files:
        assert f"tests/{f.name}... pass" in output, output
    runs = sum(len(re.findall(r'^run\s+"', f.read_text(encoding="utf-8"), re.M)) for f in files)
    assert re.search(rf"Success! {runs} passed, 0 failed\.", output), output


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
