"""At most USAGE_EVOVOICE_CONCURRENCY calls in flight to EvoVoice per process, however many
requests are being served at once."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.serving import make_server

from clients.cached_http import CachedUpstream
from clients.concurrency import ProcessSlots
from clients.evovoice import EvovoiceClient
from simulators import SimulatorState
from simulators.data import EVOVOICE_SERVICE_USER
from simulators.server import build_wsgi_app

LIMIT = 3


class InFlight:
    """WSGI middleware counting the EvoVoice requests the simulator is answering at once."""

    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.total = 0

    def __call__(self, environ, start_response):
        counted = environ["PATH_INFO"].startswith("/evovoice/")
        if counted:
            with self.lock:
                self.now += 1
                self.total += 1
                self.most = max(self.most, self.now)
        try:
            return list(self.app(environ, start_response))  # the whole answer, inside the count
        finally:
            if counted:
                with self.lock:
                    self.now -= 1


@pytest.fixture
def counted_evovoice():
    """Run a simulator behind the counter on loopback; return its base URL and the counter."""
    counter = InFlight(build_wsgi_app(SimulatorState(rate_limits=False, latency_ms=60)))
    server = make_server("127.0.0.1", 0, counter, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/evovoice", counter
    server.shutdown()
    server.server_close()
    thread.join()


def test_concurrent_views_never_exceed_the_process_limit(
    counted_evovoice, cache_url, policy, test_secret
):
    url, counter = counted_evovoice
    http = CachedUpstream(cache_url, test_secret, replace(policy, deadline=30, read_timeout=10))
    username, password = EVOVOICE_SERVICE_USER
    client = EvovoiceClient(http, lambda: url, username, password, concurrency=LIMIT)
    end = datetime.now(UTC).date() - timedelta(days=1)
    errors: list[Exception] = []

    def view(weeks_back: int) -> None:
        # Each thread a different range: no two share a cache entry or a flight.
        last = end - timedelta(weeks=weeks_back)
        try:
            client.minutes_series(last - timedelta(days=6), last, "day")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=view, args=(n,)) for n in range(5)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        http.close()
    assert errors == []
    assert counter.total >= 5 * 8  # every bucket and range total was asked for
    assert counter.most == LIMIT  # the limit was reached, never passed


def test_a_forked_worker_starts_with_every_slot_free():
    slots = ProcessSlots(1)
    with slots.held(0) as held:
        assert held
        with slots.held(0) as second:
            assert not second  # the one slot is taken in this process
        child = os.fork()
        if child == 0:  # the worker: the parent's call in flight is not its own
            with slots.held(0) as in_child:
                os._exit(0 if in_child else 1)
        _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
