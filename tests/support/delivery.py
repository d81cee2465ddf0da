"""Helpers for the output tests: alerts, dispatchers wired to the moto server, queue readers, client wrappers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from moto_process import client

from runtime.alerts import build_alert
from runtime.outputs.base import AwsClients, Resources
from runtime.outputs.config import parse_config
from runtime.outputs.dispatch import Dispatcher, Ledger
from runtime.retry import Waiter
from runtime.secrets import SecretStore

FIXED_NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z
RECORD = {
    "eventName": "ConsoleLogin",
    "eventSource": "signin.amazonaws.com",
    "userIdentity": {"type": "IAMUser", "userName": "alice"},
    "sourceIPAddress": "198.51.100.7",
    "additionalEventData": {"MFAUsed": "No"},
}


def unique(prefix: str) -> str:
    """Return a resource name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sample_alert(record: Mapping[str, Any] | None = None, level: str = "high", **rule: Any) -> dict[str, Any]:
    """Return an alert built the way the pipeline builds it."""
    metadata = {"title": "Console login by {userIdentity.userName}", "level": level, **rule}
    return build_alert(
        "rule-1", metadata, "cloudtrail", "arn:aws:kinesis:us-east-1:1:stream/s", record or RECORD
    )


def big_record(size: int) -> dict[str, Any]:
    """Return a record whose JSON is about ``size`` bytes, with quotes and backslashes to escape."""
    return {**RECORD, "blob": ('x"y\\z' * (size // 5 + 1))[:size]}


@dataclass
class Sleeps:
    """An injectable sleep that records the delays instead of waiting."""

    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def aws_factory(endpoint: str) -> Callable[[str], Any]:
    """Return a client factory bound to the moto server."""
    return lambda service: client(service, endpoint)


def clients_with(endpoint: str, overrides: Mapping[str, Any]) -> Callable[[str], Any]:
    """Return a client factory for the moto server that hands out ``overrides[service]`` where given."""
    return lambda service: overrides[service] if service in overrides else client(service, endpoint)


def dispatcher(
    endpoint: str,
    outputs: Mapping[str, Mapping[str, Any]],
    *,
    clients: Callable[[str], Any] | None = None,
    dlq_url: str | None = None,
    secrets_prefix: str = "/sigil/test",
    secrets_backend: str = "secretsmanager",
    default_outputs: tuple[str, ...] = (),
    max_attempts: int = 3,
    remaining: Callable[[], float] | None = None,
    now: Callable[[], float] = lambda: FIXED_NOW,
    ledger: Ledger | None = None,
) -> tuple[Dispatcher, Sleeps]:
    """Return a dispatcher for ``outputs`` against the moto server, and the sleeps it records."""
    config = parse_config(
        {
            "outputs": dict(outputs),
            "default_outputs": list(default_outputs),
            "dead_letter": {"queue_url": dlq_url} if dlq_url else {},
            "secrets": {"prefix": secrets_prefix, "backend": secrets_backend},
            "retry": {"max_attempts": max_attempts, "base_delay": 0.01, "max_delay": 0.05},
        }
    )
    aws = AwsClients(clients or aws_factory(endpoint))
    resources = Resources(aws=aws, secrets=SecretStore(secrets_prefix, secrets_backend, aws), now=now)
    sleeps = Sleeps()
    waiter = Waiter(sleep=sleeps, random=lambda: 0.5, remaining=remaining)
    return Dispatcher(config, resources, waiter=waiter, ledger=ledger), sleeps


def create_queue(endpoint: str, name: str | None = None) -> str:
    """Create an SQS queue and return its URL."""
    return client("sqs", endpoint).create_queue(QueueName=name or unique("sigil-q"))["QueueUrl"]


@dataclass(frozen=True)
class Message:
    """One SQS message as read back: body and string attributes."""

    body: str
    attributes: Mapping[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def drain(endpoint: str, queue_url: str) -> list[Message]:
    """Read and delete every message of a queue."""
    sqs = client("sqs", endpoint)
    messages: list[Message] = []
    while True:
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        )
        batch = response.get("Messages", [])
        if not batch:
            return messages
        for item in batch:
            attributes = {k: v["StringValue"] for k, v in item.get("MessageAttributes", {}).items()}
            messages.append(Message(item["Body"], attributes))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=item["ReceiptHandle"])


def put_secret(endpoint: str, backend: str, name: str, value: str) -> None:
    """Store a secret in Secrets Manager or as an SSM SecureString."""
    if backend == "secretsmanager":
        client("secretsmanager", endpoint).create_secret(Name=name, SecretString=value)
    else:
        client("ssm", endpoint).put_parameter(Name=name, Value=value, Type="SecureString")


class Counting:
    """Wrap a client and count calls per method name."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._inner, name)
        if not callable(method):
            return method

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return method(*args, **kwargs)

        return counted


class Throttled(Counting):
    """Wrap a real client; after ``after`` good calls, answer ``times`` calls of ``method`` with a Throttling error."""

    def __init__(self, inner: Any, method: str, times: int, after: int = 0, code: str = "Throttling") -> None:
        super().__init__(inner)
        self._method, self._left, self._pass, self._code = method, times, after, code

    def __getattr__(self, name: str) -> Any:
        call = super().__getattr__(name)
        if name != self._method:
            return call

        def throttled(*args: Any, **kwargs: Any) -> Any:
            if self._pass > 0:
                self._pass -= 1
            elif self._left > 0:
                self._left -= 1
                self.calls[name] = self.calls.get(name, 0) + 1
                error = {
                    "Error": {"Code": self._code, "Message": "Rate exceeded"},
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                }
                raise ClientError(error, name)  # type: ignore[arg-type]
            return call(*args, **kwargs)

        return throttled
