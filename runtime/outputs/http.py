"""A small HTTP client on urllib.request for webhook outputs: no redirects, bounded timeouts, typed errors."""

from __future__ import annotations

import email.utils
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runtime.retry import DeliveryError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
RETRYABLE_STATUSES = frozenset({408, 425, 429})
USER_AGENT = "sigil-alerts/1"


@dataclass(frozen=True)
class Response:
    """A 2xx answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)


class HttpStatusError(DeliveryError):
    """A non-2xx answer; retryable for 408/425/429 and 5xx, with the server's Retry-After if any."""

    def __init__(self, status: int, where: str, body: bytes, retry_after: float | None) -> None:
        retryable = status in RETRYABLE_STATUSES or status >= 500
        snippet = body[:200].decode("utf-8", errors="replace")
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
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def check_url(url: str) -> None:
    """Allow https anywhere and plain http only to the loopback interface; raise DeliveryError otherwise."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return
    raise DeliveryError(f"refusing {parts.scheme or 'schemeless'} URL to {parts.hostname}", retryable=False)


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


@dataclass(frozen=True)
class HttpClient:
    """POST JSON bodies with urllib; raise HttpStatusError or a retryable DeliveryError for transport errors."""

    timeout: float = 10.0
    now: Callable[[], float] = time.time
    _opener: urllib.request.OpenerDirector = field(
        default_factory=lambda: urllib.request.build_opener(_NoRedirect), repr=False
    )

    def post(self, url: str, body: bytes, headers: Mapping[str, str] | None = None) -> Response:
        """POST ``body`` to ``url`` and return the 2xx response."""
        return self.request("POST", url, body, headers)

    def post_json(self, url: str, document: Any, headers: Mapping[str, str] | None = None) -> Response:
        """POST ``document`` as JSON."""
        body = json.dumps(document, separators=(",", ":"), default=str).encode()
        return self.post(url, body, {"Content-Type": "application/json", **(headers or {})})

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> Response:
        """Send one request; never follows redirects, never puts the URL's path in an error."""
        check_url(url)
        request = urllib.request.Request(url, data=body, method=method)
        for name, value in {"User-Agent": USER_AGENT, **(headers or {})}.items():
            request.add_header(name, value)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return Response(response.status, dict(response.headers.items()), response.read())
        except urllib.error.HTTPError as exc:
            retry_after = parse_retry_after(exc.headers.get("Retry-After"), self.now)
            raise HttpStatusError(exc.code, origin(url), exc.read(), retry_after) from None
        except (OSError, ValueError) as exc:  # URLError, refused, reset, timeout; ValueError: bad URL
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(
                f"{type(exc).__name__} reaching {origin(url)}: {reason}", retryable=isinstance(exc, OSError)
            ) from None
