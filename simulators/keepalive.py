"""A threaded WSGI server that keeps HTTP/1.1 connections open and sends without delay.

Werkzeug's development server closes every connection (`Connection: close`), so each call
to a simulator paid a new TCP connection, and a server that leaves Nagle's algorithm on
may hold a response's body until the client's delayed ACK of its headers (40 ms on Linux)
on a kept-alive connection. Upstreams keep connections alive; the simulators do too, and
set TCP_NODELAY, so a simulator set to latency 0 costs about a millisecond a call.

Only `run_wsgi` differs from Werkzeug's handler: the request body is read to its end
after each answer (so the next request line is where the next read starts), an answer
without a length is sent chunked, and nothing else is read from the socket.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import traceback
from collections.abc import Iterable
from typing import Any

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

_NO_BODY = {204, 304}


class KeepAliveRequestHandler(WSGIRequestHandler):
    """Answer requests one after another on a connection the client keeps open."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: KeepAliveServer

    def setup(self) -> None:
        """Set TCP_NODELAY (in the base class) and let the server see the connection."""
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        """Flush and forget the connection."""
        self.server.untrack(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        """Answer one request and leave the connection ready for the next."""
        if self.headers.get("Expect", "").lower().strip() == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.environ = self.make_environ()
        if not environ.get("wsgi.input_terminated"):  # chunked bodies come dechunked
            length = int(environ.get("CONTENT_LENGTH") or 0)
            environ["wsgi.input"] = LimitedStream(self.rfile, length)
        answer: list[Any] = []
        framing: dict[str, bool] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info=None):
            if exc_info and framing:
                raise exc_info[1].with_traceback(exc_info[2])
            answer[:] = [status, headers]
            return write

        def write(data: bytes) -> None:
            if not framing:
                framing.update(self._send_head(*answer, environ["REQUEST_METHOD"]))
            if not data or framing["bodyless"]:
                return
            if framing["chunked"]:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                self.wfile.write(data)

        try:
            result: Iterable[bytes] = self.server.app(environ, start_response)
            try:
                for data in result:
                    write(data)
                write(b"")
                if framing["chunked"] and not framing["bodyless"]:
                    self.wfile.write(b"0\r\n\r\n")
            finally:
                if hasattr(result, "close"):
                    result.close()
            self._drain(environ["wsgi.input"])
        except (ConnectionError, TimeoutError):
            raise
        except Exception:  # noqa: BLE001 - one broken answer must not end the server thread
            self.close_connection = True
            self.log_error("%s", traceback.format_exc())
            if not framing:
                self.send_error(500)

    def _send_head(
        self, status: str, headers: list[tuple[str, str]], method: str
    ) -> dict[str, bool]:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        names = set()
        for name, value in headers:
            self.send_header(name, value)
            names.add(name.lower())
        bodyless = method == "HEAD" or int(code) < 200 or int(code) in _NO_BODY
        chunked = not bodyless and "content-length" not in names
        if chunked and self.request_version >= "HTTP/1.1":
            self.send_header("Transfer-Encoding", "chunked")
        elif chunked:
            # An HTTP/1.0 client reads an answer without a length up to the close.
            chunked = False
            self.send_header("Connection", "close")
        self.end_headers()
        return {"bodyless": bodyless, "chunked": chunked}

    def _drain(self, body: Any) -> None:
        # Whatever the app left of the request body would otherwise be read as the next
        # request line.
        while body.read(65536):
            pass


class KeepAliveServer(ThreadedWSGIServer):
    """A threaded WSGI server whose kept-alive connections are closed when it stops."""

    def __init__(self, host: str, port: int, app: Any, handler: type[KeepAliveRequestHandler]):
        super().__init__(host, port, app, handler)
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()

    def track(self, connection: socket.socket) -> None:
        """Remember an open connection."""
        with self._lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        """Forget a connection that is closing."""
        with self._lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut every open connection, waking its thread from the wait for a next request."""
        with self._lock:
            open_now = list(self._connections)
        for connection in open_now:
            with contextlib.suppress(OSError):  # the client closed it first
                connection.shutdown(socket.SHUT_RDWR)
