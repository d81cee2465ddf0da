"""Where each output descriptor points: ``outputs.json`` (shipped in ``sigil_rules``) plus environment overrides.

The configuration names resources only (ARNs, URLs of queues, bucket names, secret names); webhook URLs
and keys live in the secret store. See docs/outputs.md for the format.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from runtime.contract import OUTPUTS_FILE, PACKAGE
from runtime.outputs import OUTPUTS, OutputConfigError, normalize
from runtime.retry import RetryPolicy
from runtime.secrets import BACKENDS

FILE_ENV = "SIGIL_OUTPUTS_FILE"
OVERRIDE_ENV = "SIGIL_OUTPUTS_OVERRIDE"
DLQ_ENV = "SIGIL_DLQ_URL"
TOPIC_ENV = "SIGIL_ALERTS_TOPIC_ARN"
PREFIX_ENV = "SIGIL_SECRETS_PREFIX"
BACKEND_ENV = "SIGIL_SECRETS_BACKEND"
TOPIC_OUTPUT = "aws-sns:alerts"
TOP_LEVEL_KEYS = frozenset(
    {"version", "outputs", "default_outputs", "required_outputs", "dead_letter", "secrets", "retry"}
)


@dataclass(frozen=True)
class OutputsConfig:
    """Parsed output configuration: settings per descriptor, routing defaults, dead-letter queue, secrets, retry."""

    outputs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    default_outputs: tuple[str, ...] = ()
    required_outputs: tuple[str, ...] = ()
    dead_letter_queue_url: str | None = None
    secrets_prefix: str = "/sigil/outputs"
    secrets_backend: str = "secretsmanager"
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def targets(self, alert: Mapping[str, Any]) -> list[str]:
        """Return the descriptors an alert goes to: required ones, then the rule's (or the defaults), deduplicated."""
        wanted = [*self.required_outputs, *(alert.get("outputs") or self.default_outputs)]
        targets: list[str] = []
        for descriptor in wanted:
            try:
                name = normalize(str(descriptor))
            except OutputConfigError:
                name = str(descriptor)  # delivered as an error, hence dead-lettered with the reason
            if name not in targets:
                targets.append(name)
        return targets


def parse_config(document: Mapping[str, Any]) -> OutputsConfig:
    """Validate an ``outputs.json`` document; raise OutputConfigError naming the first problem."""
    unknown = sorted(set(document) - TOP_LEVEL_KEYS)
    if unknown:
        raise OutputConfigError(f"outputs config: unknown keys {unknown}")
    outputs: dict[str, Mapping[str, Any]] = {}
    for descriptor, settings in (document.get("outputs") or {}).items():
        name = normalize(descriptor)
        if name in outputs:
            raise OutputConfigError(f"outputs config: {descriptor!r} names {name!r} again (one entry per output)")
        if not isinstance(settings, Mapping):
            raise OutputConfigError(f"outputs config: settings of {descriptor!r} must be an object")
        OUTPUTS[name.partition(":")[0]].check_settings(settings)
        outputs[name] = dict(settings)
    secrets = document.get("secrets") or {}
    backend = str(secrets.get("backend", "secretsmanager"))
    if backend not in BACKENDS:
        raise OutputConfigError(f"outputs config: secrets backend must be one of {BACKENDS}")
    return OutputsConfig(
        outputs=outputs,
        default_outputs=tuple(normalize(d) for d in document.get("default_outputs") or ()),
        required_outputs=tuple(normalize(d) for d in document.get("required_outputs") or ()),
        dead_letter_queue_url=(document.get("dead_letter") or {}).get("queue_url"),
        secrets_prefix=str(secrets.get("prefix", "/sigil/outputs")),
        secrets_backend=backend,
        retry=_retry_policy(document.get("retry") or {}),
    )


def _retry_policy(settings: Mapping[str, Any]) -> RetryPolicy:
    """Build the retry policy from the ``retry`` object (unknown keys are errors)."""
    known = {f.name for f in fields(RetryPolicy)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise OutputConfigError(f"outputs config: unknown retry settings {unknown}")
    return RetryPolicy(**{key: type(getattr(RetryPolicy(), key))(value) for key, value in settings.items()})


def load_config(environ: Mapping[str, str] | None = None, path: str | Path | None = None) -> OutputsConfig:
    """Read the file (``path``, else ``$SIGIL_OUTPUTS_FILE``, else ``sigil_rules/outputs.json`` if shipped) and apply env."""
    env = os.environ if environ is None else environ
    document = _read_document(path or env.get(FILE_ENV))
    return parse_config(apply_environment(document, env))


def apply_environment(document: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Return ``document`` with the environment's overrides applied (env wins over the file)."""
    doc = json.loads(json.dumps(document))  # deep copy
    outputs = doc.setdefault("outputs", {})
    for descriptor, settings in json.loads(env.get(OVERRIDE_ENV) or "{}").items():
        key = _same_output(outputs, descriptor)  # `sqs:triage` in the file, `aws-sqs:triage` in env: one output
        outputs[key] = {**outputs.get(key, {}), **settings}
    if env.get(TOPIC_ENV):
        key = _same_output(outputs, TOPIC_OUTPUT)
        outputs[key] = {**outputs.get(key, {}), "topic_arn": env[TOPIC_ENV]}
        doc.setdefault("required_outputs", [TOPIC_OUTPUT])
    if env.get(DLQ_ENV):
        doc["dead_letter"] = {"queue_url": env[DLQ_ENV]}
    secrets = doc.setdefault("secrets", {})
    if env.get(PREFIX_ENV):
        secrets["prefix"] = env[PREFIX_ENV]
    if env.get(BACKEND_ENV):
        secrets["backend"] = env[BACKEND_ENV]
    return doc


def _same_output(outputs: Mapping[str, Any], descriptor: str) -> str:
    """The key of ``outputs`` naming the same output as ``descriptor`` in any spelling, else ``descriptor``."""
    wanted = _canonical(descriptor)
    return next((key for key in outputs if _canonical(key) == wanted), descriptor)


def _canonical(descriptor: str) -> str:
    try:
        return normalize(descriptor)
    except OutputConfigError:
        return descriptor  # parse_config reports it


def _read_document(path: str | Path | None) -> dict[str, Any]:
    """Return the JSON document at ``path``, or the one shipped in the rules package, or an empty one."""
    if path:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    try:
        shipped = resources.files(PACKAGE).joinpath(OUTPUTS_FILE)
    except ModuleNotFoundError:
        return {}
    return json.loads(shipped.read_text(encoding="utf-8")) if shipped.is_file() else {}
