"""The cached upstream session: per-credential keys, freshness, stale-on-error, single flight."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clients.cached_http import CachedUpstream
from clients.errors import (
    AuthenticationFailed,
    BadResponse,
    NotFound,
    PermissionDenied,
    UpstreamUnavailable,
)
from clients.evovoice import EvovoiceClient
from clients.isnotai import IsnotaiClient
from simulators.data import EVOVOICE_SERVICE_USER, isnotai_expected, isnotai_integration

ACME = isnotai_integration("acme")
INITECH = isnotai_integration("initech")  # same region as acme: same URL, other key


def today():
    return datetime.now(UTC).date()


def past_range():
    end = today() - timedelta(days=1)
    return end - timedelta(days=4), end


def usage_calls(sims) -> int:
    return len([c for c in sims.state.calls() if c["path"].endswith(("/v1/usage", "/ai/usage"))])


def stored_bytes(cache_url: str) -> bytes:
    """Return every byte the SQLite cache holds, its write-ahead log included."""
    path = Path(cache_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def secrets_in_play(sims, test_secret: str) -> list[bytes]:
    _, password = EVOVOICE_SERVICE_USER
    values = [ACME.key, ACME.key[7:], INITECH.key, password, test_secret]
    values += sims.state.session_ids()  # the session cookies EvoVoice gave the client
    return [v.encode() for v in values if v]


# -- isolation ----------------------------------------------------------------------------


def test_two_credentials_on_the_same_url_never_share_an_answer(isnotai, sims):
    start, end = past_range()
    acme = isnotai.usage(ACME.key, "us", start, end)
    initech = isnotai.usage(INITECH.key, "us", start, end)
    assert initech.source == "upstream"  # not acme's cached answer
    assert acme.value.tier == "pro" and initech.value.tier == "free"
    acme_events = {p.period: p.value for p in acme.value.series("Events")}
    initech_events = {p.period: p.value for p in initech.value.series("Events")}
    assert acme_events == isnotai_expected("acme", start, end)["Events"]
    assert initech_events == isnotai_expected("initech", start, end)["Events"]
    assert acme_events != initech_events
    # Each credential's own answer is cached for it.
    assert isnotai.usage(ACME.key, "us", start, end).source == "cache"
    assert isnotai.usage(INITECH.key, "us", start, end).value == initech.value
    assert usage_calls(sims) == 2


def test_the_cache_key_hides_the_credential(upstream, isnotai, sims):
    start, end = past_range()
    isnotai.usage(ACME.key, "us", start, end)
    keys = list(upstream.session.cache.responses.keys())
    assert len(keys) == 1
    assert ACME.key not in keys[0] and ACME.key[-8:] not in keys[0]


def test_no_secret_reaches_the_sqlite_cache(
    upstream, isnotai, evovoice, cache_url, test_secret, sims
):
    start, end = past_range()
    isnotai.usage(ACME.key, "us", start, end)
    isnotai.usage(INITECH.key, "us", start, end)
    evovoice.usage(start, end)
    stored = stored_bytes(cache_url)
    assert b"ai/usage" in stored  # the scan looks at real entries
    for secret in secrets_in_play(sims, test_secret):
        assert secret not in stored


@pytest.mark.redis
def test_redis_backend_isolates_and_keeps_no_secret(redis_url, sims, policy, clock, test_secret):
    import redis

    http = CachedUpstream(redis_url, test_secret, policy, clock=clock)
    isnotai = IsnotaiClient(http, lambda: {"us": sims.isnotai_us_url, "eu": ""}, "redis-test")
    username, password = EVOVOICE_SERVICE_USER
    evovoice = EvovoiceClient(http, lambda: sims.evovoice_url, username, password)
    start, end = past_range()
    try:
        acme = isnotai.usage(ACME.key, "us", start, end)
        initech = isnotai.usage(INITECH.key, "us", start, end)
        evovoice.usage(start, end)
        assert acme.value != initech.value
        assert isnotai.usage(ACME.key, "us", start, end).source == "cache"

        server = redis.Redis.from_url(redis_url)
        keys = server.keys("*")
        stored = b"".join(
            server.get(k) if server.type(k) == b"string" else repr(server.hgetall(k)).encode()
            for k in keys
        )
        assert b"ai/usage" in stored
        for secret in secrets_in_play(sims, test_secret):
            assert secret not in stored
        # Entries outlive their freshness so they can still be served stale.
        ttls = [server.ttl(k) for k in keys if b"redirects" not in k]
        assert ttls and min(ttls) > policy.stale_max
    finally:
        http.close()


# -- freshness ----------------------------------------------------------------------------


def test_a_past_range_is_kept_for_hours(isnotai, sims, clock):
    start, end = past_range()
    isnotai.usage(ACME.key, "us", start, end)
    clock.advance(hours=5, minutes=59)
    assert isnotai.usage(ACME.key, "us", start, end).source == "cache"
    clock.advance(minutes=2)
    assert isnotai.usage(ACME.key, "us", start, end).source == "upstream"
    assert usage_calls(sims) == 2


def test_a_range_including_today_is_kept_briefly(isnotai, sims, clock):
    start, end = today() - timedelta(days=3), today()
    isnotai.usage(ACME.key, "us", start, end)
    clock.advance(seconds=50)
    assert isnotai.usage(ACME.key, "us", start, end).source == "cache"
    clock.advance(seconds=11)
    assert isnotai.usage(ACME.key, "us", start, end).source == "upstream"


def test_results_say_when_they_were_fetched(isnotai, clock):
    start, end = past_range()
    before = datetime.now(UTC)
    first = isnotai.usage(ACME.key, "us", start, end)
    assert before - timedelta(seconds=1) <= first.fetched_at <= datetime.now(UTC)
    clock.advance(minutes=10)
    again = isnotai.usage(ACME.key, "us", start, end)
    assert again.from_cache and not again.stale
    assert abs((again.fetched_at - first.fetched_at).total_seconds()) < 1


def test_refresh_bypasses_the_cache(isnotai, sims):
    start, end = past_range()
    isnotai.usage(ACME.key, "us", start, end)
    refreshed = isnotai.usage(ACME.key, "us", start, end, refresh=True)
    assert refreshed.source == "upstream"
    assert usage_calls(sims) == 2


# -- failures -----------------------------------------------------------------------------


def test_errors_are_never_cached(isnotai, sims):
    start, end = past_range()
    sims.state.add_fault("isnotai-us", "404", times=1)
    with pytest.raises(NotFound):
        isnotai.usage(ACME.key, "us", start, end)
    assert isnotai.usage(ACME.key, "us", start, end).source == "upstream"
    assert isnotai.usage(ACME.key, "us", start, end).source == "cache"


def test_a_malformed_success_is_never_cached(isnotai, sims):
    start, end = past_range()
    sims.state.add_fault("isnotai-us", "wrong-shape", times=1)
    with pytest.raises(BadResponse):
        isnotai.usage(ACME.key, "us", start, end)
    assert isnotai.usage(ACME.key, "us", start, end).source == "upstream"


def test_stale_answer_stands_in_when_the_upstream_fails(isnotai, sims, clock):
    start, end = past_range()
    fresh = isnotai.usage(ACME.key, "us", start, end)
    clock.advance(hours=7)
    sims.state.add_fault("isnotai-us", "503")
    stale = isnotai.usage(ACME.key, "us", start, end)
    assert stale.source == "stale" and stale.stale and stale.from_cache
    assert "failed on its side" in stale.stale_reason
    assert stale.value == fresh.value
    assert stale.fetched_at == pytest.approx(fresh.fetched_at, abs=timedelta(seconds=1))


def test_stale_answers_have_an_age_limit(isnotai, sims, clock):
    start, end = past_range()
    isnotai.usage(ACME.key, "us", start, end)
    clock.advance(hours=25)
    sims.state.add_fault("isnotai-us", "503")
    with pytest.raises(UpstreamUnavailable):
        isnotai.usage(ACME.key, "us", start, end)


@pytest.mark.parametrize(
    ("kind", "error"), [("401", AuthenticationFailed), ("403", PermissionDenied)]
)
@pytest.mark.parametrize("target", ["isnotai-us", "evovoice"])
def test_a_refused_credential_is_never_hidden_behind_saved_data(
    isnotai, evovoice, sims, clock, target, kind, error
):
    start, end = past_range()

    def read():
        if target == "evovoice":
            return evovoice.usage(start, end)
        return isnotai.usage(ACME.key, "us", start, end)

    assert read().source == "upstream"
    clock.advance(hours=7)  # the saved answer is no longer fresh, but young enough to stand in
    sims.state.add_fault(target, kind)
    with pytest.raises(error):
        read()
    with pytest.raises(error):
        read()  # nor the second time, from memory


def test_an_expired_session_signs_in_again_before_using_saved_data(evovoice, sims, clock):
    start, end = past_range()
    evovoice.usage(start, end)
    clock.advance(hours=7)
    sims.state.expire_evovoice_sessions()
    fresh = evovoice.usage(start, end)
    assert fresh.source == "upstream"
    logins = [c for c in sims.state.calls() if c["path"] == "/auth/credentials"]
    assert len(logins) == 2


def test_a_broken_cache_store_degrades_to_direct_calls(sims, policy, clock, test_secret):
    http = CachedUpstream("redis://127.0.0.1:9/0", test_secret, policy, clock=clock)
    client = IsnotaiClient(http, lambda: {"us": sims.isnotai_us_url, "eu": ""}, "no-cache")
    start, end = past_range()
    first = client.usage(ACME.key, "us", start, end)
    assert first.source == "upstream"
    assert client.usage(ACME.key, "us", start, end, refresh=True).value == first.value


# -- single flight ------------------------------------------------------------------------


def test_concurrent_identical_requests_share_one_call(isnotai, sims):
    sims.state.update(latency_ms=400)
    start, end = past_range()
    barrier = threading.Barrier(20)
    results, errors = [], []

    def ask():
        barrier.wait()
        try:
            results.append(isnotai.usage(ACME.key, "us", start, end))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(results) == 20
    assert usage_calls(sims) == 1
    assert len({id(r.value) for r in results if r.source == "upstream"}) <= 1
    assert all(r.value == results[0].value for r in results)


def test_concurrent_callers_share_a_failure_too(isnotai, sims):
    sims.state.update(latency_ms=300)
    sims.state.add_fault("isnotai-us", "403")
    start, end = past_range()
    barrier = threading.Barrier(8)
    failures = []

    def ask():
        barrier.wait()
        try:
            isnotai.usage(ACME.key, "us", start, end)
        except Exception as exc:  # noqa: BLE001
            failures.append(type(exc).__name__)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == ["PermissionDenied"] * 8
    assert usage_calls(sims) == 1


# -- decoded once -------------------------------------------------------------------------


def test_a_cache_entry_is_decoded_once_per_process(upstream, sims, cache_url, policy, clock):
    from clients.cached_http import UpstreamRequest

    start, end = past_range()
    request = UpstreamRequest(
        api="isnotai (us)",
        namespace="decode-once",
        method="GET",
        base_url=sims.isnotai_us_url,
        path="/v1/usage",
        scope=ACME.key,
        ttl=timedelta(hours=1),
        params={"startDate": start.isoformat(), "endDate": end.isoformat()},
        headers={"Authorization": f"Bearer {ACME.key}"},
    )
    decoded = []

    def decode(response):
        decoded.append(response.status_code)
        return response.json()

    for _ in range(5):
        upstream.fetch(request, decode)
    assert decoded == [200]
    # Another process on the same store decodes the stored entry once, then remembers it.
    other = CachedUpstream(cache_url, "test-secret-key-that-is-long-enough-0123456789", policy)
    try:
        for _ in range(3):
            assert other.fetch(request, decode).source == "cache"
    finally:
        other.close()
    assert decoded == [200, 200]
    assert usage_calls(sims) == 1


def test_the_decoded_memo_is_bounded_by_records():
    from clients.memo import decoded_answers
    from clients.result import Fetched

    class Answer:
        size = 4

    memo = decoded_answers(max_records=10)
    now = datetime.now(UTC)
    later = now + timedelta(hours=1)
    for key in ("a", "b", "c"):
        memo.put(key, Fetched(Answer(), now, "cache"), later)
    assert memo.get("a", now) is None  # evicted, least recently used
    assert memo.get("b", now) is not None and memo.get("c", now) is not None
    assert memo.get("b", later) is None  # expired


# -- hostile answers ----------------------------------------------------------------------


@pytest.mark.parametrize("target", ["isnotai-us", "evovoice"])
def test_an_oversized_answer_is_refused_before_it_fills_memory(sims, cache_url, clock, target):
    from dataclasses import replace

    from clients.cached_http import HttpPolicy

    policy = replace(HttpPolicy(deadline=5, read_timeout=2), max_response_bytes=1024 * 1024)
    http = CachedUpstream(cache_url, "k" * 40, policy, clock=clock)
    username, password = EVOVOICE_SERVICE_USER
    isnotai = IsnotaiClient(http, lambda: {"us": sims.isnotai_us_url, "eu": ""}, "big")
    evovoice = EvovoiceClient(http, lambda: sims.evovoice_url, username, password)
    sims.state.add_fault(target, "oversized")
    start, end = past_range()
    try:
        with pytest.raises(BadResponse) as caught:
            if target == "evovoice":
                evovoice.usage(start, end)
            else:
                isnotai.usage(ACME.key, "us", start, end)
        assert "more than 1,048,576 bytes" in caught.value.message
        assert usage_calls(sims) == 1  # refused, not retried
    finally:
        http.close()


def test_deeply_nested_json_is_refused_with_a_clear_error(isnotai, sims):
    sims.state.add_fault("isnotai-us", "deep-nesting")
    start, end = past_range()
    with pytest.raises(BadResponse) as caught:
        isnotai.usage(ACME.key, "us", start, end)
    assert "nested too deeply" in caught.value.message
    assert usage_calls(sims) == 1


@pytest.mark.redis
def test_twenty_workers_on_one_cold_key_make_one_upstream_call(
    redis_url, sims, policy, test_secret
):
    # Separate CachedUpstream objects share nothing in memory, like separate worker
    # processes: only Redis (cache and lock) joins them.
    sims.state.update(latency_ms=400)
    workers = [CachedUpstream(redis_url, test_secret, policy) for _ in range(20)]
    clients = [
        IsnotaiClient(w, lambda: {"us": sims.isnotai_us_url, "eu": ""}, "shared") for w in workers
    ]
    start, end = past_range()
    barrier = threading.Barrier(len(clients))
    results, errors = [], []

    def ask(client):
        barrier.wait()
        try:
            results.append(client.usage(ACME.key, "us", start, end))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(c,)) for c in clients]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        for worker in workers:
            worker.close()
    assert errors == []
    assert len(results) == 20
    assert usage_calls(sims) == 1
    assert sum(r.source == "upstream" for r in results) == 1
    assert all(r.value == results[0].value for r in results)
