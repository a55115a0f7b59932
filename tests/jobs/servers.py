"""Real servers for the queue's tests: an HTTP receiver, an SMTP server, queue consumers."""

from __future__ import annotations

import ipaddress
import signal
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devtools.servers import BIN, ROOT, free_port


def wait_for(check: Callable[[], object], what: str, seconds: float = 30, log=None):
    """Poll `check` until it returns something truthy; fail with `what` (and a log) if never."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            tail = f"\n--- log ---\n{log()}" if log else ""
            raise AssertionError(f"timed out waiting for {what}{tail}")
        time.sleep(0.05)


@dataclass
class Received:
    """One request the receiver read in full."""

    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An http.server on loopback recording every POST; answers are scripted in order."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)
    # Status codes (with headers) for the next requests, in order; then 200.
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # When set, requests are held (read, recorded, not answered) until `release` is set.
    hold: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    # When above 0, answers go out a byte at a time with this many seconds between bytes.
    drip: float = 0.0
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.requests if path is None or r.path == path)

    def start(self) -> ThreadingHTTPServer:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                with receiver._lock:
                    receiver.connections += 1
                super().setup()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                if receiver.hold.is_set():
                    receiver.release.wait(60)
                if receiver.drip:
                    self._drip(status)
                    return
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the sender is gone (killed)

            def _drip(self, status: int) -> None:
                answer = f"HTTP/1.1 {status} OK\r\nContent-Length: 2\r\n\r\nok".encode()
                for byte in answer:
                    if receiver.release.wait(receiver.drip):
                        return
                    try:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    except OSError:
                        return  # the sender cut the connection

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


class _Collect:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpServer:
    """aiosmtpd on a free loopback port; with `login`, it offers AUTH and checks that login.

    `starttls`: it offers STARTTLS with that context and takes mail only after it;
    `implicit_tls`: it speaks TLS from the first byte (smtps).
    """

    def __init__(
        self,
        login: tuple[str, str] | None = None,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.handler = _Collect()
        self.host = host
        self.login = login
        self.logins: list[tuple[bytes, bytes]] = []
        kwargs: dict = {}
        if login:
            kwargs |= {
                "authenticator": self._authenticate,
                "auth_require_tls": False,  # plain loopback: the login is what is tested
            }
        if starttls:
            kwargs |= {"tls_context": starttls, "require_starttls": True}
        if implicit_tls:
            kwargs |= {"ssl_context": implicit_tls}
        self.port = free_port()
        self.controller = Controller(self.handler, hostname=host, port=self.port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, data) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        expected = tuple(part.encode() for part in self.login or ())
        ok = (data.login, data.password) == expected
        return AuthResult(success=ok, handled=ok)  # unhandled: aiosmtpd answers 535

    @property
    def messages(self) -> list[tuple[str, list[str], EmailMessage]]:
        return self.handler.messages


def loopback_certificate(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """Return a self-signed certificate for 127.0.0.1 (PEM file) and a server context with it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return cert_file, context


class Worker:
    """`flask --app app worker` in its own process, logging to a file."""

    def __init__(self, env: dict[str, str], log: Path, workers: int = 2) -> None:
        self.log_path = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [str(BIN / "flask"), "--app", "app", "worker", "--workers", str(workers)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_started(self) -> None:
        wait_for(lambda: "Huey consumer started" in self.log() or self.process.poll() is not None,
                 "the consumer to start", log=self.log)  # fmt: skip
        assert self.process.poll() is None, self.log()

    def kill(self) -> None:
        """SIGKILL: the process ends at once, whatever it was doing."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
