"""Output secrets (webhook URLs, keys) from Secrets Manager or SSM SecureString, fetched once per cold start.

Only the *name* of a secret comes from configuration (``SIGIL_SECRETS_PREFIX`` + ``service/descriptor``);
the value is always read from the secret store, never from code or environment text.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from runtime.retry import DeliveryError

BACKENDS = ("secretsmanager", "ssm")
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"})


class SecretError(DeliveryError):
    """A secret that does not exist or has the wrong type: retrying will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


class SecretStore:
    """Read secrets by name from one backend and keep each value for the life of the process."""

    def __init__(
        self, prefix: str, backend: str = "secretsmanager", client: Callable[[str], Any] | None = None
    ):
        if backend not in BACKENDS:
            raise ValueError(f"unknown secrets backend {backend!r}; expected one of {BACKENDS}")
        self.prefix = prefix.rstrip("/")
        self.backend = backend
        self._client = client or _boto3_client
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def name(self, relative: str) -> str:
        """Return the full secret name: ``relative`` under the prefix, unless it is absolute or an ARN."""
        if relative.startswith(("/", "arn:")) or not self.prefix:
            return relative
        return f"{self.prefix}/{relative}"

    def get(self, relative: str) -> str:
        """Return the secret's text, fetching it on first use only (failures are not cached)."""
        name = self.name(relative)
        with self._lock:
            if name not in self._values:
                self._values[name] = self._fetch(name)
            return self._values[name]

    def fields(self, relative: str) -> dict[str, str]:
        """Return the secret as a mapping: a JSON object as is, any other text as ``{"url": text}``."""
        text = self.get(relative)
        try:
            value = json.loads(text)
        except ValueError:
            return {"url": text.strip()}
        if isinstance(value, dict):
            return {str(key): str(item) for key, item in value.items()}
        return {"url": text.strip()}

    def _fetch(self, name: str) -> str:
        """Read one secret from the backend; a missing secret is a permanent SecretError."""
        try:
            if self.backend == "secretsmanager":
                return _secretsmanager_value(self._client("secretsmanager"), name)
            return _ssm_value(self._client("ssm"), name)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in NOT_FOUND_CODES:
                raise SecretError(f"secret {name!r} not found in {self.backend}") from exc
            raise


def _secretsmanager_value(client: Any, name: str) -> str:
    """Return SecretString (or SecretBinary decoded as UTF-8) of a Secrets Manager secret."""
    response = client.get_secret_value(SecretId=name)
    if "SecretString" in response:
        return str(response["SecretString"])
    return bytes(response["SecretBinary"]).decode("utf-8")


def _ssm_value(client: Any, name: str) -> str:
    """Return the decrypted value of an SSM parameter, refusing anything but a SecureString."""
    parameter = client.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    if parameter.get("Type") != "SecureString":
        raise SecretError(f"SSM parameter {name!r} is a {parameter.get('Type')}, not a SecureString")
    return str(parameter["Value"])


def _boto3_client(service: str) -> Any:
    """Create a boto3 client (only when no client factory is injected)."""
    import boto3

    return boto3.client(service)
