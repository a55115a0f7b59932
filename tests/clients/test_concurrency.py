"""At most USAGE_EVOVOICE_CONCURRENCY calls in flight to EvoVoice per process, however many
requests are being served at once."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.serving import make_server

from clients.cached_http import CachedUpstream
from clients.concurrency import ProcessSlots
from clients.evovoice import EvovoiceClient
from clients.fanout import THREADS
from simulators import SimulatorState
from simulators.data import EVOVOICE_SERVICE_USER
from simulators.server import build_wsgi_app

LIMIT = 3
WAIT = 10  # seconds a test waits for what must happen; a regression fails, not hangs


class InFlight:
    """WSGI middleware counting the EvoVoice requests the simulator is answering at once."""

    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.total = 0
        self.paths: list[str] = []
        self.holding = False  # True: each request waits here for a pass
        self.passes = threading.Semaphore(0)
        self.held = 0

    def __call__(self, environ, start_response):
        counted = environ["PATH_INFO"].startswith("/evovoice/")
        if counted:
            with self.lock:
                self.now += 1
                self.total += 1
                self.paths.append(environ["PATH_INFO"])
                self.most = max(self.most, self.now)
        try:
            if counted and self.holding:
                with self.lock:
                    self.held += 1
                self.passes.acquire(timeout=WAIT)
                with self.lock:
                    self.held -= 1
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


def soon(condition) -> bool:
    """Return whether condition() holds within WAIT seconds."""
    ends = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > ends:
            return False
        time.sleep(0.01)
    return True


def test_a_series_takes_each_freed_slot_at_once_and_asks_each_read_once_within_the_limit(
    counted_evovoice, cache_url, policy, test_secret
):
    url, counter = counted_evovoice
    http = CachedUpstream(cache_url, test_secret, replace(policy, deadline=30, read_timeout=10))
    username, password = EVOVOICE_SERVICE_USER
    client = EvovoiceClient(http, lambda: url, username, password, concurrency=LIMIT)
    end = datetime.now(UTC).date() - timedelta(days=1)
    start = end - timedelta(days=19)
    out: list = []
    counter.holding = True
    reading = threading.Thread(
        target=lambda: out.append(client.minutes_series(start, end, "day", "acct-northwind"))
    )
    try:
        reading.start()
        signing_in = soon(lambda: counter.held == 1)
        counter.passes.release()
        filled = soon(lambda: counter.held == LIMIT)
        arrived = counter.total
        counter.passes.release()  # one read ends: the next takes its slot, not a round later
        refilled = soon(lambda: counter.total == arrived + 1 and counter.held == LIMIT)
        counter.holding = False
        counter.passes.release(LIMIT)
        reading.join(WAIT * 3)
        cold = out[0]
        asked = counter.paths.count("/evovoice/ai/usage")
        handed = THREADS.submitted
        warm = client.minutes_series(start, end, "day", "acct-northwind")
    finally:
        counter.holding = False
        counter.passes.release(LIMIT)
        http.close()
    assert signing_in and filled and refilled
    assert asked == 21  # twenty days and the whole range, each once
    assert counter.paths.count("/evovoice/auth/credentials") == 1
    assert counter.most == LIMIT
    assert [b.ai_minutes for b in warm.buckets] == [b.ai_minutes for b in cold.buckets]
    assert {f.source for f in warm.results} == {"cache"}
    assert counter.paths.count("/evovoice/ai/usage") == asked  # warm: from the memo
    assert THREADS.submitted == handed  # and on the caller's thread alone
