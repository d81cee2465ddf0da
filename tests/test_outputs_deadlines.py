"""No send outlives its deadline: trickling, silent and endless receivers, over HTTP and against AWS endpoints.

The deadline of a send is the Lambda's remaining time less the retry reserve (kept for the dead letter);
these tests run the dispatcher on a real clock against servers that would otherwise hold it for 20 s.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.delivery import create_queue, dispatcher, drain, put_secret, sample_alert, unique
from support.misbehaving_servers import RawServer, answer, endless_body, self_signed, silent, trickle

from runtime.outputs.base import AWS_TIMEOUTS, AwsClients, Resources
from runtime.outputs.config import parse_config
from runtime.outputs.deadline import within
from runtime.outputs.dispatch import Dispatcher
from runtime.outputs.http import BODY_LIMIT, HttpClient
from runtime.retry import DeliveryError, Waiter
from runtime.secrets import SecretStore

LAMBDA_LEFT = 4.5  # seconds before the (simulated) Lambda deadline when delivery starts
RESERVE = 2.0  # the default retry reserve: sends get LAMBDA_LEFT - RESERVE
SLACK = 1.0  # generous margin for scheduling on a loaded machine: far below the servers' 20 s


def clock(seconds: float) -> Callable[[], float]:
    """A Lambda ``remaining`` on the real clock: ``seconds`` from now."""
    end = time.monotonic() + seconds
    return lambda: end - time.monotonic()


HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n"
BEHAVIOURS = {
    "trickled status line and headers": trickle(HEADERS),
    "trickled body": trickle(b"o", head=HEADERS.replace(b"1000", b"100000")),
    "no answer": silent(),
    "request never read": silent(read=False),
}


@pytest.fixture
def secrets_prefix(aws_env: str) -> str:
    return "/" + unique("sigil-deadlines")


def webhook_to(endpoint: str, prefix: str, url: str, **options: Any) -> Dispatcher:
    """A dispatcher whose only output is ``webhook:slow`` posting to ``url``."""
    put_secret(
        endpoint, "secretsmanager", f"{prefix}/webhook/slow", json.dumps({"url": url, "hmac_key": "k"})
    )
    dispatcher_, _ = dispatcher(
        endpoint, {}, secrets_prefix=prefix, default_outputs=("webhook:slow",), **options
    )
    return dispatcher_


class TestHttpDeadline:
    @pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
    def test_slow_receiver_dead_lettered_before_the_deadline(
        self, aws_env: str, secrets_prefix: str, behaviour: str
    ) -> None:
        """Whatever the receiver does, the send ends in time and the alert is dead-lettered (reason deadline)."""
        dlq = create_queue(aws_env)
        with RawServer(BEHAVIOURS[behaviour]) as server:
            started = time.monotonic()
            report = webhook_to(
                aws_env, secrets_prefix, f"{server.url}/hook", dlq_url=dlq, remaining=clock(LAMBDA_LEFT)
            ).deliver([alert := sample_alert()])
            elapsed = time.monotonic() - started
        assert elapsed < LAMBDA_LEFT
        assert report.dead_lettered == (alert["alert_id"],)
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert (letter["reason"], letter["output"], letter["alert"]) == ("deadline", "webhook:slow", alert)
        assert "TimeoutError" in letter["error"] and f"{server.url}" in letter["error"]

    def test_without_dead_letter_queue_the_item_is_retried(self, aws_env: str, secrets_prefix: str) -> None:
        """With nowhere to dead-letter, the unfinished send makes the alert failed: its record comes back."""
        with RawServer(trickle(HEADERS)) as server:
            started = time.monotonic()
            report = webhook_to(
                aws_env, secrets_prefix, f"{server.url}/hook", remaining=clock(LAMBDA_LEFT)
            ).deliver([alert := sample_alert()])
            elapsed = time.monotonic() - started
        assert elapsed < LAMBDA_LEFT
        assert report.failed == (alert["alert_id"],)

    def test_client_cap_applies_without_a_deadline(self) -> None:
        """Outside the dispatcher a request still ends within the client's own timeout, as a whole."""
        with RawServer(trickle(HEADERS)) as server:
            started = time.monotonic()
            with pytest.raises(DeliveryError) as caught:
                HttpClient(timeout=1.5).post(f"{server.url}/hook", b"{}")
            elapsed = time.monotonic() - started
        assert elapsed < 1.5 + SLACK
        assert caught.value.retryable and "TimeoutError" in str(caught.value)

    def test_big_request_to_a_receiver_that_never_reads(self) -> None:
        """Writing a body the receiver never reads stops at the deadline too."""
        with RawServer(silent(read=False)) as server, within(clock(1.5)):
            started = time.monotonic()
            with pytest.raises(DeliveryError, match="TimeoutError"):
                HttpClient().post(f"{server.url}/hook", b"x" * (64 * 1024 * 1024))
            elapsed = time.monotonic() - started
        assert elapsed < 1.5 + SLACK

    @pytest.mark.parametrize(("status", "delivered"), [(200, True), (503, False)])
    def test_huge_answer_bodies_are_not_read_whole(self, status: int, delivered: bool) -> None:
        """A 2xx body is read up to 1 MiB and an error body up to 1 KiB; the 96 MiB the server offers are not."""
        with RawServer(endless_body(status)) as server:
            if delivered:
                response = HttpClient().post(f"{server.url}/hook", b"{}")
                assert len(response.body) == BODY_LIMIT
            else:
                with pytest.raises(DeliveryError, match="HTTP 503"):
                    HttpClient().post(f"{server.url}/hook", b"{}")
            time.sleep(0.2)  # let the server notice the closed connection
            assert server.bytes_sent < 32 * 1024 * 1024


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """(server, client) TLS contexts for a self-signed certificate of 127.0.0.1."""
    return self_signed(str(tmp_path_factory.mktemp("tls")))


class TestHttpsDeadline:
    def test_https_delivers(self, tls: tuple[Any, Any]) -> None:
        """The deadline-bound TLS connection works: a 200 over HTTPS with the certificate checked."""
        server_tls, client_tls = tls
        with RawServer(answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), tls=server_tls) as server:
            assert HttpClient(tls=client_tls).post(f"{server.url}/hook", b"{}").body == b"ok"

    def test_untrusted_certificate_is_permanent(self, tls: tuple[Any, Any]) -> None:
        """A certificate the client does not trust is refused, and retrying will not help."""
        server = RawServer(answer(b"HTTP/1.1 200 OK\r\n\r\n"), tls=tls[0])
        with server, pytest.raises(DeliveryError, match="TLS certificate refused") as caught:
            HttpClient().post(f"{server.url}/hook", b"{}")
        assert not caught.value.retryable

    def test_trickled_answer_over_tls(self, tls: tuple[Any, Any]) -> None:
        """Over TLS too, a trickled answer ends at the deadline."""
        server_tls, client_tls = tls
        with RawServer(trickle(HEADERS), tls=server_tls) as server, within(clock(1.5)):
            started = time.monotonic()
            with pytest.raises(DeliveryError, match="TimeoutError"):
                HttpClient(tls=client_tls).post(f"{server.url}/hook", b"{}")
        assert time.monotonic() - started < 1.5 + SLACK

    def test_handshake_never_answered(self) -> None:
        """A server that accepts the connection but never answers the TLS handshake: ends at the deadline."""
        with RawServer(silent(read=False)) as server, within(clock(1.5)):
            started = time.monotonic()
            with pytest.raises(DeliveryError, match="TimeoutError"):
                HttpClient().post(server.url.replace("http:", "https:") + "/hook", b"{}")
        assert time.monotonic() - started < 1.5 + SLACK


@pytest.fixture
def silent_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[RawServer]:
    """An "AWS endpoint" that accepts connections and never answers."""
    with RawServer(silent()) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        yield server


class TestAwsDeadline:
    def test_hung_aws_output_and_dlq_end_before_the_deadline(self, silent_aws: RawServer) -> None:
        """An AWS output that never answers, and a DLQ that never answers: delivery ends in time, alert failed."""
        config = parse_config(
            {
                "outputs": {"aws-sqs:q": {"queue_url": f"{silent_aws.url}/111122223333/q"}},
                "default_outputs": ["aws-sqs:q"],
                "dead_letter": {"queue_url": f"{silent_aws.url}/111122223333/dlq"},
                "retry": {"max_attempts": 5, "base_delay": 0.01, "max_delay": 0.05},
            }
        )
        aws = AwsClients()
        resources = Resources(aws=aws, secrets=SecretStore("/sigil/test", "secretsmanager", aws))
        started = time.monotonic()
        report = Dispatcher(config, resources, waiter=Waiter(remaining=clock(LAMBDA_LEFT))).deliver(
            [alert := sample_alert()]
        )
        elapsed = time.monotonic() - started
        assert elapsed < LAMBDA_LEFT
        assert report.failed == (alert["alert_id"],)
        assert silent_aws.connections >= 2  # the output and the dead-letter queue were both tried

    @pytest.mark.parametrize("left", [30.0, 12.9, 5.0, 2.0, 1.0])
    def test_clients_timeouts_fit_the_time_left(self, silent_aws: RawServer, left: float) -> None:
        """The client handed out inside a send has one attempt and connect + read timeouts within the time left."""
        aws = AwsClients()
        with within(lambda: left):
            config = aws("sqs").meta.config
        assert config.connect_timeout + config.read_timeout <= left
        assert (config.connect_timeout, config.read_timeout) in AWS_TIMEOUTS
        assert config.retries["total_max_attempts"] == 1

    def test_no_call_started_without_time_for_it(self, silent_aws: RawServer) -> None:
        """With less time left than the shortest timeouts, no AWS call starts: a retryable DeliveryError."""
        aws = AwsClients()
        smallest = sum(AWS_TIMEOUTS[-1])
        with within(lambda: smallest / 2), pytest.raises(DeliveryError, match="no time left") as caught:
            aws("sqs")
        assert caught.value.retryable
        client = aws("sqs")  # outside a send: the longest timeouts, and calls allowed
        left = [30.0]
        with within(lambda: left[0]):
            client_in_send = aws("sqs")
            left[0] = smallest / 2  # time runs out between two calls of one send (the parts of an alert)
            with pytest.raises(DeliveryError, match="no time left"):
                client_in_send.send_message(QueueUrl=f"{silent_aws.url}/1/q", MessageBody="x")
        assert client.meta.config.read_timeout == AWS_TIMEOUTS[0][1]
        assert silent_aws.connections == 0
