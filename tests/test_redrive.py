"""`sigil redrive` against the moto server: dead letters sent again to outputs that work now (read back at the
target), re-parked when they still fail, split letters joined, filters, dry run, and the command's contract."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto_process import client
from support.delivery import (
    FIXED_NOW,
    aws_factory,
    big_record,
    create_queue,
    drain,
    put_secret,
    sample_alert,
    unique,
)
from support.http_servers import Reply, ScriptedServer

from cli import main as cli
from runtime.alerts import canonical_json
from runtime.outputs.config import parse_config
from runtime.outputs.dlq import DeadLetterQueue, read_dead_letters
from runtime.outputs.ledger import DynamoLedger
from runtime.outputs.parts import join
from runtime.outputs.redrive import QueueError, queue_client, redrive, redrive_dispatcher
from runtime.outputs.webhook import SIGNATURE_HEADER, verify

HMAC_KEY = "k3y"
FAST_RETRY = {"max_attempts": 2, "base_delay": 0.001, "max_delay": 0.002}
OLD_STAMP = "2023-11-14T22:13:20Z"  # FIXED_NOW, when the letters of these tests were first written
ENV_TO_CLEAR = (
    "SIGIL_OUTPUTS_FILE",
    "SIGIL_OUTPUTS_OVERRIDE",
    "SIGIL_DLQ_URL",
    "SIGIL_ALERTS_TOPIC_ARN",
    "SIGIL_SECRETS_PREFIX",
    "SIGIL_SECRETS_BACKEND",
    "SIGIL_LEDGER_TABLE",
)


@pytest.fixture
def env(aws_env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The moto endpoint, with no SIGIL_* variable of the caller's shell leaking into the configuration."""
    for name in ENV_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    return aws_env


@pytest.fixture
def dlq(env: str) -> str:
    """A fresh dead-letter queue."""
    return create_queue(env, unique("sigil-dlq"))


@pytest.fixture
def prefix(env: str) -> str:
    """A secrets prefix of this test's own."""
    return "/" + unique("sigil-redrive")


@pytest.fixture
def hook() -> Iterator[ScriptedServer]:
    """A webhook receiver answering 200 unless scripted otherwise."""
    with ScriptedServer() as server:
        yield server


def park(endpoint: str, dlq: str, alert: dict[str, Any], output: str, attempts: int = 5) -> None:
    """Write the dead letter the Lambda writes when ``output`` gave up on ``alert``."""
    queue = DeadLetterQueue(dlq, aws_factory(endpoint), lambda: FIXED_NOW)
    letter = queue.letter(alert, output, "HttpStatusError: HTTP 503 from receiver", "attempts", attempts)
    queue.send(letter)


def letters_in(endpoint: str, dlq: str) -> list[dict[str, Any]]:
    """Read (and delete) every letter of the queue, parts joined."""
    return read_dead_letters(m.body for m in drain(endpoint, dlq))


def message_count(endpoint: str, queue_url: str) -> int:
    """Messages in the queue, visible or not (moto counts exactly)."""
    attributes = client("sqs", endpoint).get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def outputs_file(tmp_path: Path, prefix: str, outputs: dict[str, Any] | None = None) -> Path:
    """An outputs.json with fast retries and the given output settings."""
    path = tmp_path / "outputs.json"
    document = {"outputs": outputs or {}, "secrets": {"prefix": prefix}, "retry": FAST_RETRY}
    path.write_text(json.dumps(document))
    return path


def webhook(endpoint: str, prefix: str, server: ScriptedServer, name: str = "soar") -> str:
    """Store the secret of ``webhook:name`` pointing at ``server``; return the output name."""
    secret = json.dumps({"url": f"{server.url}/{name}", "hmac_key": HMAC_KEY})
    put_secret(endpoint, "secretsmanager", f"{prefix}/webhook/{name}", secret)
    return f"webhook:{name}"


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run ``sigil redrive`` (no long poll); return the exit status, the JSON lines and stderr."""
    status = cli.main(["redrive", "--wait", "0", *args])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


def summary_of(stderr: str) -> str:
    """The last stderr line: the summary (the dispatcher's log lines come before it)."""
    return stderr.strip().splitlines()[-1]


class TestRedrive:
    def test_working_outputs_get_their_alerts_and_letters_go(
        self,
        env: str,
        dlq: str,
        prefix: str,
        hook: ScriptedServer,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Letters for an SQS output and a webhook that work again: each alert arrives once, the DLQ is empty."""
        target = create_queue(env)
        config = outputs_file(tmp_path, prefix, {"aws-sqs:triage": {"queue_url": target}})
        output = webhook(env, prefix, hook)
        to_sqs, to_hook = sample_alert(), sample_alert({"n": 2})
        park(env, dlq, to_sqs, "aws-sqs:triage")
        park(env, dlq, to_hook, output)

        status, lines, stderr = run_cli(capsys, "--queue", dlq, "--outputs", str(config))

        assert status == 0
        assert sorted(lines, key=lambda line: line["output"]) == [
            {"alert_id": to_sqs["alert_id"], "output": "aws-sqs:triage", "outcome": "delivered"},
            {"alert_id": to_hook["alert_id"], "output": output, "outcome": "delivered"},
        ]
        assert summary_of(stderr) == "2 letters: 2 delivered, 0 dead-lettered again, 0 left in the queue"
        assert [m.body for m in drain(env, target)] == [canonical_json(to_sqs)]
        [request] = hook.requests
        assert request.json() == to_hook
        assert verify(HMAC_KEY, request.body, request.header(SIGNATURE_HEADER))
        assert message_count(env, dlq) == 0

    def test_output_still_failing_reparks_one_new_letter(
        self,
        env: str,
        dlq: str,
        prefix: str,
        hook: ScriptedServer,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Still down: the dispatcher writes a new letter (its attempts, error, time), the old one is gone,
        and the new one is not redriven again in the same run."""
        hook.default = Reply(503, b"still down")
        output = webhook(env, prefix, hook)
        alert = sample_alert()
        park(env, dlq, alert, output, attempts=5)

        status, lines, stderr = run_cli(
            capsys, "--queue", dlq, "--outputs", str(outputs_file(tmp_path, prefix))
        )

        assert status == 1
        [line] = lines
        assert (line["alert_id"], line["output"], line["outcome"], line["reason"]) == (
            alert["alert_id"],
            output,
            "dead_lettered",
            "attempts",
        )
        assert line["attempts"] == FAST_RETRY["max_attempts"]
        assert "HTTP 503" in line["error"]
        assert summary_of(stderr) == "1 letter: 0 delivered, 1 dead-lettered again, 0 left in the queue"
        assert len(hook.requests) == FAST_RETRY["max_attempts"]  # one redrive, not a loop over its own letter
        [letter] = letters_in(env, dlq)
        assert (letter["alert"], letter["output"], letter["reason"]) == (alert, output, "attempts")
        assert letter["attempts"] == FAST_RETRY["max_attempts"]
        assert letter["dead_lettered_at"] != OLD_STAMP

    def test_split_letter_joined_and_redriven_once(
        self, env: str, dlq: str, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A letter over 256 KiB sits in the DLQ as parts: all are read, the alert is sent once, all deleted."""
        target = create_queue(env)
        config = outputs_file(tmp_path, prefix, {"aws-sqs:triage": {"queue_url": target}})
        alert = sample_alert(big_record(400_000))
        park(env, dlq, alert, "aws-sqs:triage")
        parts = message_count(env, dlq)
        assert parts > 1

        status, lines, _ = run_cli(capsys, "--queue", dlq, "--outputs", str(config))

        assert (status, [line["outcome"] for line in lines]) == (0, ["delivered"])
        bodies = [m.body for m in drain(env, target)]
        assert join(bodies) == [alert]
        assert len(bodies) == len(set(bodies)) == json.loads(bodies[0])["sigil_part"]["count"]
        assert message_count(env, dlq) == 0

    def test_incomplete_split_letter_left(
        self, env: str, dlq: str, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A letter missing a part is not redriven; the parts there are stay in the queue, visible."""
        target = create_queue(env)
        config = outputs_file(tmp_path, prefix, {"aws-sqs:triage": {"queue_url": target}})
        alert = sample_alert(big_record(400_000))
        park(env, dlq, alert, "aws-sqs:triage")
        messages = drain(env, dlq)
        sqs = client("sqs", env)
        for message in messages[:-1]:
            sqs.send_message(QueueUrl=dlq, MessageBody=message.body)

        status, lines, _ = run_cli(capsys, "--queue", dlq, "--outputs", str(config))

        assert status == 1
        [line] = lines
        assert (line["alert_id"], line["output"], line["outcome"]) == (
            alert["alert_id"],
            "aws-sqs:triage",
            "left",
        )
        assert line["reason"].startswith("incomplete letter")
        assert drain(env, target) == []
        assert len(drain(env, dlq)) == len(messages) - 1

    def test_dry_run_lists_every_letter_and_changes_nothing(
        self,
        env: str,
        dlq: str,
        prefix: str,
        hook: ScriptedServer,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Dry run: every letter listed with its reason, error and time; nothing sent, all visible again."""
        target = create_queue(env)
        config = outputs_file(tmp_path, prefix, {"aws-sqs:triage": {"queue_url": target}})
        output = webhook(env, prefix, hook)
        alerts = [sample_alert({"n": n}) for n in range(3)]
        park(env, dlq, alerts[0], "aws-sqs:triage")
        park(env, dlq, alerts[1], output)
        park(env, dlq, alerts[2], "nosuch:thing")

        status, lines, stderr = run_cli(capsys, "--queue", dlq, "--outputs", str(config), "--dry-run")

        assert status == 0
        by_output = {line["output"]: line for line in lines}
        assert len(lines) == 3
        for name in ("aws-sqs:triage", output):
            assert by_output[name] == {
                "alert_id": by_output[name]["alert_id"],
                "output": name,
                "outcome": "would_redrive",
                "reason": "attempts",
                "error": "HttpStatusError: HTTP 503 from receiver",
                "attempts": 5,
                "dead_lettered_at": OLD_STAMP,
            }
        assert by_output["nosuch:thing"]["outcome"] == "left"
        assert {line["alert_id"] for line in lines} == {a["alert_id"] for a in alerts}
        assert summary_of(stderr) == "3 letters (dry run): 2 would be redriven, 1 left in the queue"
        assert (drain(env, target), hook.requests) == ([], [])
        assert len(drain(env, dlq)) == 3  # visible at once: a plain receive gets them all back

    def test_output_filter(
        self,
        env: str,
        dlq: str,
        prefix: str,
        hook: ScriptedServer,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """--output (short AWS names accepted) redrives that output's letters only; the others stay, visible."""
        target = create_queue(env)
        config = outputs_file(tmp_path, prefix, {"aws-sqs:triage": {"queue_url": target}})
        output = webhook(env, prefix, hook)
        mine, other = sample_alert(), sample_alert({"n": 2})
        park(env, dlq, mine, "aws-sqs:triage")
        park(env, dlq, other, output)

        status, lines, _ = run_cli(capsys, "--queue", dlq, "--outputs", str(config), "--output", "sqs:triage")

        assert status == 0
        assert lines == [{"alert_id": mine["alert_id"], "output": "aws-sqs:triage", "outcome": "delivered"}]
        assert len(drain(env, target)) == 1
        assert hook.requests == []
        assert [(letter["alert"], letter["output"]) for letter in letters_in(env, dlq)] == [(other, output)]

    def test_max(
        self, env: str, dlq: str, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--max 2 with three letters: two delivered, the third stays in the queue, visible."""
        target = create_queue(env)
        config = outputs_file(tmp_path, prefix, {"aws-sqs:triage": {"queue_url": target}})
        alerts = [sample_alert({"n": n}) for n in range(3)]
        for alert in alerts:
            park(env, dlq, alert, "aws-sqs:triage")

        status, lines, stderr = run_cli(capsys, "--queue", dlq, "--outputs", str(config), "--max", "2")

        assert (status, [line["outcome"] for line in lines]) == (0, ["delivered", "delivered"])
        assert summary_of(stderr).startswith("2 letters: 2 delivered")
        delivered = {json.loads(m.body)["alert_id"] for m in drain(env, target)}
        [left] = letters_in(env, dlq)
        assert delivered == {line["alert_id"] for line in lines}
        assert delivered | {left["alert_id"]} == {a["alert_id"] for a in alerts}

    def test_unknown_outputs_left_and_reported(
        self, env: str, dlq: str, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Letters for an output the configuration cannot build are not sent anywhere and stay in the queue."""
        config = outputs_file(tmp_path, prefix)
        alerts = [sample_alert({"n": n}) for n in range(3)]
        park(env, dlq, alerts[0], "nosuch:thing")
        park(env, dlq, alerts[1], "aws-sqs:unconfigured")  # no queue_url in outputs.json
        park(env, dlq, alerts[2], "unrouted")

        status, lines, stderr = run_cli(capsys, "--queue", dlq, "--outputs", str(config))

        assert status == 1
        assert {line["output"]: line["outcome"] for line in lines} == {
            "nosuch:thing": "left",
            "aws-sqs:unconfigured": "left",
            "unrouted": "left",
        }
        assert all(line["reason"].startswith("not in the outputs configuration") for line in lines)
        assert summary_of(stderr) == "3 letters: 0 delivered, 0 dead-lettered again, 3 left in the queue"
        assert sorted(letter["alert_id"] for letter in letters_in(env, dlq)) == sorted(
            a["alert_id"] for a in alerts
        )

    def test_duplicate_letters_deliver_once(
        self, env: str, dlq: str, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The same pair parked twice (two containers gave up on it): one send, both letters removed."""
        target = create_queue(env)
        config = outputs_file(tmp_path, prefix, {"aws-sqs:triage": {"queue_url": target}})
        alert = sample_alert()
        park(env, dlq, alert, "aws-sqs:triage")
        park(env, dlq, alert, "aws-sqs:triage", attempts=3)

        status, lines, _ = run_cli(capsys, "--queue", dlq, "--outputs", str(config))

        assert (status, [line["outcome"] for line in lines]) == (0, ["delivered", "delivered"])
        assert "duplicate" in lines[1]["reason"]
        assert len(drain(env, target)) == 1
        assert message_count(env, dlq) == 0

    def test_durable_ledger_does_not_hide_the_letter(
        self,
        env: str,
        dlq: str,
        prefix: str,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """SIGIL_LEDGER_TABLE records the pair as dead-lettered; the redrive still sends it (not skipped)."""
        table = unique("sigil-ledger")
        client("dynamodb", env).create_table(
            TableName=table,
            AttributeDefinitions=[
                {"AttributeName": "alert_id", "AttributeType": "S"},
                {"AttributeName": "output", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "alert_id", "KeyType": "HASH"},
                {"AttributeName": "output", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        alert = sample_alert()
        DynamoLedger(table, client("dynamodb", env)).record(
            alert["alert_id"], "aws-sqs:triage", "dead_lettered"
        )
        monkeypatch.setenv("SIGIL_LEDGER_TABLE", table)
        target = create_queue(env)
        park(env, dlq, alert, "aws-sqs:triage")

        config = outputs_file(tmp_path, prefix, {"aws-sqs:triage": {"queue_url": target}})
        status, lines, _ = run_cli(capsys, "--queue", dlq, "--outputs", str(config))

        assert (status, lines[0]["outcome"]) == (0, "delivered")
        assert [m.json() for m in drain(env, target)] == [alert]

    def test_neither_delivered_nor_reparked_is_left(
        self, env: str, dlq: str, prefix: str, hook: ScriptedServer
    ) -> None:
        """If the new letter cannot be written either, the original message stays: nothing is lost."""
        hook.default = Reply(503, b"down")
        output = webhook(env, prefix, hook)
        alert = sample_alert()
        park(env, dlq, alert, output)
        config = parse_config({"secrets": {"prefix": prefix}, "retry": FAST_RETRY})
        sqs = queue_client(dlq, 0)
        dispatcher = redrive_dispatcher(config, dlq + "-missing", sqs)  # re-parking fails

        report = redrive(dlq, dispatcher, sqs, wait_seconds=0)

        [result] = report.results
        assert (result.outcome, result.alert_id) == ("left", alert["alert_id"])
        assert "HTTP 503" in str(result.reason) and "could not be written" in str(result.reason)
        assert not report.clean
        [letter] = letters_in(env, dlq)
        assert (letter["alert"], letter["attempts"]) == (alert, 5)

    def test_missing_queue_raises_queue_error(self, env: str, prefix: str) -> None:
        """The runtime function reports a queue it cannot read as QueueError."""
        missing = create_queue(env) + "-missing"
        config = parse_config({"secrets": {"prefix": prefix}, "retry": FAST_RETRY})
        sqs = queue_client(missing, 0)
        with pytest.raises(QueueError, match="cannot receive from"):
            redrive(missing, redrive_dispatcher(config, missing, sqs), sqs, wait_seconds=0)


class TestCommand:
    def test_queue_from_environment(
        self,
        env: str,
        dlq: str,
        prefix: str,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Without --queue the DLQ is SIGIL_DLQ_URL, and the configuration comes from SIGIL_OUTPUTS_FILE."""
        target = create_queue(env)
        monkeypatch.setenv("SIGIL_DLQ_URL", dlq)
        config = outputs_file(tmp_path, prefix, {"aws-sqs:triage": {"queue_url": target}})
        monkeypatch.setenv("SIGIL_OUTPUTS_FILE", str(config))
        park(env, dlq, sample_alert(), "aws-sqs:triage")
        status, lines, _ = run_cli(capsys)
        assert (status, [line["outcome"] for line in lines]) == (0, ["delivered"])

    def test_empty_queue(
        self, env: str, dlq: str, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Nothing to redrive is a success."""
        status, lines, stderr = run_cli(
            capsys, "--queue", dlq, "--outputs", str(outputs_file(tmp_path, prefix))
        )
        assert (status, lines) == (0, [])
        assert summary_of(stderr) == "0 letters: 0 delivered, 0 dead-lettered again, 0 left in the queue"

    @pytest.mark.parametrize("where", ["missing queue", "no endpoint"])
    def test_unreachable_queue_is_one_line(
        self,
        env: str,
        prefix: str,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        where: str,
    ) -> None:
        """A queue that does not exist, or an endpoint nobody listens on: one line on stderr, exit 2."""
        queue = create_queue(env) + "-missing"
        if where == "no endpoint":
            stopped = ScriptedServer().start()
            stopped.stop()
            monkeypatch.setenv("AWS_ENDPOINT_URL", stopped.url)
        status, lines, stderr = run_cli(
            capsys, "--queue", queue, "--outputs", str(outputs_file(tmp_path, prefix))
        )
        assert (status, lines) == (2, [])
        assert len(stderr.strip().splitlines()) == 1, stderr
        assert stderr.startswith(f"sigil redrive: cannot receive from {queue}: ")
        assert "Traceback" not in stderr

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--outputs", "/nonexistent/outputs.json"], "sigil redrive: outputs configuration: "),
            (["--output", "slak:secops"], "sigil redrive: --output: unknown output 'slak:secops'"),
            ([], "sigil redrive: no queue: pass --queue URL or set SIGIL_DLQ_URL"),
        ],
    )
    def test_user_mistakes_are_one_line(
        self, env: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
    ) -> None:
        """A missing file, a misspelt output, no queue at all: a one-line message and exit 2."""
        status, lines, stderr = run_cli(capsys, *args)
        assert (status, lines) == (2, [])
        assert stderr.startswith(message) and len(stderr.strip().splitlines()) == 1, stderr

    def test_bad_config_file_is_one_line(
        self, env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An outputs.json that is not valid: a one-line message and exit 2."""
        bad = tmp_path / "outputs.json"
        bad.write_text(json.dumps({"outputs": {}, "retry": {"tries": 3}}))
        status, _, stderr = run_cli(capsys, "--queue", "http://unused", "--outputs", str(bad))
        assert status == 2
        assert (
            stderr.strip()
            == "sigil redrive: outputs configuration: outputs config: unknown retry settings ['tries']"
        )


def test_message_that_is_no_letter_is_left(
    env: str, dlq: str, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Something else in the queue (not JSON) is reported and left there, untouched."""
    client("sqs", env).send_message(QueueUrl=dlq, MessageBody="not json")
    status, lines, _ = run_cli(capsys, "--queue", dlq, "--outputs", str(outputs_file(tmp_path, prefix)))
    assert status == 1
    [line] = lines
    assert (line["alert_id"], line["outcome"]) == (None, "left")
    assert line["reason"].startswith("not a dead letter")
    assert [m.body for m in drain(env, dlq)] == ["not json"]
