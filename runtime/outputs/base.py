"""The shared shape of every output: a class built from (descriptor, settings, resources) with ``send(alert)``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from runtime.alerts import to_ocsf
from runtime.outputs.deadline import seconds_left
from runtime.outputs.http import HttpClient
from runtime.retry import DeliveryError
from runtime.secrets import SecretStore

FORMATS = ("alert", "ocsf")


class OutputConfigError(DeliveryError):
    """An output that is not configured, or configured wrongly: retrying will not help."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


# (connect, read) timeouts of the AWS clients, longest first. botocore's timeouts bound each socket operation
# and its own retries are off, so one call takes about connect + read at worst: each call is made with the
# longest pair that fits the time its send has left (``runtime.outputs.deadline``), and none is started when
# not even the last pair fits.
AWS_TIMEOUTS = ((3.0, 10.0), (1.0, 4.0), (0.5, 1.5), (0.25, 0.5))


class AwsClients:
    """boto3 clients created once per service (and timeout pair) and process; retries are left to ``runtime.retry``.

    An injected ``factory(service)`` (tests, the redrive tool) is used as is, with its own timeouts.
    """

    def __init__(self, factory: Callable[[str], Any] | None = None) -> None:
        self._factory = factory
        self._clients: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, service: str) -> Any:
        """Return the client for ``service`` whose timeouts fit the current send, creating it on first use."""
        tier = 0 if self._factory is not None else _fitting_timeouts(service)
        with self._lock:
            if (service, tier) not in self._clients:
                self._clients[service, tier] = (
                    self._factory(service) if self._factory else _boto3_client(service, *AWS_TIMEOUTS[tier])
                )
            return self._clients[service, tier]


def _fitting_timeouts(service: str) -> int:
    """Return the index of the longest timeout pair that fits the send's time left; raise if none does."""
    left = seconds_left(float("inf"))
    for index, (connect, read) in enumerate(AWS_TIMEOUTS):
        if connect + read <= left:
            return index
    raise DeliveryError(f"no time left for a call to {service} ({max(left, 0):.2f} s)", retryable=True)


def _boto3_client(service: str, connect: float, read: float) -> Any:
    """A boto3 client with botocore's own retries off (one attempt) and the given timeouts.

    Each call first checks that the send still has ``connect + read`` seconds, so that a send of several
    calls (the parts of a split alert) cannot outlast its deadline either.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=connect, read_timeout=read
    )
    client = boto3.client(service, config=config)

    def check_time(**_: Any) -> None:
        left = seconds_left(float("inf"))
        if left < connect + read:
            raise DeliveryError(
                f"no time left for a call to {service} ({max(left, 0):.2f} s)", retryable=True
            )

    client.meta.events.register("before-call", check_time)
    return client


@dataclass(frozen=True)
class Resources:
    """What outputs use to reach the world, injected so that tests can substitute any part of it."""

    aws: Callable[[str], Any]
    secrets: SecretStore
    http: HttpClient = field(default_factory=HttpClient)
    now: Callable[[], float] = time.time


class Output:
    """One configured destination such as ``slack:secops``; subclasses set ``service`` and implement ``send``.

    ``send`` raises on failure (``runtime.retry.classify`` decides whether to retry) and must be safe to
    call again for the same alert after a failure: it never re-sends what already went out.
    """

    service: ClassVar[str] = ""
    required: ClassVar[frozenset[str]] = frozenset()
    optional: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, descriptor: str, settings: Mapping[str, Any], resources: Resources) -> None:
        self.check_settings(settings)
        self.descriptor = descriptor
        self.settings = dict(settings)
        self.resources = resources

    @property
    def name(self) -> str:
        """The output's descriptor as written in rules, e.g. ``slack:secops``."""
        return f"{self.service}:{self.descriptor}"

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> None:
        """Raise OutputConfigError for missing or unknown settings (secrets are never settings)."""
        missing = sorted(cls.required - settings.keys())
        unknown = sorted(settings.keys() - cls.required - cls.optional)
        if missing or unknown:
            raise OutputConfigError(f"{cls.service}: missing settings {missing}, unknown settings {unknown}")
        if settings.get("format", "alert") not in FORMATS:
            raise OutputConfigError(f"{cls.service}: format must be one of {FORMATS}")

    def send(self, alert: Mapping[str, Any]) -> None:
        """Deliver one alert; raise on failure."""
        raise NotImplementedError

    def secret(self) -> dict[str, str]:
        """Return this output's secret fields (``secret`` setting, default ``service/descriptor``)."""
        return self.resources.secrets.fields(
            str(self.settings.get("secret") or f"{self.service}/{self.descriptor}")
        )

    def secret_field(self, fields: Mapping[str, str], key: str) -> str:
        """Return one required field of the secret, or raise OutputConfigError naming the field only."""
        value = fields.get(key)
        if not value:
            raise OutputConfigError(f"{self.name}: secret has no {key!r} field")
        return value

    def document(self, alert: Mapping[str, Any]) -> Mapping[str, Any]:
        """Return what to send: the alert itself, or its OCSF Detection Finding when ``format`` is ocsf."""
        if self.settings.get("format") == "ocsf":
            return to_ocsf(alert, time_ms=int(self.resources.now() * 1000))
        return alert
