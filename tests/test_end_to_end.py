"""End to end with the real toolchain: the tests' rule set compiled, bundled, run by the handler from the zip alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from moto_process import AlertSink, local_aws_env
from test_bundle import INVOKE, SAMPLE, boto3_paths

from cli.bundle.zip import build_bundle
from compiler.build import compile_rules

ROOT = Path(__file__).resolve().parents[1]
RULESET = ROOT / "tests" / "fixtures" / "ruleset"  # the tests' own rules (tests/conftest.py)
NO_MFA = "82dbdf58-99f5-4ab6-80c1-4affc1f35c9c"
ROOT_USAGE = "5448a752-d801-4f72-85d9-15faa4264c9a"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    build = tmp_path_factory.mktemp("build")
    result = compile_rules([str(RULESET)], str(ROOT / "schemas"), build)
    assert not result.errors
    return build_bundle(build, build / "sigil-lambda.zip")


@pytest.mark.slow
def test_compiled_rules_fire_from_the_bundle_alone(bundle: Path, tmp_path: Path, alert_sink: AlertSink) -> None:
    """In `python -I -S` with only the zip and boto3 importable, the samples yield the rule set's alerts."""
    env = {"PATH": os.environ.get("PATH", ""), **local_aws_env(alert_sink.endpoint_url), "SIGIL_ALERTS_TOPIC_ARN": alert_sink.topic_arn}
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", INVOKE, str(bundle), str(SAMPLE), *boto3_paths()],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert 'RESPONSE {"batchItemFailures": []}' in completed.stdout
    alerts = alert_sink.receive()
    assert sorted(a["rule_id"] for a in alerts) == sorted([NO_MFA, ROOT_USAGE, ROOT_USAGE])
    no_mfa = next(a for a in alerts if a["rule_id"] == NO_MFA)
    assert no_mfa["title"] == "AWS Console Login Without MFA"
    assert no_mfa["level"] == "medium"
    assert no_mfa["log_type"] == "cloudtrail"
    assert no_mfa["record"]["userIdentity"]["userName"] == "alice"
    assert len({a["alert_id"] for a in alerts}) == 3


@pytest.mark.slow
def test_demo_prints_the_alerts_of_the_bundled_rules(bundle: Path, tmp_path: Path) -> None:
    """`scripts/demo.py` (what `make demo` runs) prints each alert and a closing count."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--bundle", str(bundle)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "[medium] AWS Console Login Without MFA" in completed.stdout
    assert completed.stdout.count("[high] AWS Root Account Usage") == 2
    assert completed.stdout.splitlines()[-1].startswith("3 alerts from ")
