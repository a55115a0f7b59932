"""The app signs in to EvoVoice when it starts, so a user's first read pays no sign-in.

Everything runs against the EvoVoice simulator over loopback HTTP; waits are bounded by
WAIT so a regression fails instead of hanging, and nothing asserts on time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from clients.cached_http import CachedUpstream
from clients.evovoice import EvovoiceClient
from simulators.data import EVOVOICE_SERVICE_USER
from tests.clients.test_concurrency import LIMIT, counted_evovoice  # noqa: F401 - a fixture
from tests.conftest import build_app

WAIT = 10  # seconds a test waits for what must happen
WRONG_PASSWORD = "Wr0ng-zebra-Passw0rd-7731"
END = datetime.now(UTC).date() - timedelta(days=1)
START = END - timedelta(days=89)  # a 90-day daily series: 90 buckets and the whole range


def soon(condition) -> bool:
    """Return whether condition() holds within WAIT seconds."""
    ends = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > ends:
            return False
        time.sleep(0.01)
    return True


def calls(sims, path: str) -> list[dict]:
    return [c for c in sims.state.calls() if c["path"] == path]


def started(config: dict):
    """Create the app as a server would, and wait until its sign-in ahead has ended."""
    app = build_app(config)
    assert app.extensions["upstreams"].evovoice.wait_signed_in_ahead(WAIT)
    return app


def test_the_first_series_after_start_makes_no_sign_in_and_at_most_92_calls(app_config, sims):
    app = started(app_config)
    evovoice = app.extensions["upstreams"].evovoice
    try:
        assert evovoice.signed_in
        assert len(calls(sims, "/auth/credentials")) == 1  # at start, off any request
        sims.state.clear_calls()
        series = evovoice.minutes_series(START, END, "day", "acct-northwind")
    finally:
        app.extensions["upstreams"].http.close()
    assert calls(sims, "/auth/credentials") == []
    usage = calls(sims, "/ai/usage")
    assert len(usage) == 91 <= 92  # each bucket and the whole range, once
    assert {c["status"] for c in usage} == {200}
    assert len(series.buckets) == 90


def test_the_first_page_after_start_reads_without_signing_in(
    app_config, sims, make_tenant, make_user, login, client
):
    app = client.application
    assert app.extensions["upstreams"].evovoice.wait_signed_in_ahead(WAIT)
    make_tenant("northwind", account="acct-northwind")
    make_user("n@example.com", tenant="northwind")
    login(client, "n@example.com")
    sims.state.clear_calls()
    page = client.get(
        "/usage", query_string={"start": START, "end": END, "granularity": "day", "metric": "all"}
    )
    assert page.status_code == 200
    assert "could not sign in" not in page.get_data(as_text=True)
    assert calls(sims, "/auth/credentials") == []
    # The series, and the previous range's total read with it.
    assert 91 <= len(calls(sims, "/ai/usage")) <= 92


def test_a_failed_sign_in_at_start_leaves_reads_signing_in_as_before(app_config, sims, caplog):
    with caplog.at_level(logging.WARNING, logger="clients.evovoice"):
        app = started({**app_config, "USAGE_EVOVOICE_PASSWORD": WRONG_PASSWORD})
    evovoice = app.extensions["upstreams"].evovoice
    try:
        assert not evovoice.signed_in
        warned = [r.getMessage() for r in caplog.records if "ahead of reads" in r.getMessage()]
        assert warned, "the failed sign-in is logged"
        logged = " ".join(warned)
        assert WRONG_PASSWORD not in logged
        assert "the service account could not sign in to EvoVoice" in logged
    finally:
        app.extensions["upstreams"].http.close()


def test_an_unreachable_evovoice_at_start_does_not_stop_the_first_read(
    cache_url, policy, test_secret, sims, caplog
):
    # Nothing listens on port 9 (discard) of loopback: the sign-in ahead cannot connect.
    url = ["http://127.0.0.1:9/evovoice"]
    http = CachedUpstream(cache_url, test_secret, policy)
    username, password = EVOVOICE_SERVICE_USER
    client = EvovoiceClient(http, lambda: url[0], username, password)
    try:
        with caplog.at_level(logging.WARNING, logger="clients.evovoice"):
            client.keep_signed_in()
            assert client.wait_signed_in_ahead(WAIT)
        assert not client.signed_in
        assert any("could not reach EvoVoice" in r.getMessage() for r in caplog.records)
        url[0] = sims.evovoice_url  # EvoVoice is back: the read signs in on its own
        sims.state.clear_calls()
        series = client.minutes_series(END - timedelta(days=6), END, "day", "acct-northwind")
    finally:
        http.close()
    assert len(calls(sims, "/auth/credentials")) == 1
    assert {c["status"] for c in calls(sims, "/ai/usage")} == {200}
    assert len(series.buckets) == 7
    assert password not in caplog.text


def test_the_session_is_renewed_before_it_is_needed(cache_url, policy, test_secret, sims):
    http = CachedUpstream(cache_url, test_secret, policy)
    username, password = EVOVOICE_SERVICE_USER
    client = EvovoiceClient(http, lambda: sims.evovoice_url, username, password)
    try:
        client.keep_signed_in(renewal=timedelta(milliseconds=50))
        assert client.wait_signed_in_ahead(WAIT)
        (first,) = sims.state.session_ids()
        assert soon(lambda: len(sims.state.session_ids()) >= 2), "a new session was made"
        # The first session ends: reads already hold a newer one and never sign in.
        sims.state.close_session(first)
        sims.state.clear_calls()
        client.minutes_series(END - timedelta(days=2), END, "day", "acct-northwind")
    finally:
        client.stop_signing_in_ahead()
        http.close()
    assert {c["status"] for c in calls(sims, "/ai/usage")} == {200}
    assert all(c["identity"] == username for c in calls(sims, "/ai/usage"))
    # Any sign-in now is a renewal's, never a read's after a refused session (a 401).
    assert [c for c in sims.state.calls() if c["status"] == 401] == []


def test_sign_ins_ahead_and_reads_together_stay_within_the_limit(
    counted_evovoice,  # noqa: F811 - the fixture imported above
    cache_url,
    policy,
    test_secret,
):
    url, counter = counted_evovoice
    http = CachedUpstream(cache_url, test_secret, replace(policy, deadline=30, read_timeout=10))
    username, password = EVOVOICE_SERVICE_USER
    client = EvovoiceClient(http, lambda: url, username, password, concurrency=LIMIT)
    errors: list[Exception] = []

    def view(weeks_back: int) -> None:
        last = END - timedelta(weeks=weeks_back)
        try:
            client.minutes_series(last - timedelta(days=6), last, "day")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    # Renewed over and over while the views read: each renewal is a call in flight too.
    client.keep_signed_in(renewal=timedelta(milliseconds=5))
    threads = [threading.Thread(target=view, args=(n,)) for n in range(4)]
    try:
        assert client.wait_signed_in_ahead(WAIT)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        client.stop_signing_in_ahead()
        http.close()
    assert errors == []
    assert counter.paths.count("/evovoice/ai/usage") == 4 * 8
    assert counter.paths.count("/evovoice/auth/credentials") >= 2  # renewed while reading
    assert counter.most == LIMIT  # reached with the reads, never passed


def test_a_forked_worker_holds_no_session_nor_lock_of_its_parent(
    cache_url, policy, test_secret, sims
):
    http = CachedUpstream(cache_url, test_secret, policy)
    username, password = EVOVOICE_SERVICE_USER
    client = EvovoiceClient(http, lambda: sims.evovoice_url, username, password)
    client.keep_signed_in()
    try:
        assert client.wait_signed_in_ahead(WAIT) and client.signed_in
        session = client._sessions.get()
        with session.lock:  # as if the parent forked while a thread was signing in
            child = os.fork()
            if child == 0:  # the worker: no cookie it never signed in for, a lock of its own
                fresh = client._sessions.get()
                free = fresh.lock.acquire(timeout=1)
                os._exit(0 if free and not client.signed_in else 1)
        _, status = os.waitpid(child, 0)
    finally:
        client.stop_signing_in_ahead()
        http.close()
    assert os.waitstatus_to_exitcode(status) == 0
    assert client.signed_in  # the parent's own session is untouched
