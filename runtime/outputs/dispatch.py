"""Deliver alerts to their outputs: retries with backoff and jitter, a dead-letter queue, and no duplicate sends.

Each (alert id, output) pair is settled once per process: delivered, or dead-lettered after the last retry.
A settled pair is never sent again, so when one output of an alert fails and the batch is retried, the
outputs that already took the alert are skipped. A pair that is neither (no dead-letter queue, the queue
itself failing, or no time left before the Lambda deadline) is ``failed``: the caller must retry its record.
With ``SIGIL_LEDGER_TABLE`` the settled pairs are also kept in DynamoDB, across containers (``runtime.outputs.ledger``).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.logs import emit
from runtime.outputs import OUTPUTS, Output, OutputConfigError
from runtime.outputs import config as config_module
from runtime.outputs.base import AwsClients, Resources
from runtime.outputs.config import OutputsConfig, load_config
from runtime.outputs.deadline import within
from runtime.outputs.dlq import DeadLetterQueue
from runtime.outputs.ledger import MEMORY_SIZE, MEMORY_TTL, DeliveryLedger, ledger_from_env
from runtime.outputs.ledger import TABLE_ENV as LEDGER_TABLE_ENV
from runtime.outputs.ledger import MemoryLedger as Ledger
from runtime.retry import Retrier, RetryError, Waiter, describe
from runtime.secrets import SecretStore

DELIVERED = "delivered"
DEAD_LETTERED = "dead_lettered"
FAILED = "failed"
UNROUTED = "unrouted"
LEDGER_SIZE = MEMORY_SIZE
LEDGER_TTL = MEMORY_TTL


@dataclass(frozen=True)
class OutputReport:
    """Per-output counts of (alert, output) pairs; ``skipped`` were settled by an earlier delivery."""

    delivered: int = 0
    dead_lettered: int = 0
    failed: int = 0
    skipped: int = 0
    retries: int = 0


@dataclass(frozen=True)
class DeliveryReport:
    """Alert ids by outcome (every alert is in exactly one) and counts per output.

    An alert is ``delivered`` when all its outputs took it, ``dead_lettered`` when at least one output
    gave up and the dead letter was written, ``failed`` when some output neither took it nor got it
    dead-lettered: only failed alerts need their records retried.
    """

    delivered: tuple[str, ...] = ()
    dead_lettered: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    outputs: Mapping[str, OutputReport] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Return the counts for a log line."""
        return {
            "delivered": len(self.delivered),
            "dead_lettered": len(self.dead_lettered),
            "failed": len(self.failed),
            "outputs": {name: dataclasses.asdict(report) for name, report in sorted(self.outputs.items())},
        }


@dataclass
class _Tally:
    """Mutable counters for one output during one ``deliver`` call."""

    delivered: int = 0
    dead_lettered: int = 0
    failed: int = 0
    skipped: int = 0
    retries: int = 0

    def count(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)

    def freeze(self) -> OutputReport:
        return OutputReport(**dataclasses.asdict(self))


class Dispatcher:
    """Send alerts to the outputs the configuration routes them to; see ``deliver``."""

    def __init__(
        self,
        config: OutputsConfig,
        resources: Resources,
        *,
        waiter: Waiter | None = None,
        dead_letters: DeadLetterQueue | None = None,
        ledger: DeliveryLedger | None = None,
    ) -> None:
        self.config = config
        self.resources = resources
        self.waiter = waiter or Waiter()
        self.ledger = ledger or Ledger()
        if dead_letters is None and config.dead_letter_queue_url:
            dead_letters = DeadLetterQueue(config.dead_letter_queue_url, resources.aws, resources.now)
        self.dead_letters = dead_letters
        self._outputs: dict[str, Output | str] = {}

    def output(self, name: str) -> Output:
        """Return the output instance for a descriptor (built once); raise OutputConfigError if it cannot be."""
        if name not in self._outputs:
            try:
                self._outputs[name] = self._build(name)
            except OutputConfigError as exc:
                self._outputs[name] = str(exc)
        found = self._outputs[name]
        if isinstance(found, str):
            raise OutputConfigError(found)
        return found

    def _build(self, name: str) -> Output:
        """Instantiate the class of the descriptor's service with its configured settings."""
        if name == UNROUTED:
            raise OutputConfigError(
                "alert has no outputs: its rule names none and no default_outputs are set"
            )
        service, _, descriptor = name.partition(":")
        if service not in OUTPUTS or not descriptor:
            raise OutputConfigError(f"unknown output {name!r}")
        return OUTPUTS[service](descriptor, self.config.outputs.get(name, {}), self.resources)

    def deliver(
        self,
        alerts: Iterable[Mapping[str, Any]],
        remaining: Callable[[], float] | None = None,
        *,
        only: str | None = None,
    ) -> DeliveryReport:
        """Deliver each alert to each of its outputs; ``remaining()`` is the seconds left before the deadline.

        ``only`` replaces the routing: each alert goes to that one output and no other (the redrive of a
        dead letter, ``runtime.outputs.redrive``), with the same retries and dead-lettering.
        """
        waiter = self.waiter.with_remaining(remaining)
        tallies: dict[str, _Tally] = {}
        by_outcome: dict[str, list[str]] = {DELIVERED: [], DEAD_LETTERED: [], FAILED: []}
        for alert in alerts:
            targets = [only] if only else self.config.targets(alert) or [UNROUTED]
            outcomes = {self._settle(alert, t, waiter, tallies.setdefault(t, _Tally())) for t in targets}
            worst = next(o for o in (FAILED, DEAD_LETTERED, DELIVERED) if o in outcomes)
            by_outcome[worst].append(str(alert["alert_id"]))
        return DeliveryReport(
            delivered=tuple(by_outcome[DELIVERED]),
            dead_lettered=tuple(by_outcome[DEAD_LETTERED]),
            failed=tuple(by_outcome[FAILED]),
            outputs={name: tally.freeze() for name, tally in tallies.items()},
        )

    def _settle(self, alert: Mapping[str, Any], target: str, waiter: Waiter, tally: _Tally) -> str:
        """Return the outcome of one pair: from the ledger if already settled, else by trying now."""
        key = (str(alert["alert_id"]), target)
        known = self.ledger.get(key)
        if known is not None:
            tally.skipped += 1
            return known
        outcome = self._attempt(alert, target, waiter, tally)
        tally.count(outcome)
        if outcome != FAILED:
            self.ledger.settle(key, outcome)
        return outcome

    def _attempt(self, alert: Mapping[str, Any], target: str, waiter: Waiter, tally: _Tally) -> str:
        """Send with retries; on giving up, dead-letter. Nothing is attempted inside the deadline reserve."""
        if waiter.out_of_time(0.0, self.config.retry.reserve):
            emit("output_deadline", "warning", output=target, alert_id=alert["alert_id"])
            return FAILED

        def on_retry(error: BaseException, attempt: int, delay: float) -> None:
            tally.retries += 1
            emit(
                "output_retry",
                "warning",
                output=target,
                alert_id=alert["alert_id"],
                attempt=attempt,
                delay=round(delay, 3),
                error=self.resources.secrets.redact(describe(error)),
            )

        def send() -> None:  # the send must end before the reserve kept for its dead letter
            with within(waiter.remaining, self.config.retry.reserve):
                self.output(target).send(alert)

        retrier = Retrier(self.config.retry, waiter, on_retry)
        try:
            retrier.call(send)
        except RetryError as exc:
            return self._dead_letter(alert, target, exc, waiter)
        return DELIVERED

    def _dead_letter(self, alert: Mapping[str, Any], target: str, failure: RetryError, waiter: Waiter) -> str:
        """Write the dead letter (spending the deadline reserve if need be); FAILED if that is impossible."""
        error = self.resources.secrets.redact(describe(failure.error))
        fields = {"output": target, "alert_id": alert["alert_id"], "reason": failure.reason, "error": error}
        if self.dead_letters is None:
            emit("output_failed", "error", attempts=failure.attempts, dead_letter="not configured", **fields)
            return FAILED
        dead_letters = self.dead_letters
        letter = dead_letters.letter(alert, target, error, failure.reason, failure.attempts)
        retrier = Retrier(dataclasses.replace(self.config.retry, reserve=0.0), waiter)

        def send() -> None:  # may spend the reserve, not more
            with within(waiter.remaining):
                dead_letters.send(letter)

        try:
            retrier.call(send)
        except RetryError as exc:
            emit(
                "output_failed",
                "error",
                attempts=failure.attempts,
                dead_letter=self.resources.secrets.redact(describe(exc.error)),
                **fields,
            )
            return FAILED
        emit("output_dead_lettered", "error", attempts=failure.attempts, **fields)
        return DEAD_LETTERED


# Environment that shapes the default dispatcher: in Lambda it never changes, so it is built once per cold
# start; in tests a changed environment (endpoint, topic, config) builds a fresh one instead of a stale one.
ENV_KEYS = (
    config_module.FILE_ENV,
    config_module.OVERRIDE_ENV,
    config_module.DLQ_ENV,
    config_module.TOPIC_ENV,
    config_module.PREFIX_ENV,
    config_module.BACKEND_ENV,
    LEDGER_TABLE_ENV,
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
)


def default_dispatcher() -> Dispatcher:
    """Return the dispatcher configured from the environment, built once per cold start."""
    return _dispatcher_for(tuple(os.environ.get(key) for key in ENV_KEYS))


@functools.lru_cache(maxsize=1)
def _dispatcher_for(_environment: tuple[str | None, ...]) -> Dispatcher:
    """Build the dispatcher from the current environment (the argument only keys the cache)."""
    config = load_config()
    aws = AwsClients()
    secrets = SecretStore(config.secrets_prefix, config.secrets_backend, aws)
    return Dispatcher(config, Resources(aws=aws, secrets=secrets), ledger=ledger_from_env(aws))


def reset_default() -> None:
    """Forget the default dispatcher (its clients, secrets, in-memory ledger), as a new cold start would."""
    _dispatcher_for.cache_clear()


def deliver(
    alerts: Iterable[Mapping[str, Any]], remaining: Callable[[], float] | None = None
) -> DeliveryReport:
    """Deliver alerts with the cold-start dispatcher: the one function the pipeline calls."""
    return default_dispatcher().deliver(alerts, remaining)
