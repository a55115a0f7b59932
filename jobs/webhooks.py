"""Webhooks: a signed JSON POST, never redirected, never to a private address outside demo mode.

X-Usage-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>.
The address is checked where the socket actually connected, after DNS, so a name that
resolves to 127.0.0.1 (or 127.1, or a private network) is refused like the address itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import certifi
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)

from core.config import Settings
from models import Delivery
from services.alert_rules import is_private_address

from .sending import Result, one_line

USER_AGENT = "usage-dashboard-webhooks/1"
_ANSWER_BYTES = 1024  # of an error answer, kept for the attempt's error text


class PrivateAddress(Exception):
    """The connection reached a loopback, link-local or private address."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"{host} is at {address}")
        self.host = host
        self.address = address


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """Return the X-Usage-Signature value for `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, body: bytes, header: str, *, tolerance: int = 300) -> bool:
    """Tell whether a signature header is `secret`'s over `body`, made within `tolerance` s."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


class _CheckedPeer:
    """Check, once connected and before a byte is sent, where the socket really is."""

    def __init__(
        self, *args: Any, allow_private: bool = False, watch: _Watch | None = None, **kwargs: Any
    ) -> None:
        self.allow_private = allow_private
        self.watch = watch
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        if self.watch is not None:
            self.watch.add(sock)
        if not self.allow_private:
            peer = str(sock.getpeername()[0]).split("%", 1)[0]
            if is_private_address(ipaddress.ip_address(peer)):
                sock.close()
                raise PrivateAddress(self.host, peer)  # type: ignore[attr-defined]
        return sock


class _Watch:
    """Cut a send's sockets when its whole time is up.

    Timeouts bound each read, so a receiver answering a byte at a time could hold a send for
    ever, outlive its lease and get the delivery again from another consumer. The whole send
    (connect, request, answer) ends within `seconds`, well inside the lease.
    """

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watch:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._cut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._cut(sock)

    @staticmethod
    def _cut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


def whole_send_seconds(settings: Settings) -> float:
    """Return how long one webhook send may take in all: connect, request and answer."""
    return 2 * settings.webhook_timeout


class CheckedHTTPConnection(_CheckedPeer, HTTPConnection):
    """An HTTP connection that refuses private peers unless allowed."""


class CheckedHTTPSConnection(_CheckedPeer, HTTPSConnection):
    """An HTTPS connection that refuses private peers unless allowed."""


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = CheckedHTTPSConnection


def send_webhook(row: Delivery, secret: str, settings: Settings) -> Result:
    """POST the delivery's stored payload, signed, to its URL; never follow a redirect."""
    demo = settings.demo_enabled
    parts = urlsplit(row.target)
    if parts.scheme not in (("https", "http") if demo else ("https",)) or not parts.hostname:
        return Result.failed("refused: not https", "webhooks go to https:// URLs only")
    body = row.payload.encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Usage-Delivery": row.uid,
        "X-Usage-Signature": sign(secret, body, int(time.time())),
    }
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = Timeout(connect=settings.webhook_timeout, read=settings.webhook_timeout)
    whole = whole_send_seconds(settings)
    try:
        pool = _pool(parts.scheme, parts.hostname, parts.port, timeout, demo, _Watch(whole))
    except (ValueError, HTTPError):
        return Result.failed("refused: bad URL", "the webhook URL's host cannot be read")
    watch = pool.conn_kw["watch"]
    try:
        with watch:
            response = pool.urlopen(
                "POST", path, body=body, headers=headers, redirect=False, retries=False,
                preload_content=False,
            )  # fmt: skip
            answer = response.read(_ANSWER_BYTES, decode_content=False)
            status, location = response.status, response.headers.get("Location", "")
            response.release_conn()
    except PrivateAddress as exc:
        return Result.failed(
            "refused: private address",
            f"{exc.host} is at {exc.address}: webhooks are never sent to loopback, link-local "
            "or private addresses outside demo mode",
        )
    except NameResolutionError:
        return Result.retry("connection error", f"{parts.hostname} cannot be resolved")
    except NewConnectionError as exc:  # before timeouts: urllib3 makes it a ConnectTimeoutError
        return Result.retry("connection error", f"cannot connect: {_reason(exc)}")
    except (ConnectTimeoutError, ReadTimeoutError, TimeoutError):
        return Result.retry("timeout", f"no answer within {settings.webhook_timeout:g} s")
    except SSLError as exc:
        return Result.retry("TLS error", one_line(str(exc)))
    except (HTTPError, OSError) as exc:
        if watch.expired:  # the watch cut the socket: the receiver was too slow
            return _too_slow(whole)
        return Result.retry("connection error", f"{type(exc).__name__}: {one_line(str(exc))}")
    finally:
        pool.close()
    if watch.expired:
        return _too_slow(whole)
    return _judge(status, answer, location)


def _too_slow(whole: float) -> Result:
    return Result.retry("timeout", f"no whole answer within {whole:g} s")


def _pool(
    scheme: str, host: str, port: int | None, timeout: Timeout, demo: bool, watch: _Watch
) -> HTTPConnectionPool:
    if scheme == "https":
        return _CheckedHTTPSPool(
            host, port or 443, timeout=timeout, retries=False, maxsize=1,
            cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), allow_private=demo, watch=watch,
        )  # fmt: skip
    return _CheckedHTTPPool(
        host, port or 80, timeout=timeout, retries=False, maxsize=1, allow_private=demo,
        watch=watch,
    )  # fmt: skip


def _reason(exc: NewConnectionError) -> str:
    # "…: Failed to establish a new connection: [Errno 111] Connection refused"
    return one_line(str(exc).rsplit(": ", 1)[-1], 120)


def _judge(status: int, answer: bytes, location: str) -> Result:
    said = one_line(answer.decode("utf-8", "replace"), 120)
    if 200 <= status < 300:
        return Result.sent(f"HTTP {status}")
    if 300 <= status < 400:
        return Result.failed(
            f"HTTP {status}",
            f"the receiver redirected (HTTP {status} to {one_line(location, 120) or '?'}); "
            "redirects are not followed: give the final URL",
        )
    if 400 <= status < 500:
        return Result.failed(
            f"HTTP {status}",
            f"the receiver refused it (HTTP {status}{': ' + said if said else ''}); "
            "a 4xx answer is not retried",
        )
    return Result.retry(f"HTTP {status}", f"HTTP {status}{': ' + said if said else ''}")
