"""Faults: outputs failing then recovering, down for good, throttled SNS, secrets, deadlines, the dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from moto_process import client
from support.delivery import (
    Counting,
    Throttled,
    big_record,
    clients_with,
    create_queue,
    dispatcher,
    drain,
    put_secret,
    sample_alert,
    unique,
)
from support.http_servers import Reply, ScriptedServer

from runtime.outputs.dispatch import Ledger
from runtime.outputs.dlq import read_dead_letters
from runtime.outputs.parts import join
from runtime.outputs.webhook import SIGNATURE_HEADER, verify
from runtime.retry import DeliveryError, Retrier, RetryError, RetryPolicy, Verdict, Waiter, classify

HMAC_KEY = "k3y"


def client_error(code: str, status: int = 400) -> ClientError:
    """A botocore ClientError as a service would raise it."""
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op"
    )


class TestRetryPolicy:
    @pytest.mark.parametrize(
        ("error", "retryable"),
        [
            (client_error("Throttling"), True),
            (client_error("ThrottlingException"), True),
            (client_error("ProvisionedThroughputExceededException"), True),
            (client_error("InternalError", 500), True),
            (client_error("Whatever", 503), True),
            (client_error("AccessDenied", 403), False),
            (client_error("ValidationError"), False),
            (EndpointConnectionError(endpoint_url="https://sns"), True),
            (DeliveryError("x", retryable=True, retry_after=3), True),
            (ValueError("bug"), False),
        ],
    )
    def test_what_is_retried(self, error: Exception, retryable: bool) -> None:
        """Throttling, 5xx and connection errors are retried; 4xx and programming errors are not."""
        assert classify(error).retryable is retryable

    def test_full_jitter_bounds(self) -> None:
        """Each delay is drawn from [0, min(cap, base·2^(n-1))]."""
        policy = RetryPolicy(base_delay=0.1, max_delay=1.0)
        assert [policy.backoff(n, lambda: 1.0) for n in (1, 2, 3, 4, 5, 6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
        assert policy.backoff(4, lambda: 0.0) == 0.0
        assert policy.backoff(3, lambda: 0.25) == pytest.approx(0.1)

    def test_retry_after_honoured_or_refused(self) -> None:
        """A Retry-After within bounds is waited at least; a longer one ends the retries."""
        policy = RetryPolicy(max_retry_after=30)
        assert policy.delay(1, Verdict(True, 7.0), lambda: 0.5) == 7.0
        assert policy.delay(1, Verdict(True, 31.0), lambda: 0.5) is None

    def test_deadline_budget(self) -> None:
        """No retry is scheduled whose wait would eat into the reserve before the deadline."""
        waits: list[float] = []

        def always_throttled() -> None:
            raise client_error("Throttling")

        left = iter([10.0, 2.05])
        retrier = Retrier(
            RetryPolicy(max_attempts=10, base_delay=0.1, reserve=2.0),
            Waiter(waits.append, lambda: 1.0, left.__next__),
        )
        with pytest.raises(RetryError) as caught:
            retrier.call(always_throttled)
        assert (caught.value.reason, caught.value.attempts, waits) == ("deadline", 2, [0.1])


@pytest.fixture
def hook() -> Iterator[ScriptedServer]:
    """A webhook receiver answering 200 unless scripted otherwise."""
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def secrets_prefix(aws_env: str) -> str:
    """A prefix of this test's own in Secrets Manager."""
    return "/" + unique("sigil-faults")


def webhook_secret(endpoint: str, prefix: str, name: str, server: ScriptedServer) -> None:
    """Store the URL and HMAC key of ``webhook:name`` pointing at ``server``."""
    put_secret(
        endpoint,
        "secretsmanager",
        f"{prefix}/webhook/{name}",
        json.dumps({"url": f"{server.url}/{name}", "hmac_key": HMAC_KEY}),
    )


def webhook_dispatcher(
    endpoint: str, prefix: str, server: ScriptedServer, names: tuple[str, ...] = ("soar",), **options: Any
) -> Any:
    """A dispatcher whose default outputs are webhooks named ``names`` on ``server``."""
    for name in names:
        webhook_secret(endpoint, prefix, name, server)
    return dispatcher(
        endpoint, {}, secrets_prefix=prefix, default_outputs=tuple(f"webhook:{n}" for n in names), **options
    )


class TestHttpFaults:
    def test_500_then_recovery_delivers_once(
        self, aws_env: str, secrets_prefix: str, hook: ScriptedServer
    ) -> None:
        """Two 500s then 200: delivered, one accepted request, and a later batch retry sends nothing more."""
        hook.fail(500, 2)
        dispatcher_, sleeps = webhook_dispatcher(aws_env, secrets_prefix, hook)
        alert = sample_alert()
        report = dispatcher_.deliver([alert])
        assert report.delivered == (alert["alert_id"],)
        assert report.outputs["webhook:soar"].retries == 2
        assert len(sleeps.delays) == 2
        assert (
            len({r.body for r in hook.requests}) == 1 and len(hook.requests) == 3
        )  # same signed body each time
        assert verify(HMAC_KEY, hook.requests[-1].body, hook.requests[-1].header(SIGNATURE_HEADER))
        again = dispatcher_.deliver([alert])
        assert again.delivered == (alert["alert_id"],)
        assert again.outputs["webhook:soar"].skipped == 1
        assert len(hook.requests) == 3

    def test_429_with_retry_after(self, aws_env: str, secrets_prefix: str, hook: ScriptedServer) -> None:
        """A 429 with Retry-After: 2 is retried after waiting at least 2 seconds (on the injected clock)."""
        hook.fail(429, 1, {"Retry-After": "2"})
        dispatcher_, sleeps = webhook_dispatcher(aws_env, secrets_prefix, hook)
        assert dispatcher_.deliver([sample_alert()]).delivered
        assert len(hook.requests) == 2
        assert sleeps.delays[0] >= 2.0

    def test_retry_after_too_long_dead_letters(
        self, aws_env: str, secrets_prefix: str, hook: ScriptedServer
    ) -> None:
        """A Retry-After beyond the allowed wait is not waited for: the alert is dead-lettered at once."""
        hook.fail(429, 1, {"Retry-After": "3600"})
        dlq = create_queue(aws_env)
        dispatcher_, sleeps = webhook_dispatcher(aws_env, secrets_prefix, hook, dlq_url=dlq)
        assert dispatcher_.deliver([sample_alert()]).dead_lettered
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert (letter["reason"], sleeps.delays) == ("retry-after", [])

    def test_down_for_good_goes_to_dlq(self, aws_env: str, secrets_prefix: str, hook: ScriptedServer) -> None:
        """An output answering 503 on every attempt: the alert lands in the DLQ with output name and error."""
        hook.default = Reply(503, b"maintenance")
        dlq = create_queue(aws_env)
        dispatcher_, _ = webhook_dispatcher(aws_env, secrets_prefix, hook, dlq_url=dlq, max_attempts=4)
        alerts = [sample_alert(), sample_alert({"other": 1})]
        report = dispatcher_.deliver(alerts)
        assert report.dead_lettered == tuple(a["alert_id"] for a in alerts)
        assert (report.delivered, report.failed) == ((), ())
        assert len(hook.requests) == 8
        messages = drain(aws_env, dlq)
        letters = sorted(
            read_dead_letters(m.body for m in messages), key=lambda letter: letter["alert"]["title"]
        )
        assert [letter["alert"] for letter in letters] == sorted(alerts, key=lambda a: a["title"])
        for letter in letters:
            assert (letter["output"], letter["reason"], letter["attempts"]) == ("webhook:soar", "attempts", 4)
            assert "HTTP 503" in letter["error"]
        assert {m.attributes["output"] for m in messages} == {"webhook:soar"}

    def test_connection_refused_goes_to_dlq(self, aws_env: str, secrets_prefix: str) -> None:
        """A receiver that no longer listens is retried, then dead-lettered with the connection error."""
        stopped = ScriptedServer().start()
        stopped.stop()
        dlq = create_queue(aws_env)
        dispatcher_, sleeps = webhook_dispatcher(aws_env, secrets_prefix, stopped, dlq_url=dlq)
        assert dispatcher_.deliver([sample_alert()]).dead_lettered
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert "refused" in letter["error"].lower()
        assert len(sleeps.delays) == 2

    def test_client_error_not_retried(self, aws_env: str, secrets_prefix: str, hook: ScriptedServer) -> None:
        """A 400 is permanent: one request, no wait, straight to the DLQ."""
        hook.default = Reply(400, b"bad payload")
        dlq = create_queue(aws_env)
        dispatcher_, sleeps = webhook_dispatcher(aws_env, secrets_prefix, hook, dlq_url=dlq)
        assert dispatcher_.deliver([sample_alert()]).dead_lettered
        assert (len(hook.requests), sleeps.delays) == (1, [])
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert letter["reason"] == "permanent"

    def test_no_duplicate_when_another_output_fails(self, aws_env: str, secrets_prefix: str) -> None:
        """An output that took the alert is not re-sent when the batch is retried for another output's sake."""
        with ScriptedServer() as good, ScriptedServer(default=Reply(502, b"down")) as bad:
            webhook_secret(aws_env, secrets_prefix, "good", good)
            webhook_secret(aws_env, secrets_prefix, "bad", bad)
            dispatcher_, _ = dispatcher(
                aws_env, {}, secrets_prefix=secrets_prefix, default_outputs=("webhook:good", "webhook:bad")
            )
            alert = sample_alert()
            first = dispatcher_.deliver([alert])
            assert first.failed == (alert["alert_id"],)  # no DLQ configured: the record must be retried
            assert (len(good.requests), len(bad.requests)) == (1, 3)
            second = dispatcher_.deliver([alert])
            assert second.failed == (alert["alert_id"],)
            assert (len(good.requests), len(bad.requests)) == (1, 6)
            bad.default = Reply(200, b"ok")
            third = dispatcher_.deliver([alert])
            assert third.delivered == (alert["alert_id"],)
            assert (third.outputs["webhook:good"].skipped, third.outputs["webhook:bad"].delivered) == (1, 1)
            assert (len(good.requests), len(bad.requests)) == (1, 7)


class TestThrottledSns:
    @pytest.fixture
    def topic(self, aws_env: str) -> tuple[str, str]:
        """A topic with a raw-delivery queue subscribed."""
        sns, sqs = client("sns", aws_env), client("sqs", aws_env)
        topic_arn = sns.create_topic(Name=unique("sigil-throttled"))["TopicArn"]
        queue_url = create_queue(aws_env)
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
        return topic_arn, queue_url

    def sns_dispatcher(self, endpoint: str, topic_arn: str, throttled: Throttled, **options: Any) -> Any:
        clients = clients_with(endpoint, {"sns": throttled})
        return dispatcher(
            endpoint,
            {"aws-sns:alerts": {"topic_arn": topic_arn}},
            default_outputs=("sns:alerts",),
            clients=clients,
            **options,
        )

    def test_throttling_retried_then_delivered_once(self, aws_env: str, topic: tuple[str, str]) -> None:
        """Two Throttling errors then success: exactly one message reaches the subscriber."""
        topic_arn, queue_url = topic
        throttled = Throttled(client("sns", aws_env), "publish", times=2)
        dispatcher_, sleeps = self.sns_dispatcher(aws_env, topic_arn, throttled)
        alert = sample_alert()
        assert dispatcher_.deliver([alert]).delivered == (alert["alert_id"],)
        assert [m.json() for m in drain(aws_env, queue_url)] == [alert]
        assert (throttled.calls["publish"], len(sleeps.delays)) == (3, 2)

    def test_throttled_for_good_dead_letters(self, aws_env: str, topic: tuple[str, str]) -> None:
        """Throttled on every attempt: nothing published, the alert is in the DLQ with the throttling error."""
        topic_arn, queue_url = topic
        dlq = create_queue(aws_env)
        throttled = Throttled(client("sns", aws_env), "publish", times=100)
        dispatcher_, _ = self.sns_dispatcher(aws_env, topic_arn, throttled, dlq_url=dlq)
        alert = sample_alert()
        assert dispatcher_.deliver([alert]).dead_lettered == (alert["alert_id"],)
        assert drain(aws_env, queue_url) == []
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert (letter["output"], letter["alert"]) == ("aws-sns:alerts", alert)
        assert "Throttling" in letter["error"]

    def test_split_alert_throttled_midway_sends_each_part_once(
        self, aws_env: str, topic: tuple[str, str]
    ) -> None:
        """Throttling on the second part: the retry resumes there, so no part arrives twice."""
        topic_arn, queue_url = topic
        throttled = Throttled(client("sns", aws_env), "publish", times=1, after=1)
        dispatcher_, _ = self.sns_dispatcher(aws_env, topic_arn, throttled)
        alert = sample_alert(big_record(600_000))
        assert dispatcher_.deliver([alert]).delivered
        bodies = [m.body for m in drain(aws_env, queue_url)]
        assert len(bodies) == len(set(bodies)) == int(json.loads(bodies[0])["sigil_part"]["count"])
        assert join(bodies) == [alert]


class TestSecrets:
    @pytest.mark.parametrize(
        ("backend", "method"), [("secretsmanager", "get_secret_value"), ("ssm", "get_parameter")]
    )
    def test_fetched_once_per_cold_start(
        self, aws_env: str, hook: ScriptedServer, backend: str, method: str
    ) -> None:
        """However many alerts and batches, the secret is read once; the signature uses its key."""
        prefix = "/" + unique("sigil-secrets")
        put_secret(
            aws_env,
            backend,
            f"{prefix}/webhook/soar",
            json.dumps({"url": f"{hook.url}/in", "hmac_key": "from-" + backend}),
        )
        store_client = Counting(client(backend, aws_env))
        clients = clients_with(aws_env, {backend: store_client})
        dispatcher_, _ = dispatcher(
            aws_env,
            {},
            secrets_prefix=prefix,
            secrets_backend=backend,
            default_outputs=("webhook:soar",),
            clients=clients,
        )
        for batch in range(3):
            assert (
                len(
                    dispatcher_.deliver(
                        [sample_alert({"n": batch}), sample_alert({"n": batch + 10})]
                    ).delivered
                )
                == 2
            )
        assert store_client.calls == {method: 1}
        assert len(hook.requests) == 6
        assert all(verify("from-" + backend, r.body, r.header(SIGNATURE_HEADER)) for r in hook.requests)

    def test_throttled_secret_fetch_retried_not_cached(
        self, aws_env: str, secrets_prefix: str, hook: ScriptedServer
    ) -> None:
        """A throttled secret read is retried; the failure is not cached, the value then is."""
        webhook_secret(aws_env, secrets_prefix, "soar", hook)
        store_client = Throttled(client("secretsmanager", aws_env), "get_secret_value", times=1)
        clients = clients_with(aws_env, {"secretsmanager": store_client})
        dispatcher_, _ = dispatcher(
            aws_env, {}, secrets_prefix=secrets_prefix, default_outputs=("webhook:soar",), clients=clients
        )
        assert dispatcher_.deliver([sample_alert()]).delivered
        assert dispatcher_.deliver([sample_alert({"x": 2})]).delivered
        assert store_client.calls == {"get_secret_value": 2}

    def test_plain_ssm_string_refused(self, aws_env: str, hook: ScriptedServer) -> None:
        """An SSM String (not SecureString) is refused: one read, no request, dead-lettered."""
        prefix = "/" + unique("sigil-ssm")
        client("ssm", aws_env).put_parameter(
            Name=f"{prefix}/webhook/soar", Value=json.dumps({"url": hook.url, "hmac_key": "k"}), Type="String"
        )
        dlq = create_queue(aws_env)
        dispatcher_, sleeps = dispatcher(
            aws_env,
            {},
            secrets_prefix=prefix,
            secrets_backend="ssm",
            default_outputs=("webhook:soar",),
            dlq_url=dlq,
        )
        assert dispatcher_.deliver([sample_alert()]).dead_lettered
        assert (hook.requests, sleeps.delays) == ([], [])
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert "not a SecureString" in letter["error"]

    def test_missing_secret_dead_lettered(self, aws_env: str, secrets_prefix: str) -> None:
        """An output whose secret does not exist is dead-lettered without retries, naming the secret."""
        dlq = create_queue(aws_env)
        dispatcher_, sleeps = dispatcher(
            aws_env, {}, secrets_prefix=secrets_prefix, default_outputs=("slack:nowhere",), dlq_url=dlq
        )
        assert dispatcher_.deliver([sample_alert()]).dead_lettered
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert f"{secrets_prefix}/slack/nowhere" in letter["error"]
        assert (letter["output"], sleeps.delays) == ("slack:nowhere", [])


class TestDeadLetters:
    def test_deadline_stops_retries_and_dead_letters(
        self, aws_env: str, secrets_prefix: str, hook: ScriptedServer
    ) -> None:
        """Near the Lambda deadline a failing output is not retried: the alert goes to the DLQ at once."""
        hook.default = Reply(500, b"err")
        dlq = create_queue(aws_env)
        remaining = lambda: 10.0 if not hook.requests else 2.001  # noqa: E731
        dispatcher_, _ = webhook_dispatcher(aws_env, secrets_prefix, hook, dlq_url=dlq, remaining=remaining)
        assert dispatcher_.deliver([sample_alert()]).dead_lettered
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert (letter["reason"], len(hook.requests)) == ("deadline", 1)

    def test_no_time_left_reports_failed(
        self, aws_env: str, secrets_prefix: str, hook: ScriptedServer
    ) -> None:
        """With no time left nothing is attempted: the alerts are failed so their records are retried."""
        dlq = create_queue(aws_env)
        dispatcher_, _ = webhook_dispatcher(aws_env, secrets_prefix, hook, dlq_url=dlq, remaining=lambda: 0.5)
        alerts = [sample_alert(), sample_alert({"n": 2})]
        report = dispatcher_.deliver(alerts)
        assert report.failed == tuple(a["alert_id"] for a in alerts)
        assert (hook.requests, drain(aws_env, dlq)) == ([], [])

    def test_big_alert_dead_letter_split_and_joined(
        self, aws_env: str, secrets_prefix: str, hook: ScriptedServer
    ) -> None:
        """A dead letter over SQS's limit is sent in parts and read back whole."""
        hook.default = Reply(400, b"too big")
        dlq = create_queue(aws_env)
        dispatcher_, _ = webhook_dispatcher(aws_env, secrets_prefix, hook, dlq_url=dlq)
        alert = sample_alert(big_record(500_000))
        assert dispatcher_.deliver([alert]).dead_lettered
        messages = drain(aws_env, dlq)
        assert len(messages) > 1
        [letter] = read_dead_letters(m.body for m in messages)
        assert (letter["alert"], letter["output"]) == (alert, "webhook:soar")

    def test_dlq_unavailable_reports_failed_and_retries_later(
        self, aws_env: str, secrets_prefix: str, hook: ScriptedServer
    ) -> None:
        """If the DLQ itself fails the alert is failed (not lost) and the next delivery tries the output again."""
        hook.default = Reply(503, b"down")
        missing_queue = create_queue(aws_env) + "-missing"
        dispatcher_, _ = webhook_dispatcher(aws_env, secrets_prefix, hook, dlq_url=missing_queue)
        alert = sample_alert()
        assert dispatcher_.deliver([alert]).failed == (alert["alert_id"],)
        seen = len(hook.requests)
        hook.default = Reply(200, b"ok")
        assert dispatcher_.deliver([alert]).delivered == (alert["alert_id"],)
        assert len(hook.requests) == seen + 1

    @pytest.mark.parametrize(("outputs", "error"), [([], "no outputs"), (["nosuch:thing"], "unknown output")])
    def test_unroutable_alert_dead_lettered(self, aws_env: str, outputs: list[str], error: str) -> None:
        """An alert with no outputs, or an unknown one, is kept in the DLQ rather than dropped."""
        dlq = create_queue(aws_env)
        dispatcher_, _ = dispatcher(aws_env, {}, dlq_url=dlq)
        alert = sample_alert(outputs=outputs)
        assert dispatcher_.deliver([alert]).dead_lettered == (alert["alert_id"],)
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert error in letter["error"]
        assert letter["alert"] == alert

    def test_every_alert_accounted_for(self, aws_env: str, secrets_prefix: str) -> None:
        """Across mixed outcomes each alert is in exactly one of delivered, dead-lettered and failed."""
        with ScriptedServer() as ok, ScriptedServer(default=Reply(500, b"x")) as down:
            webhook_secret(aws_env, secrets_prefix, "ok", ok)
            webhook_secret(aws_env, secrets_prefix, "down", down)
            dlq = create_queue(aws_env)
            dispatcher_, _ = dispatcher(aws_env, {}, secrets_prefix=secrets_prefix, dlq_url=dlq)
            alerts = [
                sample_alert({"i": i}, outputs=["webhook:ok"] if i % 2 else ["webhook:ok", "webhook:down"])
                for i in range(6)
            ]
            report = dispatcher_.deliver(alerts)
            outcomes = report.delivered + report.dead_lettered + report.failed
            assert sorted(outcomes) == sorted(a["alert_id"] for a in alerts)
            assert (len(report.delivered), len(report.dead_lettered)) == (3, 3)
            assert len(ok.requests) == 6
            assert len(drain(aws_env, dlq)) == 3


class TestLedger:
    def test_settled_pairs_expire(self, aws_env: str, secrets_prefix: str, hook: ScriptedServer) -> None:
        """A delivered alert is skipped while its ledger entry lives and sent again once it expired."""
        clock = [0.0]
        ledger = Ledger(ttl=60, clock=lambda: clock[0])
        dispatcher_, _ = webhook_dispatcher(aws_env, secrets_prefix, hook, ledger=ledger)
        alert = sample_alert()
        dispatcher_.deliver([alert])
        clock[0] = 59
        assert dispatcher_.deliver([alert]).outputs["webhook:soar"].skipped == 1
        clock[0] = 121
        assert dispatcher_.deliver([alert]).outputs["webhook:soar"].delivered == 1
        assert len(hook.requests) == 2

    def test_size_bounded(self) -> None:
        """Beyond its size the ledger forgets the oldest pairs first."""
        ledger = Ledger(size=2)
        for name in ("a", "b", "c"):
            ledger.settle((name, "out"), "delivered")
        assert [ledger.get((n, "out")) for n in ("a", "b", "c")] == [None, "delivered", "delivered"]
