"""Shared fixtures: a local moto server, AWS environment, and a handwritten ``sigil_rules`` package."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))  # moto_process and make_samples are shared with scripts/demo.py

from moto_process import AlertSink, MotoServer, local_aws_env  # noqa: E402
from support.fake_rules import write_handwritten_rules_package  # noqa: E402


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Start ``python -m moto.server`` on a free 127.0.0.1 port for the session; yield its URL."""
    with MotoServer() as server:
        yield server.url


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point boto3 at the moto server with dummy credentials; yield the endpoint URL."""
    from runtime.outputs import sns

    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in local_aws_env(moto_server).items():
        monkeypatch.setenv(name, value)
    sns.client.cache_clear()
    yield moto_server
    sns.client.cache_clear()


@pytest.fixture
def alert_sink(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> AlertSink:
    """Create a fresh SNS topic → SQS queue pair and set SIGIL_ALERTS_TOPIC_ARN to the topic."""
    sink = AlertSink.create(aws_env)
    monkeypatch.setenv("SIGIL_ALERTS_TOPIC_ARN", sink.topic_arn)
    return sink


@pytest.fixture(scope="session")
def handwritten_rules_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A build dir holding a handwritten ``sigil_rules`` package: a stand-in for ``sigil compile`` output.

    For runtime unit tests only; end-to-end tests of the product use really compiled rules.
    """
    return write_handwritten_rules_package(tmp_path_factory.mktemp("build"))


@pytest.fixture
def handwritten_rules(handwritten_rules_package: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the handwritten ``sigil_rules`` the one ``runtime.rules`` loads; yield its build dir."""
    from runtime.rules import rule_set

    def forget() -> None:
        for name in [
            name for name in sys.modules if name == "sigil_rules" or name.startswith("sigil_rules.")
        ]:
            del sys.modules[name]
        rule_set.cache_clear()

    forget()
    monkeypatch.syspath_prepend(str(handwritten_rules_package))
    yield handwritten_rules_package
    forget()
