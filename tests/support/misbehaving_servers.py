"""Raw TCP servers on 127.0.0.1 that misbehave the way a slow or hostile receiver does.

Each accepted connection is handed to a behaviour ``(connection, server) -> None``: trickle a response
byte by byte, never answer, stream an endless body, close half-way. A behaviour ends by itself after
``lifetime`` seconds at most, so that a client without its own deadline fails a test instead of hanging it.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable

HOST = "127.0.0.1"
Behaviour = Callable[[socket.socket, "RawServer"], None]


class RawServer:
    """Accept connections on 127.0.0.1:0 and run ``behaviour`` on each in its own thread."""

    def __init__(self, behaviour: Behaviour, tls: ssl.SSLContext | None = None) -> None:
        self.behaviour = behaviour
        self.tls = tls
        self.stopping = threading.Event()
        self.connections = 0
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(0.05)
        self.url = f"{'https' if tls else 'http'}://{HOST}:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def sent(self, count: int) -> None:
        """Count bytes a behaviour wrote (thread-safe)."""
        with self._lock:
            self.bytes_sent += count

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._run, args=(connection,), daemon=True).start()

    def _run(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the client gave up: what these servers provoke
            if self.tls is not None:
                connection.settimeout(5)
                connection = self.tls.wrap_socket(connection, server_side=True)
            with connection:
                self.behaviour(connection, self)


def self_signed(directory: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Return (server context, client context trusting it) for a fresh self-signed certificate of 127.0.0.1."""
    import datetime
    import ipaddress
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = Path(directory, "cert.pem"), Path(directory, "key.pem")
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


def read_request(connection: socket.socket) -> bytes:
    """Read the request head and a Content-Length body (a short timeout: clients send at once)."""
    connection.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def trickle(payload: bytes, every: float = 0.2, lifetime: float = 20.0, head: bytes = b"") -> Behaviour:
    """Read the request, send ``head`` at once, then ``payload`` one byte every ``every`` seconds (its last
    byte repeated until ``lifetime`` is over)."""

    def behaviour(connection: socket.socket, server: RawServer) -> None:
        read_request(connection)
        connection.sendall(head)
        end = time.monotonic() + lifetime
        index = 0
        while time.monotonic() < end and not server.stopping.wait(every):
            connection.sendall(payload[min(index, len(payload) - 1) : min(index, len(payload) - 1) + 1])
            index += 1

    return behaviour


def silent(lifetime: float = 20.0, read: bool = True) -> Behaviour:
    """Accept (and read the request, unless ``read`` is false) but never answer."""

    def behaviour(connection: socket.socket, server: RawServer) -> None:
        if read:
            read_request(connection)
        server.stopping.wait(lifetime)

    return behaviour


def answer(raw: bytes) -> Behaviour:
    """Read the request, send ``raw`` as is and close."""

    def behaviour(connection: socket.socket, server: RawServer) -> None:
        read_request(connection)
        connection.sendall(raw)

    return behaviour


def endless_body(status: int = 200, total: int = 96 * 1024 * 1024) -> Behaviour:
    """Read the request, then stream ``total`` bytes of body as fast as the client takes them."""

    def behaviour(connection: socket.socket, server: RawServer) -> None:
        read_request(connection)
        connection.sendall(f"HTTP/1.1 {status} X\r\nContent-Length: {total}\r\n\r\n".encode())
        block = b"x" * 65536
        left = total
        connection.settimeout(10)
        while left > 0 and not server.stopping.is_set():
            connection.sendall(block[: min(left, len(block))])
            server.sent(min(left, len(block)))
            left -= len(block)

    return behaviour
