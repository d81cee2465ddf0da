"""A small HTTP client on urllib.request for webhook outputs: no redirects, one deadline per request, typed errors.

urllib's ``timeout`` bounds each socket operation, so a server that trickles a byte every few seconds could
hold a request for ever. Here each request has one deadline, ``timeout`` seconds or the time the send has
left (``runtime.outputs.deadline``) if that is less: the connection, the TLS handshake, every write and every
read get only what remains of it, and a read or write past it fails as a timeout. Response bodies are read
up to a bound. Every failure becomes a DeliveryError whose message names the URL's origin and the kind of
failure only, never the URL's path or query, a header value or a secret echoed back by the server.
"""

from __future__ import annotations

import email.utils
import functools
import http.client
import io
import json
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.outputs.deadline import seconds_left
from runtime.retry import RETRYABLE_STATUSES, DeliveryError, classify
from runtime.secrets import redact, url_secret_parts

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
USER_AGENT = "sigil-alerts/1"
BODY_LIMIT = 1024 * 1024  # of a 2xx answer: webhooks answer "ok", Jira's search a few hundred bytes
ERROR_BODY_LIMIT = 1024  # of a non-2xx answer, of which SNIPPET_CHARS are shown
SNIPPET_CHARS = 200
SEND_BLOCK = 16 * 1024  # a request is written in blocks so that each write gets only the time left


@dataclass(frozen=True)
class Response:
    """A 2xx answer (its body read up to BODY_LIMIT bytes)."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)


class HttpStatusError(DeliveryError):
    """A non-2xx answer; retryable for 408/425/429 and 5xx, with the server's Retry-After if any."""

    def __init__(self, status: int, where: str, snippet: str, retry_after: float | None) -> None:
        retryable = status in RETRYABLE_STATUSES or status >= 500
        super().__init__(
            f"HTTP {status} from {where}: {snippet}", retryable=retryable, retry_after=retry_after
        )
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: a webhook URL is a secret and must not be forwarded elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def origin(url: str) -> str:
    """Return ``scheme://host[:port]`` of a URL: safe to log, unlike paths that often embed secrets."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<invalid URL>"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def check_url(url: str) -> None:
    """Allow https anywhere and plain http only to the loopback interface; raise DeliveryError otherwise."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise DeliveryError(f"invalid URL to {origin(url)}", retryable=False) from None
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        return
    raise DeliveryError(f"refusing {parts.scheme or 'schemeless'} URL to {host}", retryable=False)


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Return the wait a Retry-After header asks for (seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError):
        return None


# what a transport failure is called in an error, most specific class first
FAILURE_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (socket.gaierror, "host name not resolved"),
    (TimeoutError, "timed out"),
    (ConnectionRefusedError, "connection refused"),
    (http.client.RemoteDisconnected, "connection closed without an answer"),
    (BrokenPipeError, "connection closed while sending"),
    (ConnectionError, "connection reset"),
    (http.client.IncompleteRead, "answer ended early"),
    (http.client.LineTooLong, "answer has an over-long line"),
    (http.client.BadStatusLine, "malformed answer"),
    (http.client.InvalidURL, "invalid URL"),
    (UnicodeError, "invalid host name"),
    (ValueError, "invalid URL or header value"),
)


def failure(exc: BaseException) -> str:
    """Name a transport failure without its message, which may quote the URL, a header or the body."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        return failure(exc.reason)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate refused ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or type(exc).__name__})"
    for cls, text in FAILURE_KINDS:
        if isinstance(exc, cls):
            return text
    return "network error" if isinstance(exc, OSError) else "HTTP protocol error"


@dataclass(frozen=True)
class HttpClient:
    """POST JSON bodies with urllib; raise HttpStatusError, or a DeliveryError for any other failure.

    ``timeout`` is the most one request may take in all, from connecting to the end of the body read.
    """

    timeout: float = 10.0
    now: Callable[[], float] = time.time
    tls: ssl.SSLContext = field(default_factory=ssl.create_default_context, repr=False)

    def post(
        self, url: str, body: bytes, headers: Mapping[str, str] | None = None, *, secrets: Iterable[str] = ()
    ) -> Response:
        """POST ``body`` to ``url`` and return the 2xx response."""
        return self.request("POST", url, body, headers, secrets=secrets)

    def post_json(
        self,
        url: str,
        document: Any,
        headers: Mapping[str, str] | None = None,
        *,
        secrets: Iterable[str] = (),
    ) -> Response:
        """POST ``document`` as JSON."""
        body = json.dumps(document, separators=(",", ":"), default=str).encode()
        return self.post(url, body, {"Content-Type": "application/json", **(headers or {})}, secrets=secrets)

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        secrets: Iterable[str] = (),
    ) -> Response:
        """Send one request within its deadline; never follows redirects, never reveals a secret in an error.

        ``secrets`` (say, a routing key in the body) are redacted from error messages along with the
        URL's secret parts and the header values (but Content-Type).
        """
        check_url(url)
        budget = seconds_left(self.timeout)
        where = origin(url)
        if budget <= 0:
            raise DeliveryError(
                f"TimeoutError reaching {where}: no time left for the request", retryable=True
            )
        sent = {k: v for k, v in (headers or {}).items() if k.lower() != "content-type"}
        hidden = [*url_secret_parts(url), *sent.values(), *secrets]
        expires = time.monotonic() + budget
        opener = urllib.request.build_opener(
            _NoRedirect, _HttpHandler(expires), _HttpsHandler(expires, self.tls)
        )
        try:
            request = urllib.request.Request(url, data=body, method=method)
            for name, value in {"User-Agent": USER_AGENT, **(headers or {})}.items():
                request.add_header(name, value)
            with opener.open(request) as response:
                return Response(response.status, dict(response.headers.items()), _read_body(response))
        except urllib.error.HTTPError as exc:
            retry_after = parse_retry_after(exc.headers.get("Retry-After"), self.now)
            raise HttpStatusError(exc.code, where, self._snippet(exc, hidden), retry_after) from None
        except Exception as exc:  # every other failure: transport, protocol, a bad URL or header
            if isinstance(exc, TimeoutError | urllib.error.URLError) and time.monotonic() >= expires:
                kind = f"no answer within the request's {budget:.1f} s"
            else:
                kind = failure(exc)
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            name = type(reason if isinstance(reason, BaseException) else exc).__name__
            raise DeliveryError(
                f"{name} reaching {where}: {kind}", retryable=classify(exc).retryable
            ) from None

    def _snippet(self, error: urllib.error.HTTPError, hidden: list[str]) -> str:
        """Return the start of an error answer's body, read within the deadline, secrets redacted."""
        try:
            body = error.read(ERROR_BODY_LIMIT)
        except Exception:  # the body of an error is a courtesy: a failure to read it changes nothing
            body = b""
        finally:
            error.close()
        return redact(body.decode("utf-8", errors="replace"), hidden)[:SNIPPET_CHARS]


def _read_body(response: http.client.HTTPResponse) -> bytes:
    """Read the body up to BODY_LIMIT bytes; raise IncompleteRead if it ends before its Content-Length."""
    body = response.read(BODY_LIMIT)
    if len(body) < BODY_LIMIT and response.length:  # read(amt) returns what came before the close, silently
        raise http.client.IncompleteRead(body, response.length)
    return body


# --- one deadline per request -------------------------------------------------------------------------


def _time_left(expires: float) -> float:
    """Seconds until ``expires``; raise TimeoutError when it has passed."""
    left = expires - time.monotonic()
    if left <= 0:
        raise TimeoutError("request deadline passed")
    return left


class _DeadlineReader(io.RawIOBase):
    """The raw reader under a response: each read is given only the time left before the deadline."""

    def __init__(self, sock: socket.socket, expires: float) -> None:
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)  # holds the socket open until this reader closes
        self._expires = expires

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._sock.settimeout(_time_left(self._expires))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """What HTTPResponse sees of the socket: ``makefile`` returns a reader bound by the deadline."""

    def __init__(self, sock: socket.socket, expires: float) -> None:
        self._sock = sock
        self._expires = expires

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._expires))


class _DeadlineResponse(http.client.HTTPResponse):
    """An HTTPResponse whose status line, headers and body are all read before the deadline or not at all."""

    def __init__(self, sock: socket.socket, *args: Any, expires: float, **kwargs: Any) -> None:
        super().__init__(_DeadlineSocket(sock, expires), *args, **kwargs)  # type: ignore[arg-type]


class _DeadlineConnection(http.client.HTTPConnection):
    """An HTTP connection whose connect, writes and reads all end by ``expires`` (a monotonic time)."""

    def __init__(self, host: str, *, expires: float, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self.expires = expires
        self.response_class = functools.partial(_DeadlineResponse, expires=expires)  # type: ignore[assignment]

    def connect(self) -> None:
        self.timeout = _time_left(self.expires)
        super().connect()

    def send(self, data: Any) -> None:
        """Write ``data`` in blocks, each given only the time left (one sendall has no overall bound on TLS)."""
        if not isinstance(data, bytes | bytearray):
            super().send(data)
            return
        if self.sock is None:
            self.connect()
        view = memoryview(data)
        for start in range(0, len(view), SEND_BLOCK):
            assert self.sock is not None
            self.sock.settimeout(_time_left(self.expires))
            self.sock.sendall(view[start : start + SEND_BLOCK])


class _DeadlineHttpsConnection(_DeadlineConnection):
    """The same over TLS: the handshake, as a whole, gets what is left after connecting."""

    default_port = http.client.HTTPS_PORT

    def __init__(self, host: str, *, context: ssl.SSLContext, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._context = context

    def connect(self) -> None:
        super().connect()  # TCP, and the proxy tunnel if any
        assert self.sock is not None
        self.sock.settimeout(_time_left(self.expires))  # CPython bounds the whole handshake by this timeout
        self.sock = self._context.wrap_socket(self.sock, server_hostname=getattr(self, "_tunnel_host", None) or self.host)


class _HttpHandler(urllib.request.HTTPHandler):
    """urllib's HTTP handler, opening deadline-bound connections."""

    def __init__(self, expires: float) -> None:
        super().__init__()
        self._expires = expires

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(functools.partial(_DeadlineConnection, expires=self._expires), req)


class _HttpsHandler(urllib.request.HTTPSHandler):
    """urllib's HTTPS handler, opening deadline-bound TLS connections."""

    def __init__(self, expires: float, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._expires = expires
        self._tls = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(_DeadlineHttpsConnection, expires=self._expires, context=self._tls)
        return self.do_open(connection, req)
