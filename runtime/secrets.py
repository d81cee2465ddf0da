"""Output secrets (webhook URLs, keys) from Secrets Manager or SSM SecureString, fetched once per cold start.

Only the *name* of a secret comes from configuration (``SIGIL_SECRETS_PREFIX`` + ``service/descriptor``);
the value is always read from the secret store, never from code or environment text. ``SecretStore.redact``
removes every value it has handed out from a text (an error message about to be logged or dead-lettered).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError

from runtime.retry import DeliveryError

BACKENDS = ("secretsmanager", "ssm")
NOT_FOUND_CODES = frozenset({"ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"})
REDACTED = "<redacted>"
MIN_SECRET_CHARS = 6  # shorter field values (a region, a flag) are not secrets and would redact noise
MIN_SECRET_PART = 8  # path segments and query values at least this long are taken for secrets


def url_secret_parts(url: str) -> list[str]:
    """Return the parts of a URL that may be secret: path, query, userinfo, long path segments and values.

    Each is given as written and percent-decoded, since a server may echo either.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return [url]
    found = [parts.path if parts.path not in ("", "/") else "", parts.query, parts.netloc.rpartition("@")[0]]
    found += [s for s in parts.path.split("/") if len(s) >= MIN_SECRET_PART]
    found += [v for _, v in urllib.parse.parse_qsl(parts.query) if len(v) >= MIN_SECRET_PART]
    found = [p for p in found if p]
    return found + [urllib.parse.unquote(p) for p in found]


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` (longest first) with ``<redacted>``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


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

    def redact(self, text: str) -> str:
        """Return ``text`` without any secret this store has read: each field value of 6 characters or more,
        and of a URL its secret parts only (``url_secret_parts``), so that errors still name its origin."""
        with self._lock:
            values = list(self._values.values())
        hidden: list[str] = []
        for item in (item for value in values for item in _field_values(value)):
            if _is_url(item):
                hidden += url_secret_parts(item)
            elif len(item) >= MIN_SECRET_CHARS:
                hidden.append(item)
        return redact(text, hidden)

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


def _is_url(text: str) -> bool:
    """True for an absolute URL (``scheme://host...``)."""
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        return False
    return bool(parts.scheme and parts.netloc)


def _field_values(text: str) -> list[str]:
    """Return the values of a secret's fields (a JSON object's values, else the whole text)."""
    try:
        value = json.loads(text)
    except ValueError:
        return [text.strip()]
    if isinstance(value, dict):
        return [str(item) for item in value.values()]
    return [text.strip()]


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
