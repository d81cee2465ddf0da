"""A local HTTP server standing in for Slack, PagerDuty, Teams, Jira and webhooks.

It listens on 127.0.0.1 (port chosen by the OS), records every request, and answers from a script:
queued replies first (e.g. 500 twice, or 429 with Retry-After), then a default reply or a responder.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, headers: Mapping[str, str] | None = None) -> Reply:
        """A reply with a JSON body."""
        return cls(
            status, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})}
        )


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """Return a header value, matching the name case-insensitively."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)


class ScriptedServer:
    """A threading http.server on 127.0.0.1:0 that records requests and answers as scripted."""

    def __init__(
        self, default: Reply | None = None, responder: Callable[[Recorded], Reply | None] | None = None
    ) -> None:
        self.default = default or Reply()
        self.responder = responder
        self._queue: list[Reply] = []
        self._requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((HOST, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://{HOST}:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[Recorded]:
        """The requests received so far, in order."""
        with self._lock:
            return list(self._requests)

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies``, in order, before falling back to the default."""
        with self._lock:
            self._queue.extend(replies)

    def fail(self, status: int, times: int, headers: Mapping[str, str] | None = None) -> None:
        """Answer the next ``times`` requests with ``status``."""
        self.script(*[Reply(status, b"scripted failure", dict(headers or {}))] * times)

    def start(self) -> ScriptedServer:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _answer(self, request: Recorded) -> Reply:
        """Record the request and pick its reply."""
        with self._lock:
            self._requests.append(request)
            if self._queue:
                return self._queue.pop(0)
        if self.responder is not None:
            reply = self.responder(request)
            if reply is not None:
                return reply
        return self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        """Return a request handler class bound to this server."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urllib.parse.urlsplit(self.path)
                recorded = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=urllib.parse.parse_qs(parts.query),
                    headers=dict(self.headers.items()),
                    body=self.rfile.read(length),
                )
                reply = owner._answer(recorded)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output quiet."""

        return Handler
