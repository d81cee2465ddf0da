"""The Lambda bundle: deterministic bytes, and a handler that runs from it alone (no dsl/, no compiler/)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from moto_process import AlertSink, local_aws_env
from support import fake_rules
from support.fake_rules import write_handwritten_rules_package

from compiler.bundle import build_bundle

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "kinesis" / "cloudtrail.json"
BOTO3_DEPENDENCIES = ("boto3", "botocore", "jmespath", "dateutil", "s3transfer", "urllib3", "six")

# Runs in `python -I -S`: only the stdlib, the bundle and boto3's own directories are importable.
INVOKE = textwrap.dedent(
    """
    import importlib.util, json, sys
    bundle, event_path, *deps = sys.argv[1:]
    sys.path[:0] = [bundle, *deps]
    for name in ("dsl", "compiler"):
        assert importlib.util.find_spec(name) is None, f"{name} is importable"
    import runtime, sigil_rules
    from runtime.handler import handler
    assert runtime.__file__.startswith(bundle) and sigil_rules.__file__.startswith(bundle)
    with open(event_path) as f:
        response = handler(json.load(f), None)
    print("RESPONSE " + json.dumps(response))
    """
)


@pytest.fixture
def build_dir(tmp_path: Path) -> Path:
    """A build dir with the handwritten ``sigil_rules`` and some bytecode that must not be bundled."""
    build = write_handwritten_rules_package(tmp_path / "build")
    (build / "sigil_rules" / "__pycache__").mkdir()
    (build / "sigil_rules" / "__pycache__" / "cloudtrail.cpython-311.pyc").write_bytes(b"\0")
    return build


def boto3_paths() -> list[str]:
    """Return the directories holding boto3 and its dependencies, computed from where they are installed."""
    paths: list[str] = []
    for name in BOTO3_DEPENDENCIES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        origin = Path(spec.origin)
        directory = str(origin.parent.parent if spec.submodule_search_locations else origin.parent)
        if directory not in paths:
            paths.append(directory)
    return paths


class TestBuild:
    def test_deterministic(self, build_dir: Path, tmp_path: Path) -> None:
        """Building twice gives identical bytes, even after the sources' mtimes change."""
        first = build_bundle(build_dir, tmp_path / "a.zip").read_bytes()
        for path in (build_dir / "sigil_rules").iterdir():
            os.utime(path, (1_700_000_000, 1_700_000_000))
        second = build_bundle(build_dir, tmp_path / "b.zip").read_bytes()
        assert first == second

    def test_layout(self, build_dir: Path, tmp_path: Path) -> None:
        """Entries are sorted, at the zip root, with fixed timestamps and modes, and without bytecode."""
        with zipfile.ZipFile(build_bundle(build_dir, tmp_path / "out" / "sigil-lambda.zip")) as archive:
            infos = archive.infolist()
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert {
            "runtime/__init__.py",
            "runtime/handler.py",
            "runtime/helpers.py",
            "sigil_rules/__init__.py",
            "sigil_rules/cloudtrail.py",
            "sigil_rules/schemas.json",
            "sigil_rules/manifest.json",
        } <= set(names)
        assert not [
            name
            for name in names
            if "__pycache__" in name or not name.startswith(("runtime/", "sigil_rules/"))
        ]
        assert {(info.date_time, info.external_attr, info.compress_type) for info in infos} == {
            ((1980, 1, 1, 0, 0, 0), 0o644 << 16, zipfile.ZIP_DEFLATED)
        }

    def test_requires_compiled_rules(self, tmp_path: Path) -> None:
        """Without ``sigil_rules`` in the build dir the bundle is refused with a hint."""
        with pytest.raises(FileNotFoundError, match="sigil compile"):
            build_bundle(tmp_path, tmp_path / "x.zip")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("layout", "outputs"), [("extracted", "topic"), ("zip", "topic"), ("zip", "override")]
)
def test_handler_runs_from_bundle_alone(
    layout: str, outputs: str, build_dir: Path, tmp_path: Path, alert_sink: AlertSink
) -> None:
    """In an isolated interpreter the bundled handler turns the sample event into one alert on its SNS output,
    named by SIGIL_ALERTS_TOPIC_ARN or by SIGIL_OUTPUTS_OVERRIDE alone."""
    bundle = build_bundle(build_dir, tmp_path / "sigil-lambda.zip")
    if layout == "extracted":  # as Lambda runs it, from /var/task
        with zipfile.ZipFile(bundle) as archive:
            archive.extractall(tmp_path / "task")
        bundle = tmp_path / "task"
    env = {"PATH": os.environ.get("PATH", ""), **local_aws_env(alert_sink.endpoint_url)}
    if outputs == "topic":
        env["SIGIL_ALERTS_TOPIC_ARN"] = alert_sink.topic_arn
    else:
        env["SIGIL_OUTPUTS_OVERRIDE"] = json.dumps({"aws-sns:alerts": {"topic_arn": alert_sink.topic_arn}})
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", INVOKE, str(bundle), str(SAMPLE), *boto3_paths()],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    response = [line for line in completed.stdout.splitlines() if line.startswith("RESPONSE ")]
    assert response == ['RESPONSE {"batchItemFailures": []}'], completed.stdout
    alerts = alert_sink.receive()
    assert [alert["rule_id"] for alert in alerts] == [fake_rules.RULE_ID]


@pytest.mark.slow
def test_demo_runs_on_bundle(build_dir: Path, tmp_path: Path) -> None:
    """``scripts/demo.py`` runs the bundled handler on the samples and prints the alert it read back."""
    bundle = build_bundle(build_dir, tmp_path / "sigil-lambda.zip")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--bundle", str(bundle)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert fake_rules.RULE_ID in completed.stdout
    assert completed.stdout.splitlines()[-1] == "1 alerts from 5 records"
