"""The deploy posture of deploy/terraform: the checkov scan, every runtime source wired, triggers on the `live`
alias, and `make rollback` against a moto server.

The static checks reuse tests/test_terraform.py's HCL helpers; the offline plans of the same features are in
deploy/terraform/modules/sigil/tests/hardening.tftest.hcl (run by test_terraform.py).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tomllib
import zipfile

import pytest

from tests.test_terraform import (
    EXAMPLE_DIR,
    MODULE_DIR,
    REPO,
    RUNTIME_DIR,
    TF_DIR,
    _as_list,
    _block,
    _blocks,
    _labelled,
    _load_dir,
    _typed,
    aws_calls_in,
)

SCAN_VENV = REPO / ".venv-scan"
README = MODULE_DIR / "README.md"
# `#checkov:skip=<check>:<reason>` as checkov reads it; the reason is what the comment must carry.
SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?$")


@pytest.fixture(scope="module")
def resources() -> dict[tuple[str, str], dict]:
    return _typed(_load_dir(MODULE_DIR), "resource")


# --------------------------------------------------------------------------------------------
# checkov: pinned in its own venv, run by CI, every skip explained where it is and in the README
# --------------------------------------------------------------------------------------------


def _skips() -> list[tuple[str, str, str, str]]:
    """(file, resource, check, reason) of every checkov skip comment under deploy/terraform."""
    found = []
    for path in sorted(TF_DIR.rglob("*.tf")):
        resource = None
        for line in path.read_text(encoding="utf-8").splitlines():
            if m := re.match(r'resource "(\w+)" "(\w+)"', line):
                resource = f"{m.group(1)}.{m.group(2)}"
            if m := SKIP.search(line.strip()):
                assert resource is not None, f"{path}: a skip outside any resource"
                found.append((str(path.relative_to(TF_DIR)), resource, m.group(1), (m.group(2) or "").strip()))
    return found


def test_checkov_skips_carry_their_reason_and_are_documented():
    skips = _skips()
    assert skips, "no #checkov:skip found: the scan would be run with none, or the pattern is wrong"
    section = re.search(r"^### Security scan$(.*?)(?=^#|\Z)", README.read_text(encoding="utf-8"), re.S | re.M)
    assert section, "the module README has no '### Security scan' section"
    rows = {
        (m.group(1), m.group(2))
        for m in re.finditer(r"^\| (?:example )?`(\w+\.\w+)` \| `([A-Z0-9_]+)`", section.group(1), re.M)
    }
    for path, resource, check, reason in skips:
        assert len(reason) >= 40, f"{path} {resource}: skip of {check} without a real reason: {reason!r}"
        assert (resource, check) in rows, f"README's Security scan table does not explain {resource} {check}"
    assert rows == {(resource, check) for _, resource, check, _ in skips}, "the README lists a skip the code does not make"


def test_checkov_pinned_in_its_own_venv_and_run_by_ci():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    (requirement,) = extras["scan"]
    assert re.fullmatch(r"checkov==\d+\.\d+\.\d+", requirement), requirement
    # bc-python-hcl2 (checkov's) and python-hcl2 (the dev tools') both install `hcl2`: never in one venv.
    assert not any(r.startswith("checkov") for r in extras["dev"])
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^scan: .*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no scan target"
    assert "$(SCAN_VENV)/bin/checkov --directory deploy/terraform" in recipe.group(1)
    assert "--soft-fail" not in recipe.group(1)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "make check" in ci and ci.index("make check") > ci.index("make install")
    check = re.search(r"^check: (.*?)(?:  ##.*)?$", makefile, re.M)
    assert check and check.group(1).split()[0] == "scan", "make check scans first (a test reads the scan's venv)"


def test_checkov_finds_no_failed_check():
    """What `make scan` runs, when .venv-scan exists (CI creates it with `make scan`)."""
    checkov = SCAN_VENV / "bin" / "checkov"
    if not checkov.exists():
        pytest.skip("no .venv-scan: run `make scan`")
    proc = subprocess.run(
        [str(checkov), "--directory", str(TF_DIR), "--framework", "terraform", "--quiet", "--compact", "--skip-download"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    counts = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", proc.stdout)
    assert counts, proc.stdout
    assert int(counts.group(1)) > 100 and counts.group(2) == "0"
    # Each skip counts once per instance of the module (the example and the test fixtures call it).
    assert int(counts.group(3)) >= len(_skips())


# --------------------------------------------------------------------------------------------
# Sources: every event kind the runtime reads has its trigger, and every trigger invokes `live`
# --------------------------------------------------------------------------------------------

# Kind of runtime/sources/detect.py -> the module's resources that deliver that kind of event.
SOURCE_WIRING = {
    "kinesis": [("aws_lambda_event_source_mapping", "this")],
    "sqs": [("aws_lambda_event_source_mapping", "sqs")],
    "s3": [("aws_lambda_permission", "s3")],
    "sns": [("aws_sns_topic_subscription", "sources"), ("aws_lambda_permission", "sns")],
    "cloudwatch": [("aws_cloudwatch_log_subscription_filter", "sources"), ("aws_lambda_permission", "cloudwatch_logs")],
    "eventbridge": [
        ("aws_cloudwatch_event_rule", "sources"),
        ("aws_cloudwatch_event_target", "sources"),
        ("aws_lambda_permission", "eventbridge"),
    ],
    # A delivery stream invokes its transformation Lambda with the stream's own role (no resource policy
    # here): the stream names the module's lambda_alias_arn in its processing configuration.
    "firehose": [("output", "lambda_alias_arn")],
}
# The service principal each invoke permission names, and the event kind it delivers.
PERMISSION_PRINCIPALS = {
    "s3": "s3.amazonaws.com",
    "sns": "sns.amazonaws.com",
    "cloudwatch_logs": "logs.amazonaws.com",
    "eventbridge": "events.amazonaws.com",
    "dedup_flush": "events.amazonaws.com",
}


def _typed_outputs() -> set[str]:
    """The names of the module's outputs."""
    return {name for block in _load_dir(MODULE_DIR).get("output", []) for name in block}


def _runtime_source_kinds() -> set[str]:
    source = (RUNTIME_DIR / "sources" / "detect.py").read_text(encoding="utf-8")
    return set(re.findall(r'Batch\("(\w+)"', source)) - {"unknown", "empty"}


def test_every_runtime_source_is_wired(resources):
    kinds = _runtime_source_kinds()
    assert {"kinesis", "sqs", "sns", "s3", "cloudwatch", "eventbridge"} <= kinds, kinds
    assert set(SOURCE_WIRING) == kinds, f"detect.py reads {sorted(kinds - set(SOURCE_WIRING))} without Terraform wiring"
    outputs = {("output", name) for name in _typed_outputs()}
    for kind, wiring in SOURCE_WIRING.items():
        for key in wiring:
            assert key in resources or key in outputs, f"{kind}: no {key[0]}.{key[1]}"


def test_triggers_invoke_the_live_alias(resources):
    function = resources[("aws_lambda_function", "this")]
    assert function["publish"] is True
    alias = resources[("aws_lambda_alias", "live")]
    assert alias["name"] == "live"
    assert alias["function_version"] == "coalesce(var.live_version, aws_lambda_function.this.version)"
    for (rtype, name), body in resources.items():
        if rtype == "aws_lambda_event_source_mapping":
            assert body["function_name"] == "aws_lambda_alias.live.arn", name
        if rtype == "aws_lambda_permission":
            assert body["qualifier"] == "aws_lambda_alias.live.name", name
            assert body["action"] == "lambda:InvokeFunction", name
            assert body["principal"] == PERMISSION_PRINCIPALS[name], name
            # Each service may invoke for its own resources only.
            assert body.get("source_arn"), name
    assert resources[("aws_sns_topic_subscription", "sources")]["endpoint"] == "aws_lambda_alias.live.arn"
    assert resources[("aws_sns_topic_subscription", "sources")]["protocol"] == "lambda"
    assert resources[("aws_cloudwatch_log_subscription_filter", "sources")]["destination_arn"] == "aws_lambda_alias.live.arn"
    assert resources[("aws_cloudwatch_event_target", "sources")]["arn"] == "aws_lambda_alias.live.arn"
    # The subscription, filter and target are checked by their services against the permission when created.
    for key, permission in (
        (("aws_sns_topic_subscription", "sources"), "aws_lambda_permission.sns"),
        (("aws_cloudwatch_log_subscription_filter", "sources"), "aws_lambda_permission.cloudwatch_logs"),
        (("aws_cloudwatch_event_target", "sources"), "aws_lambda_permission.eventbridge"),
    ):
        assert permission in _as_list(resources[key]["depends_on"]), key


def test_pushed_sources_get_no_role_permission():
    """SNS, CloudWatch Logs and EventBridge invoke the function: the role reads nothing of theirs."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in MODULE_DIR.glob("iam.tf"))
    for action in ("sns:Subscribe", "sns:Receive", "logs:GetLogEvents", "logs:FilterLogEvents", "events:"):
        assert action not in text, action


# IAM actions whose name is not the API operation's.
IAM_ACTION_OF_OPERATION = {
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("sqs", "SendMessageBatch"): "sqs:SendMessage",
}
# A call with this argument is authorized as another action too: get_object of a version (S3 notifications
# of versioned buckets name it) needs s3:GetObjectVersion.
IAM_ACTION_OF_ARGUMENT = {("s3", "GetObject", "VersionId"): "s3:GetObjectVersion"}
# What the role does for Lambda rather than for a call in runtime/: write the function's logs, poll the
# Kinesis stream and the SQS queues for the mappings, write traces, send failed events, and the KMS uses
# that services make with the caller's permissions (an encrypted stream, topic, object, secret or table).
LAMBDA_SERVICE_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
    "kinesis:ListStreams",
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:SendMessage",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "kms:Decrypt",
    "kms:GenerateDataKey",
}
# runtime/ modules that never run in the Lambda (an operator's command, with the operator's credentials).
NOT_RUN_BY_THE_FUNCTION = {RUNTIME_DIR / "outputs" / "redrive.py"}


def _runtime_aws_actions() -> set[str]:
    """The IAM actions of every boto3 client call in runtime/, read from the source, file by file
    (`tests.test_terraform.aws_calls_in`)."""
    botocore_session = pytest.importorskip("botocore.session")
    session = botocore_session.get_session()
    actions: set[str] = set()
    for path in sorted(RUNTIME_DIR.rglob("*.py")):
        if path in NOT_RUN_BY_THE_FUNCTION:
            continue
        for found in aws_calls_in(path.read_text(encoding="utf-8"), session, IAM_ACTION_OF_OPERATION, IAM_ACTION_OF_ARGUMENT).values():
            actions |= found
    return actions


def _granted_actions() -> set[str]:
    from tests.test_terraform import _policy_statements

    documents = {name: body for (dtype, name), body in _typed(_load_dir(MODULE_DIR), "data").items() if dtype == "aws_iam_policy_document"}
    return {
        action
        for name, document in documents.items()
        if name != "assume_role"
        for statement in _policy_statements(document)
        for action in _as_list(statement["actions"])
    }


def test_role_grants_the_runtime_calls_and_what_lambda_does_nothing_else():
    called = _runtime_aws_actions()
    # The sources, the quarantine, the secrets and the outputs are all found.
    assert {"s3:GetObject", "s3:PutObject", "secretsmanager:GetSecretValue", "ssm:GetParameter", "sns:Publish"} <= called, called
    granted = _granted_actions()
    assert called <= granted, f"the runtime calls {sorted(called - granted)} the role may not"
    assert granted <= called | LAMBDA_SERVICE_ACTIONS, f"the role may {sorted(granted - called - LAMBDA_SERVICE_ACTIONS)}, which nothing calls"


def _dynamic(body: dict, label: str) -> dict:
    for dyn in _blocks(body.get("dynamic")):
        if label in dyn:
            return _block(dyn[label])
    raise AssertionError(f"no dynamic {label}")


def test_failed_events_go_to_the_failed_events_queue(resources):
    function = resources[("aws_lambda_function", "this")]
    dead_letter = _dynamic(function, "dead_letter_config")
    assert dead_letter["for_each"] == "local.failed_events_enabled ? [local.failed_events_queue_arn] : []"
    assert _block(dead_letter["content"])["target_arn"] == "dead_letter_config.value"
    mapping = resources[("aws_lambda_event_source_mapping", "this")]
    destination = _dynamic(mapping, "destination_config")
    assert destination["for_each"] == "local.failed_events_enabled ? [local.failed_events_queue_arn] : []"
    on_failure = _block(_block(destination["content"])["on_failure"])
    assert on_failure["destination_arn"] == "destination_config.value"
    queue = resources[("aws_sqs_queue", "failed_events")]
    assert queue["sqs_managed_sse_enabled"] is True


def test_function_traced_and_encrypted_with_the_module_key(resources):
    function = resources[("aws_lambda_function", "this")]
    assert _block(function["tracing_config"])["mode"] == "var.tracing_mode"
    assert function["kms_key_arn"] == "local.kms_key_arn"
    key = resources[("aws_kms_key", "this")]
    assert key["enable_key_rotation"] is True


def test_example_wires_every_new_source():
    example = _labelled(_load_dir(EXAMPLE_DIR), "module")["sigil"]
    for name in ("sns_source_topic_arns", "cloudwatch_logs_sources", "eventbridge_rules", "tracing_mode", "create_failed_events_queue"):
        assert name in example, name


# --------------------------------------------------------------------------------------------
# make rollback, with the AWS CLI against a moto server
# --------------------------------------------------------------------------------------------


def _lambda_with_versions(endpoint: str, name: str, versions: int) -> None:
    """Create function `name` in moto with `versions` published versions and `live` on the last one."""
    import boto3

    kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    role = boto3.client("iam", **kwargs).create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
    )["Role"]["Arn"]
    client = boto3.client("lambda", **kwargs)
    for version in range(1, versions + 1):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as bundle:
            bundle.writestr("runtime/handler.py", f"def handler(event, context):\n    return {version}\n")
        if version == 1:
            client.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="runtime.handler.handler", Code={"ZipFile": buffer.getvalue()})
        else:
            client.update_function_code(FunctionName=name, ZipFile=buffer.getvalue())
        published = client.publish_version(FunctionName=name)["Version"]
        assert published == str(version)
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=str(versions))


def _make_rollback(endpoint: str, *args: str) -> subprocess.CompletedProcess[str]:
    from moto_process import local_aws_env

    env = {k: v for k, v in os.environ.items() if k not in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "MAKEFLAGS", "VERSION")}
    env.update(local_aws_env(endpoint))
    return subprocess.run(["make", "--no-print-directory", "rollback", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def aws_cli() -> str:
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI is not installed")
    return aws


def _alias_version(endpoint: str, name: str) -> str:
    import boto3

    client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    return client.get_alias(FunctionName=name, Name="live")["FunctionVersion"]


def test_make_rollback_points_the_alias_at_the_version(moto_server, aws_cli):
    _lambda_with_versions(moto_server, "sigil-rollback", 3)
    assert _alias_version(moto_server, "sigil-rollback") == "3"
    proc = _make_rollback(moto_server, "FUNCTION=sigil-rollback", "VERSION=2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _alias_version(moto_server, "sigil-rollback") == "2"
    assert "set live_version = \"2\"" in proc.stdout


def test_make_rollback_without_version_lists_the_versions_and_fails(moto_server, aws_cli):
    _lambda_with_versions(moto_server, "sigil-norollback", 2)
    proc = _make_rollback(moto_server, "FUNCTION=sigil-norollback")
    assert proc.returncode != 0
    assert "VERSION=<n> make rollback" in proc.stderr
    listed = [line.split()[0] for line in proc.stderr.splitlines() if re.match(r"^\d+\s", line)]
    assert listed == ["1", "2"], proc.stderr
    assert _alias_version(moto_server, "sigil-norollback") == "2"


def test_rollback_documented():
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^### Versions and rolling back$(.*?)(?=^#)", text, re.S | re.M)
    assert section, "no 'Versions and rolling back' section"
    assert "VERSION=7 make rollback" in section.group(1) and 'live_version = "7"' in section.group(1)
    assert re.search(r"^rollback: .*## ", (REPO / "Makefile").read_text(encoding="utf-8"), re.M)
