"""Retry a call with exponential backoff and full jitter, on transient failures only, within a deadline."""

from __future__ import annotations

import http.client
import random
import ssl
import time
import urllib.error
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from botocore.exceptions import (
    BotoCoreError,
    CapacityNotAvailableError,
    ChecksumError,
    ClientError,
    CredentialRetrievalError,
    HTTPClientError,
    IncompleteReadError,
    MetadataRetrievalError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "KMSThrottlingException",
        "SlowDown",
        "EC2ThrottledException",
        "PriorRequestNotComplete",
    }
)
SERVER_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "Unavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
RETRYABLE_STATUSES = frozenset({408, 425, 429})
# botocore's own failures worth another attempt: the network, a transfer cut short, credentials not fetched
# in time; every other BotoCoreError is configuration or validation and will fail again
TRANSIENT_BOTOCORE = (
    BotoConnectionError,
    HTTPClientError,
    IncompleteReadError,
    ChecksumError,
    CredentialRetrievalError,
    MetadataRetrievalError,
    CapacityNotAvailableError,
)
# http.client errors that say the client was misused or the URL is malformed rather than the network failed
PERMANENT_HTTP = (http.client.InvalidURL, http.client.ImproperConnectionState)


class DeliveryError(Exception):
    """An error that says whether retrying may help and, optionally, how long the server asked to wait."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True)
class Verdict:
    """Whether an error is worth retrying, and the server's requested wait if it gave one."""

    retryable: bool
    retry_after: float | None = None


def classify(exc: BaseException) -> Verdict:
    """Say whether ``exc``, raised by a send, is worth retrying (see docs/outputs.md, *Retries*).

    Transient: throttling and 5xx answers, 408/425/429, the network (refused, reset, closed without an
    answer, an answer cut short or malformed, timeouts, DNS, TLS other than a refused certificate) and
    botocore's connection errors. Permanent: other 4xx, a refused certificate, a malformed URL or header,
    botocore's configuration and validation errors, and programming errors.
    """
    if isinstance(exc, DeliveryError):
        return Verdict(exc.retryable, exc.retry_after)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        code = str(error.get("Code", ""))
        return Verdict(code in THROTTLING_CODES or code in SERVER_CODES or status >= 500 or status == 429)
    if isinstance(exc, BotoCoreError):
        return Verdict(isinstance(exc, TRANSIENT_BOTOCORE))
    if isinstance(exc, urllib.error.HTTPError):
        return Verdict(exc.code in RETRYABLE_STATUSES or exc.code >= 500)
    if isinstance(exc, urllib.error.URLError):  # its reason: a network error, or text (no host, bad scheme)
        return classify(exc.reason) if isinstance(exc.reason, BaseException) else Verdict(False)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Verdict(False)
    if isinstance(exc, http.client.HTTPException):
        return Verdict(not isinstance(exc, PERMANENT_HTTP))
    return Verdict(isinstance(exc, OSError))  # timeouts, connection errors, DNS, TLS: all OSError


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry: full-jitter backoff, capped, and a reserve kept before the deadline."""

    max_attempts: int = 5
    base_delay: float = 0.2
    max_delay: float = 5.0
    max_retry_after: float = 30.0
    reserve: float = 2.0

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        """Return a delay drawn uniformly from [0, min(max_delay, base_delay * 2**(attempt-1))]."""
        return rng() * min(self.max_delay, self.base_delay * 2 ** (attempt - 1))

    def delay(self, attempt: int, verdict: Verdict, rng: Callable[[], float]) -> float | None:
        """Return the wait before the next attempt, or None when the server asks for longer than allowed."""
        if verdict.retry_after is None:
            return self.backoff(attempt, rng)
        if verdict.retry_after > self.max_retry_after:
            return None
        return max(verdict.retry_after, self.backoff(attempt, rng))


@dataclass(frozen=True)
class Waiter:
    """The injectable side of retrying: how to sleep, draw jitter and read the time left before the deadline."""

    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random
    remaining: Callable[[], float] | None = None

    def with_remaining(self, remaining: Callable[[], float] | None) -> Waiter:
        """Return a copy bounded by ``remaining`` (seconds left), or self when it is None."""
        if remaining is None:
            return self
        return Waiter(self.sleep, self.random, remaining)

    def out_of_time(self, delay: float, reserve: float) -> bool:
        """True if waiting ``delay`` would eat into the ``reserve`` kept before the deadline."""
        return self.remaining is not None and self.remaining() - delay < reserve


@dataclass(frozen=True)
class Success(Generic[T]):
    """The value a call returned and the number of attempts it took."""

    value: T
    attempts: int


class RetryError(Exception):
    """The call failed for good: ``reason`` is permanent, attempts, retry-after or deadline."""

    def __init__(self, error: BaseException, attempts: int, reason: str) -> None:
        super().__init__(f"{reason} after {attempts} attempt(s): {describe(error)}")
        self.error = error
        self.attempts = attempts
        self.reason = reason


@dataclass(frozen=True)
class Retrier:
    """Run calls under a policy with a waiter; ``on_retry(error, attempt, delay)`` observes each retry."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    waiter: Waiter = field(default_factory=Waiter)
    on_retry: Callable[[BaseException, int, float], None] | None = None

    def call(self, fn: Callable[[], T]) -> Success[T]:
        """Call ``fn`` until it succeeds; raise RetryError when retrying is pointless or out of budget."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return Success(fn(), attempt)
            except Exception as exc:
                delay = self._next_delay(exc, attempt)
                if self.on_retry is not None:
                    self.on_retry(exc, attempt, delay)
                self.waiter.sleep(delay)

    def _next_delay(self, exc: Exception, attempt: int) -> float:
        """Return the wait before retrying ``exc``, or raise RetryError if it must not be retried."""
        verdict = classify(exc)
        if not verdict.retryable:
            raise RetryError(exc, attempt, "permanent") from exc
        if attempt >= self.policy.max_attempts:
            raise RetryError(exc, attempt, "attempts") from exc
        delay = self.policy.delay(attempt, verdict, self.waiter.random)
        if delay is None:
            raise RetryError(exc, attempt, "retry-after") from exc
        if self.waiter.out_of_time(delay, self.policy.reserve):
            raise RetryError(exc, attempt, "deadline") from exc
        return delay


def describe(error: BaseException) -> str:
    """Return ``Type: message`` for logs and dead letters."""
    return f"{type(error).__name__}: {error}"
