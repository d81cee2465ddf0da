"""Every failure a send can meet is classified transient or permanent, and no secret reaches a log or letter.

The secrets here (a webhook path and query, a Slack hook URL, a PagerDuty routing key, a Jira token) are
distinctive strings; each test provokes a failure whose raw exception or server answer carries one, then
greps the captured log lines and the dead-letter queue for it.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import urllib.error
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    ReadTimeoutError,
)
from support.delivery import create_queue, dispatcher, drain, put_secret, sample_alert, unique
from support.http_servers import Recorded, Reply, ScriptedServer
from support.misbehaving_servers import RawServer, answer, read_request

from runtime.outputs.http import HttpClient
from runtime.retry import DeliveryError, classify
from runtime.secrets import SecretStore

SECRET_PATH = "hooks/T0SECRET/B0SECRET/xoxSECRETxyz123"
SECRET_QUERY = "sig=QUERYSECRET987654"
ROUTING_KEY = "R0UTINGKEY0123456789abcdef012345"
JIRA_TOKEN = "JIRATOKEN-4f9a8b7c6d5e"


def http_error(status: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("https://h/secret", status, "x", Message(), None)


def client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


TRANSIENT = [
    TimeoutError(),
    TimeoutError(),
    ConnectionRefusedError(),
    ConnectionResetError(),
    BrokenPipeError(),
    socket.gaierror(-3, "Temporary failure in name resolution"),
    http.client.RemoteDisconnected("Remote end closed connection without response"),
    http.client.IncompleteRead(b"", 10),
    http.client.BadStatusLine("garbage"),
    http.client.LineTooLong("header line"),
    urllib.error.URLError(ConnectionRefusedError()),
    urllib.error.URLError(TimeoutError()),
    http_error(503),
    http_error(429),
    http_error(408),
    ssl.SSLError(1, "WRONG_VERSION_NUMBER"),
    ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
    EndpointConnectionError(endpoint_url="https://sqs"),
    ConnectTimeoutError(endpoint_url="https://sqs"),
    ReadTimeoutError(endpoint_url="https://sqs"),
    ConnectionClosedError(endpoint_url="https://sqs"),
    IncompleteReadError(actual_bytes=1, expected_bytes=2),
    CredentialRetrievalError(provider="container", error_msg="timeout"),
    client_error("RequestTimeout", 400),
    client_error("ThrottlingException", 400),
    client_error("InternalError", 500),
]
PERMANENT = [
    http.client.InvalidURL("URL can't contain control characters"),
    http.client.CannotSendRequest(),
    urllib.error.URLError("no host given"),
    http_error(404),
    http_error(401),
    ssl.SSLCertVerificationError(1, "certificate verify failed"),
    ValueError("Invalid header value"),
    UnicodeError("label too long"),
    ParamValidationError(report="bad"),
    NoRegionError(),
    NoCredentialsError(),
    client_error("AccessDenied", 403),
    KeyError("bug"),
]


class TestClassification:
    @pytest.mark.parametrize("error", TRANSIENT, ids=lambda e: type(e).__name__)
    def test_transient(self, error: BaseException) -> None:
        """The network, timeouts, answers cut short or malformed, throttling and 5xx are retried."""
        assert classify(error).retryable

    @pytest.mark.parametrize("error", PERMANENT, ids=lambda e: type(e).__name__)
    def test_permanent(self, error: BaseException) -> None:
        """Malformed URLs and headers, refused certificates, other 4xx, configuration and bugs are not."""
        assert not classify(error).retryable


def tls_garbage(connection: socket.socket, server: RawServer) -> None:
    """Answer a TLS ClientHello with plain HTTP."""
    connection.recv(4096)
    connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def close_at_once(connection: socket.socket, server: RawServer) -> None:
    read_request(connection)


ANSWERS = {
    "closed without an answer": (close_at_once, "connection closed without an answer"),
    "body cut short": (answer(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"), "answer ended early"),
    "malformed status line": (answer(b"garbage\r\n\r\n"), "malformed answer"),
    "over-long header": (answer(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70_000 + b"\r\n\r\n"), "over-long line"),
}


class TestTransportFailures:
    @pytest.mark.parametrize("case", list(ANSWERS))
    def test_misbehaving_server_is_a_transient_delivery_error(self, case: str) -> None:
        """Each http.client failure becomes a retryable DeliveryError naming the origin and the kind only."""
        behaviour, kind = ANSWERS[case]
        with RawServer(behaviour) as server, pytest.raises(DeliveryError) as caught:
            HttpClient(timeout=5).post(f"{server.url}/{SECRET_PATH}?{SECRET_QUERY}", b"{}")
        assert caught.value.retryable
        assert kind in str(caught.value) and server.url in str(caught.value)
        assert "SECRET" not in str(caught.value)

    def test_tls_failure_is_transient(self) -> None:
        """A TLS error other than a refused certificate is retried."""
        with RawServer(tls_garbage) as server, pytest.raises(DeliveryError, match="TLS error") as caught:
            HttpClient(timeout=5).post(server.url.replace("http:", "https:") + f"/{SECRET_PATH}", b"{}")
        assert caught.value.retryable and "SECRET" not in str(caught.value)

    def test_cut_short_answer_retried_then_dead_lettered(self, aws_env: str) -> None:
        """An answer cut short is retried up to max_attempts (it used to be a permanent error)."""
        prefix = "/" + unique("sigil-errors")
        dlq = create_queue(aws_env)
        with RawServer(ANSWERS["body cut short"][0]) as server:
            put_secret(
                aws_env,
                "secretsmanager",
                f"{prefix}/webhook/w",
                json.dumps({"url": server.url, "hmac_key": "k"}),
            )
            dispatcher_, sleeps = dispatcher(
                aws_env, {}, secrets_prefix=prefix, default_outputs=("webhook:w",), dlq_url=dlq
            )
            assert dispatcher_.deliver([sample_alert()]).dead_lettered
            assert server.connections == 3
        [letter] = [m.json() for m in drain(aws_env, dlq)]
        assert (letter["reason"], letter["attempts"], len(sleeps.delays)) == ("attempts", 3, 2)


@pytest.fixture
def echo() -> Iterator[ScriptedServer]:
    """A receiver answering 404 with the path, query and body it was sent (as some frameworks do)."""

    def reflect(request: Recorded) -> Reply:
        query = "&".join(f"{k}={v[0]}" for k, v in request.query.items())
        return Reply(404, f"no route for POST {request.path}?{query}: {request.body[:300]!r}".encode())

    with ScriptedServer(responder=reflect) as server:
        yield server


def leaks(text: str, *secrets: str) -> list[str]:
    """The secrets (or their distinctive middles) found in ``text``."""
    return [s for s in secrets if s in text or s[2:-2] in text]


class TestNoSecretInLogsOrLetters:
    def deliver(self, aws_env: str, outputs: dict[str, Any], secret: tuple[str, Any], **options: Any) -> Any:
        """Deliver one alert to the one output given, its secret stored; return (report, DLQ bodies)."""
        prefix = "/" + unique("sigil-leaks")
        name, value = secret
        put_secret(
            aws_env,
            "secretsmanager",
            f"{prefix}/{name}",
            value if isinstance(value, str) else json.dumps(value),
        )
        dlq = create_queue(aws_env)
        dispatcher_, _ = dispatcher(
            aws_env, outputs, secrets_prefix=prefix, default_outputs=tuple(outputs), dlq_url=dlq, **options
        )
        report = dispatcher_.deliver([sample_alert()])
        return report, "\n".join(m.body + json.dumps(m.attributes) for m in drain(aws_env, dlq))

    def test_webhook_path_and_query_echoed_by_the_server(
        self, aws_env: str, echo: ScriptedServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A 404 that quotes the secret URL: the letter keeps the status and origin, not the path or query."""
        url = f"{echo.url}/{SECRET_PATH}?{SECRET_QUERY}"
        report, letters = self.deliver(
            aws_env, {"webhook:soar": {}}, ("webhook/soar", {"url": url, "hmac_key": "HMACKEYSECRET"})
        )
        assert report.dead_lettered and "HTTP 404 from " + echo.url in letters
        assert len(echo.requests) == 1
        assert leaks(letters + capsys.readouterr().out, SECRET_PATH, SECRET_QUERY, "QUERYSECRET987654") == []

    def test_retried_failures_log_no_secret(self, aws_env: str, capsys: pytest.CaptureFixture[str]) -> None:
        """503s quoting the Slack hook URL: neither the retry log lines nor the letter carry it."""
        with ScriptedServer(responder=lambda r: Reply(503, f"down: {r.path}".encode())) as server:
            url = f"{server.url}/services/{SECRET_PATH}"
            report, letters = self.deliver(aws_env, {"slack:secops": {}}, ("slack/secops", url))
        out = capsys.readouterr().out
        assert report.dead_lettered and '"event":"output_retry"' in out and "HTTP 503" in letters
        assert leaks(letters + out, SECRET_PATH, "xoxSECRETxyz123") == []

    def test_malformed_hook_url_names_no_path(self, aws_env: str, capsys: pytest.CaptureFixture[str]) -> None:
        """A hook URL with a space (http.client's InvalidURL quotes the path): permanent, and not quoted."""
        with ScriptedServer() as server:
            url = f"{server.url}/services/{SECRET_PATH} trailing"
            report, letters = self.deliver(aws_env, {"slack:secops": {}}, ("slack/secops", {"url": url}))
            assert server.requests == []
        assert report.dead_lettered and '"reason": "permanent"' in letters.replace('":"', '": "')
        assert "invalid URL" in letters
        assert leaks(letters + capsys.readouterr().out, SECRET_PATH) == []

    def test_jira_token_echoed_by_the_server(self, aws_env: str, capsys: pytest.CaptureFixture[str]) -> None:
        """A 401 quoting the credentials it was sent is redacted."""

        def reflect(request: Recorded) -> Reply:
            return Reply(401, f"bad credentials {request.header('Authorization')} / {JIRA_TOKEN}".encode())

        with ScriptedServer(responder=reflect) as server:
            fields = {"url": server.url, "username": "bot@example.com", "api_token": JIRA_TOKEN}
            report, letters = self.deliver(
                aws_env, {"jira:secops": {"project": "SEC"}}, ("jira/secops", fields)
            )
        basic = base64.b64encode(f"bot@example.com:{JIRA_TOKEN}".encode()).decode()
        assert report.dead_lettered and "HTTP 401" in letters and "bad credentials" in letters
        assert leaks(letters + capsys.readouterr().out, JIRA_TOKEN, basic) == []

    def test_pagerduty_routing_key_echoed_by_the_server(
        self, aws_env: str, echo: ScriptedServer, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A 404 quoting the event body (which holds the routing key): the key is redacted."""
        secret = {"routing_key": ROUTING_KEY, "url": f"{echo.url}/v2/enqueue"}
        report, letters = self.deliver(aws_env, {"pagerduty:oncall": {}}, ("pagerduty/oncall", secret))
        assert report.dead_lettered and "HTTP 404" in letters
        assert leaks(letters + capsys.readouterr().out, ROUTING_KEY) == []


class FakeSecretsManager:
    """Secrets Manager answering from a dict (the redaction is what is under test, not the fetch)."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = secrets

    def get_secret_value(self, SecretId: str) -> dict[str, str]:
        return {"SecretString": self.secrets[SecretId]}


class TestSecretStoreRedact:
    def test_redacts_what_it_handed_out_keeping_origins(self) -> None:
        """Field values and URL secret parts are redacted; a URL's origin and short values stay readable."""
        secrets = {
            "/p/slack/a": f"https://hooks.slack.com/services/{SECRET_PATH}",
            "/p/jira/b": json.dumps(
                {"url": "https://jira.example.com", "username": "bot", "api_token": JIRA_TOKEN}
            ),
            "/p/pagerduty/c": json.dumps({"routing_key": ROUTING_KEY}),
        }
        store = SecretStore("/p", "secretsmanager", lambda _: FakeSecretsManager(secrets))
        text = (
            f"POST https://hooks.slack.com/services/{SECRET_PATH} failed; bot used {JIRA_TOKEN} on "
            f"https://jira.example.com/rest; key {ROUTING_KEY}; last segment xoxSECRETxyz123"
        )
        assert store.redact(text) == text  # nothing read yet, nothing known
        for name in ("slack/a", "jira/b", "pagerduty/c"):
            store.fields(name)
        assert store.redact(text) == (
            "POST https://hooks.slack.com<redacted> failed; bot used <redacted> on "
            "https://jira.example.com/rest; key <redacted>; last segment <redacted>"
        )
