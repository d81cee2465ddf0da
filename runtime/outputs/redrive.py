"""Redrive the dead-letter queue: send each letter's alert to the output that gave up on it, once more.

``redrive`` receives the queue's messages (long poll, batches of 10, hidden from other readers for
``VISIBILITY_TIMEOUT`` seconds while it works), joins split letters, and for each letter calls
``Dispatcher.deliver([letter["alert"]], only=letter["output"])``: the retries, secrets and dead-lettering of
the Lambda, with that one output as the only target. Per letter:

- ``delivered``: the output took the alert; the letter's message(s) are deleted.
- ``dead_lettered``: the output failed again; the dispatcher wrote a new letter (new error, reason and
  attempts) to the same queue, then the old message(s) are deleted, so the queue never holds both.
- ``left``: the letter stays in the queue, visible again at once: its output is unknown to the
  configuration, it is incomplete (a part is missing) or unreadable, or it could be neither delivered nor
  written again.
- ``would_redrive``: a dry run only lists the letter.

The old message is deleted only after the alert was delivered or the new letter was written: a failure at
any point leaves a duplicate at worst, never a lost alert. A letter written again during a run is not
redriven again in that run. The dispatcher gets a fresh in-memory ledger: the DynamoDB ledger records the
pair as dead-lettered, which would make the dispatcher skip it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from runtime.outputs import OutputConfigError
from runtime.outputs.base import AwsClients, Resources
from runtime.outputs.config import OutputsConfig
from runtime.outputs.dispatch import DEAD_LETTERED, DELIVERED, Dispatcher
from runtime.outputs.dlq import DeadLetterQueue
from runtime.outputs.ledger import MemoryLedger
from runtime.outputs.parts import join, part_info
from runtime.retry import Retrier, RetryError, Waiter, describe
from runtime.secrets import SecretStore

WAIT_SECONDS = 5
VISIBILITY_TIMEOUT = 900  # a batch of 10 letters, each with its retries, well within it
BATCH_SIZE = 10
LEFT = "left"
WOULD_REDRIVE = "would_redrive"
QUEUE_REGION = re.compile(r"^https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com", re.IGNORECASE)


class QueueError(Exception):
    """The dead-letter queue itself cannot be read or written (missing, unreachable, no permission)."""


@dataclass(frozen=True)
class LetterResult:
    """What happened to one letter: ``outcome`` and, unless delivered cleanly, why."""

    alert_id: str | None
    output: str | None
    outcome: str
    reason: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    removed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The JSON line printed for this letter."""
        line: dict[str, Any] = {"alert_id": self.alert_id, "output": self.output, "outcome": self.outcome}
        if self.reason is not None:
            line["reason"] = self.reason
        line.update(self.details)
        return line


@dataclass
class RedriveReport:
    """Every letter's result, plus the messages that could not be made visible again."""

    results: list[LetterResult] = field(default_factory=list)
    dry_run: bool = False
    not_released: int = 0

    def count(self, outcome: str) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def clean(self) -> bool:
        """True when every letter was delivered and removed from the queue (or this was a dry run)."""
        if self.dry_run:
            return True
        return all(result.outcome == DELIVERED and result.removed for result in self.results)

    def summary(self) -> str:
        """``12 letters: 10 delivered, 1 dead-lettered again, 1 left in the queue``."""
        total = len(self.results)
        head = f"{total} letter{'' if total == 1 else 's'}"
        if self.dry_run:
            parts = [
                f"{self.count(WOULD_REDRIVE)} would be redriven",
                f"{self.count(LEFT)} left in the queue",
            ]
            return f"{head} (dry run): " + ", ".join(parts)
        parts = [
            f"{self.count(DELIVERED)} delivered",
            f"{self.count(DEAD_LETTERED)} dead-lettered again",
            f"{self.count(LEFT)} left in the queue",
        ]
        stuck = sum(1 for r in self.results if r.outcome in (DELIVERED, DEAD_LETTERED) and not r.removed)
        if stuck:
            parts.append(f"{stuck} old message(s) not deleted (the queue holds a duplicate)")
        if self.not_released:
            parts.append(
                f"{self.not_released} message(s) not made visible again (they reappear after "
                f"{VISIBILITY_TIMEOUT}s)"
            )
        return f"{head}: " + ", ".join(parts)


class RecordingDeadLetterQueue(DeadLetterQueue):
    """A dead-letter queue that remembers the last letter it built, to report why a redrive failed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last: dict[str, Any] | None = None

    def letter(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.last = super().letter(*args, **kwargs)
        return self.last


def queue_client(queue_url: str, wait_seconds: int = WAIT_SECONDS) -> Any:
    """An SQS client for the queue's region (read from its URL when it is an AWS one), botocore retries off."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=3,
        read_timeout=wait_seconds + 10,
    )
    match = QUEUE_REGION.match(queue_url)
    region = {"region_name": match.group(1)} if match else {}
    try:
        return boto3.client("sqs", config=config, **region)
    except NoRegionError:
        raise QueueError(f"no AWS region for {queue_url}: set AWS_REGION, or give the queue's https://sqs.<region>.amazonaws.com/... URL") from None
    except BotoCoreError as exc:
        raise QueueError(describe(exc)) from exc


def redrive_dispatcher(
    config: OutputsConfig, queue_url: str, sqs: Any, aws: Callable[[str], Any] | None = None
) -> Dispatcher:
    """The Lambda's dispatcher for ``config``, but re-parking into ``queue_url`` with a fresh in-memory ledger."""
    clients = aws or AwsClients()
    secrets = SecretStore(config.secrets_prefix, config.secrets_backend, clients)
    resources = Resources(aws=clients, secrets=secrets)
    dead_letters = RecordingDeadLetterQueue(queue_url, lambda _service: sqs, resources.now)
    return Dispatcher(config, resources, dead_letters=dead_letters, ledger=MemoryLedger())


@dataclass
class _Message:
    message_id: str
    receipt: str
    body: str


class _Redrive:
    """One run over the queue; every received message is held (invisible) until deleted or released."""

    def __init__(
        self,
        queue_url: str,
        dispatcher: Dispatcher,
        sqs: Any,
        *,
        output: str | None,
        max_letters: int | None,
        dry_run: bool,
        wait_seconds: int,
        visibility_timeout: int,
        on_result: Callable[[LetterResult], None] | None,
        retrier: Retrier,
    ) -> None:
        self.queue_url, self.dispatcher, self.sqs = queue_url, dispatcher, sqs
        self.output, self.max_letters, self.dry_run = output, max_letters, dry_run
        self.wait_seconds, self.visibility_timeout = wait_seconds, visibility_timeout
        self.on_result, self.retrier = on_result, retrier
        self.report = RedriveReport(dry_run=dry_run)
        self.held: dict[str, _Message] = {}
        self.parts: dict[tuple[str, str], dict[int, _Message]] = {}
        self.part_counts: dict[tuple[str, str], int] = {}
        self.delivered: set[tuple[str, str]] = set()
        self.reparked: set[tuple[str, str]] = set()

    def run(self) -> RedriveReport:
        try:
            while not self._full():
                batch = self._receive()
                if not batch:
                    break
                for message in batch:
                    if message.message_id in self.held:  # seen before: its visibility ran out
                        self.held[message.message_id].receipt = message.receipt
                        continue
                    self.held[message.message_id] = message
                    if not self._full():
                        self._take(message)
            for key, parts in self.parts.items():
                alert_id, _, output = key[0].partition("|")
                if self._full() or not self._wanted(output):
                    continue
                self._result(
                    alert_id,
                    output,
                    LEFT,
                    f"incomplete letter: received parts {sorted(parts)} of {self.part_counts[key]}",
                )
        finally:
            self._release()
        return self.report

    def _full(self) -> bool:
        return self.max_letters is not None and len(self.report.results) >= self.max_letters

    def _wanted(self, output: str | None) -> bool:
        """True unless ``--output`` names another output (a message that is no letter is nobody's then)."""
        return self.output is None or output == self.output

    def _take(self, message: _Message) -> None:
        """Handle a whole letter at once; collect a part until its letter is complete."""
        try:
            document = json.loads(message.body)
        except ValueError as exc:
            if self._wanted(None):
                self._result(None, None, LEFT, f"not a dead letter: {exc}")
            return
        info = part_info(document) if isinstance(document, Mapping) else None
        if info is None:
            self._letter(document, [message])
            return
        key = (str(info.get("id")), str(info.get("sha256")))  # two letters of one pair share the id
        try:
            index, count = int(info["index"]), int(info["count"])
        except (KeyError, TypeError, ValueError) as exc:
            if self._wanted(key[0].partition("|")[2]):
                self._result(None, None, LEFT, f"not a dead letter: bad part header: {exc!r}")
            return
        group = self.parts.setdefault(key, {})
        group[index] = message
        self.part_counts[key] = count
        if len(group) >= self.part_counts[key]:
            del self.parts[key]
            messages = [group[index] for index in sorted(group)]
            try:
                [letter] = join(m.body for m in messages)
            except (ValueError, KeyError, TypeError) as exc:
                alert_id, _, output = key[0].partition("|")
                if self._wanted(output):
                    self._result(alert_id, output, LEFT, f"unreadable letter: {exc}")
                return
            self._letter(letter, messages)

    def _letter(self, letter: Any, messages: Sequence[_Message]) -> None:
        """Redrive (or list) one whole letter."""
        alert = letter.get("alert") if isinstance(letter, Mapping) else None
        output = letter.get("output") if isinstance(letter, Mapping) else None
        if not isinstance(alert, Mapping) or not isinstance(output, str) or "alert_id" not in alert:
            if self._wanted(output if isinstance(output, str) else None):
                self._result(None, None, LEFT, "not a dead letter: no output or no alert with an alert_id")
            return
        alert_id = str(alert["alert_id"])
        if not self._wanted(output):
            return  # not ours: released at the end, untouched
        pair = (alert_id, output)
        if pair in self.reparked:
            return  # the letter this run wrote (or a copy of the one it replaced): next run's business
        if pair in self.delivered:
            removed = self._delete(messages)
            self._result(
                alert_id, output, DELIVERED, "duplicate of a letter delivered in this run", removed=removed
            )
            return
        try:
            self.dispatcher.output(output)
        except OutputConfigError as exc:
            self._result(alert_id, output, LEFT, f"not in the outputs configuration: {exc}")
            return
        if self.dry_run:
            details = {k: letter.get(k) for k in ("error", "attempts", "dead_lettered_at")}
            self._result(alert_id, output, WOULD_REDRIVE, letter.get("reason"), details=details)
            return
        self._redrive(alert, output, pair, messages)

    def _redrive(
        self, alert: Mapping[str, Any], output: str, pair: tuple[str, str], messages: Sequence[_Message]
    ) -> None:
        queue = self.dispatcher.dead_letters
        if isinstance(queue, RecordingDeadLetterQueue):
            queue.last = None
        try:
            report = self.dispatcher.deliver([alert], only=output)
        except Exception as exc:  # the dispatcher settles every error itself; this is a last resort
            self._result(pair[0], output, LEFT, f"redrive failed: {describe(exc)}")
            return
        written = queue.last if isinstance(queue, RecordingDeadLetterQueue) else None
        if pair[0] in report.delivered:
            self.delivered.add(pair)
            removed = self._delete(messages)
            self._result(
                pair[0], output, DELIVERED, None if removed else self._not_deleted(), removed=removed
            )
        elif pair[0] in report.dead_lettered:
            self.reparked.add(pair)
            removed = self._delete(messages)
            details = {k: written.get(k) for k in ("error", "attempts")} if written else {}
            reason = written.get("reason") if written else None
            if not removed:
                reason = f"{reason}; {self._not_deleted()}"
            self._result(pair[0], output, DEAD_LETTERED, reason, details=details, removed=removed)
        else:
            error = f" ({written['error']})" if written else ""
            self._result(
                pair[0], output, LEFT, f"not delivered{error} and the new letter could not be written"
            )

    def _not_deleted(self) -> str:
        return "the old message could not be deleted: the queue holds a duplicate"

    def _result(
        self,
        alert_id: str | None,
        output: str | None,
        outcome: str,
        reason: str | None,
        *,
        details: Mapping[str, Any] | None = None,
        removed: bool = False,
    ) -> None:
        result = LetterResult(alert_id, output, outcome, reason, dict(details or {}), removed)
        self.report.results.append(result)
        if self.on_result is not None:
            self.on_result(result)

    # --- the queue -------------------------------------------------------------------------------------

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return self.retrier.call(fn).value
        except RetryError as exc:
            raise QueueError(f"cannot {what} {self.queue_url}: {describe(exc.error)}") from exc

    def _receive(self) -> list[_Message]:
        response = self._call(
            "receive from",
            lambda: self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=BATCH_SIZE,
                WaitTimeSeconds=self.wait_seconds,
                VisibilityTimeout=self.visibility_timeout,
            ),
        )
        return [_Message(m["MessageId"], m["ReceiptHandle"], m["Body"]) for m in response.get("Messages", [])]

    def _delete(self, messages: Sequence[_Message]) -> bool:
        """Delete the messages of a settled letter; False if any could not be deleted (it stays held)."""
        ok = True
        for chunk in _chunks(messages):
            entries = [{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(chunk)]

            def delete(entries: list[dict[str, str]] = entries) -> Any:
                return self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)

            try:
                response = self._call("delete from", delete)
            except QueueError:
                ok = False
                continue
            failed = {entry["Id"] for entry in response.get("Failed", [])}
            for i, message in enumerate(chunk):
                if str(i) in failed:
                    ok = False
                else:
                    self.held.pop(message.message_id, None)
        return ok

    def _release(self) -> None:
        """Make every message still held visible again now, rather than after the visibility timeout."""
        for chunk in _chunks(list(self.held.values())):
            entries = [
                {"Id": str(i), "ReceiptHandle": m.receipt, "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)
            ]
            try:
                response = self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
            except (BotoCoreError, ClientError):
                self.report.not_released += len(chunk)
                continue
            self.report.not_released += len(response.get("Failed", []))
        self.held.clear()


def _chunks(messages: Sequence[_Message]) -> Iterator[Sequence[_Message]]:
    for start in range(0, len(messages), BATCH_SIZE):
        yield messages[start : start + BATCH_SIZE]


def redrive(
    queue_url: str,
    dispatcher: Dispatcher,
    sqs: Any,
    *,
    output: str | None = None,
    max_letters: int | None = None,
    dry_run: bool = False,
    wait_seconds: int = WAIT_SECONDS,
    visibility_timeout: int = VISIBILITY_TIMEOUT,
    on_result: Callable[[LetterResult], None] | None = None,
    retrier: Retrier | None = None,
) -> RedriveReport:
    """Drain ``queue_url`` through ``dispatcher`` (see the module docstring); ``on_result`` sees each letter.

    ``output`` keeps only the letters for that (normalized) output, ``max_letters`` stops after that many
    letters; raise QueueError if the queue cannot be read (messages held so far are made visible again).
    """
    run = _Redrive(
        queue_url,
        dispatcher,
        sqs,
        output=output,
        max_letters=max_letters,
        dry_run=dry_run,
        wait_seconds=wait_seconds,
        visibility_timeout=visibility_timeout,
        on_result=on_result,
        retrier=retrier or Retrier(dispatcher.config.retry, Waiter()),
    )
    return run.run()
