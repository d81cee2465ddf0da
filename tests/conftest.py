"""Shared fixtures: a local moto server, AWS environment, and a handwritten ``sigil_rules`` package."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# The main run under CI=true uses Hypothesis's own `ci` profile (derandomized: the same examples every run,
# never flaky). `explore` is for tests/explore.py (`make explore`): a random seed, given on the command line
# and printed, so a failure it finds can be replayed and kept as an @example.
settings.register_profile(
    "explore", derandomize=False, database=None, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)

ROOT = Path(__file__).resolve().parents[1]
# The rule set the tool's own tests compile: a frozen copy of the rules once shipped, so that a team's new or
# changed rule under rules/ can fail only its own tests (tests/test_rules_pack.py runs them), never these.
RULESET = ROOT / "tests" / "fixtures" / "ruleset"
sys.path.insert(0, str(ROOT / "scripts"))  # moto_process and make_samples are shared with scripts/demo.py

from moto_process import AlertSink, MotoServer, local_aws_env  # noqa: E402
from support.ci_skips import pytest_collectreport, pytest_runtest_logreport, pytest_sessionfinish  # noqa: E402, F401
from support.fake_rules import write_handwritten_rules_package  # noqa: E402


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Start ``python -m moto.server`` on a free 127.0.0.1 port for the session; yield its URL."""
    with MotoServer() as server:
        yield server.url


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point boto3 at the moto server with dummy credentials; yield the endpoint URL."""
    from runtime.outputs import dispatch, sns

    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in local_aws_env(moto_server).items():
        monkeypatch.setenv(name, value)
    sns.client.cache_clear()
    dispatch.reset_default()
    yield moto_server
    sns.client.cache_clear()
    dispatch.reset_default()


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


# --- the runtime against real compiled packages and the moto server ---------------------------------


def _forget_rules_package() -> None:
    """Drop any imported ``sigil_rules`` and the cached rule set, so the next load sees a new package."""
    from runtime.rules import rule_set

    for name in [name for name in sys.modules if name == "sigil_rules" or name.startswith("sigil_rules.")]:
        del sys.modules[name]
    rule_set.cache_clear()


@pytest.fixture(scope="session")
def compiled_rules_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tests' rule set (RULESET against schemas/) really compiled into a temporary build dir."""
    from compiler.build import compile_rules

    out = tmp_path_factory.mktemp("compiled")
    result = compile_rules([str(RULESET)], str(ROOT / "schemas"), out)
    assert not result.errors, result.errors
    return out


@pytest.fixture
def compiled_rules(compiled_rules_package: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Make the compiled RULESET the ``sigil_rules`` that ``runtime.rules`` loads; yield its build dir."""
    _forget_rules_package()
    monkeypatch.syspath_prepend(str(compiled_rules_package))
    yield compiled_rules_package
    _forget_rules_package()


@pytest.fixture
def compile_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Factory: compile rules (YAML texts) against schemas (YAML texts), adjust the runtime view, and load it.

    ``view`` maps log types to keys merged into their ``schemas.json`` entries: the way to give a log type a
    parser the compiler cannot declare yet (csv, syslog...) or fields and hints the view does not carry yet.
    ``sources`` becomes the package's ``sources.json``.
    """
    import json

    from compiler.build import compile_rules

    def build(
        rules: dict[str, str],
        schemas: dict[str, str],
        view: dict[str, dict[str, Any]] | None = None,
        sources: dict[str, Any] | None = None,
    ) -> Path:
        _forget_rules_package()
        root = tmp_path / f"pkg-{len(list(tmp_path.glob('pkg-*')))}"
        for folder, files in (("rules", rules), ("schemas", schemas)):
            (root / folder).mkdir(parents=True)
            for name, text in files.items():
                (root / folder / name).write_text(text)
        result = compile_rules([str(root / "rules")], str(root / "schemas"), root / "build")
        assert not result.errors, result.errors
        package = root / "build" / "sigil_rules"
        schemas_json = json.loads((package / "schemas.json").read_text())
        for log_type, extra in (view or {}).items():
            schemas_json["log_types"].setdefault(log_type, {}).update(extra)
        (package / "schemas.json").write_text(json.dumps(schemas_json))
        if sources is not None:
            (package / "sources.json").write_text(json.dumps(sources))
        monkeypatch.syspath_prepend(str(root / "build"))
        return root / "build"

    yield build
    _forget_rules_package()


@pytest.fixture
def runtime_aws(aws_env: str) -> Iterator[str]:
    """``aws_env`` with the runtime's cached boto3 clients (S3 source, quarantine) recreated for it."""
    from runtime import quarantine
    from runtime.sources import s3

    s3.client.cache_clear()
    quarantine.clear_clients()
    quarantine.from_url.cache_clear()
    yield aws_env
    s3.client.cache_clear()
    quarantine.clear_clients()
    quarantine.from_url.cache_clear()


CLOUDTRAIL_SCHEMA_YAML = """\
name: cloudtrail
description: CloudTrail records (a fixed copy for hermetic runtime tests)
parser: {type: json, records: "Records[*]"}
classify: {required: [eventVersion, eventSource, eventName], priority: 10}
strict_fields: false
logsources:
  - {product: aws, service: cloudtrail}
fields:
  eventVersion: string
  eventSource: string
  eventName: string
  userIdentity: any
  additionalEventData: any
  responseElements: any
"""

NO_MFA_RULE_YAML = """\
title: AWS Console Login Without MFA
id: 0e6a3a52-1b7e-4d0b-9a51-8f7c1f7f0001
status: test
description: A console login without MFA (a fixed copy for hermetic runtime tests).
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: signin.amazonaws.com
    eventName: ConsoleLogin
    additionalEventData.MFAUsed: 'No'
  condition: selection
level: medium
"""


@pytest.fixture
def cloudtrail_rules(compile_package: Any) -> Path:
    """One really compiled rule on the one log type ``cloudtrail``: tests of quarantines that must not
    depend on which other log types schemas/ offers (a fallback log type would accept what they reject)."""
    return compile_package({"no_mfa.yml": NO_MFA_RULE_YAML}, {"cloudtrail.yml": CLOUDTRAIL_SCHEMA_YAML})
