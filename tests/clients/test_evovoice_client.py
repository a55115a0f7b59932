"""EvovoiceClient against the EvoVoice simulator over real loopback HTTP.

Expected numbers come from `simulators.data.evovoice_expected`, the oracle of exactly the body
the simulator answers; nothing on the client's network path is mocked.
"""

from __future__ import annotations

import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from itertools import pairwise

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from clients.cached_http import CachedUpstream
from clients.errors import (
    AuthenticationFailed,
    BadResponse,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from clients.evovoice import (
    AccountMinutes,
    AIUsage,
    CustomerMinutes,
    EvovoiceClient,
    error_for,
    parse_usage,
    read_usage,
)
from simulators.data import (
    EVOVOICE_ACCOUNTS,
    EVOVOICE_NO_ROLE_USER,
    EVOVOICE_SERVICE_USER,
    evovoice_expected,
)

SECRET = "evovoice-client-test-secret-0123456789abcdef"
ONE_DAY = timedelta(days=1)
# A fixed past range: its numbers never change.
START, END = date(2024, 3, 4), date(2024, 3, 31)
CUSTOMERS = [
    (account, customer)
    for account, customers in EVOVOICE_ACCOUNTS.items()
    for customer in customers
]
WRONG_PASSWORD = "Wr0ng-zebra-Passw0rd-7731"


# --- helpers --------------------------------------------------------------------------


def oracle(start, end, account_id=None, customer_id=None, today=None) -> dict:
    return evovoice_expected(
        start, end, account_id=account_id, customer_id=customer_id, today=today
    )


def oracle_records(body: dict) -> tuple[tuple, tuple]:
    accounts = tuple(AccountMinutes(a["accountId"], a["aiMinutes"]) for a in body["accountUsage"])
    customers = tuple(
        CustomerMinutes(c["accountId"], c["customerId"], c["aiMinutes"])
        for c in body["customerUsage"]
    )
    return accounts, customers


def oracle_minutes(body: dict, account_id=None, customer_id=None) -> int | None:
    """Minutes of one scope read straight off the oracle's body; None when it lists no record."""
    if customer_id is not None:
        found = [
            c["aiMinutes"]
            for c in body.get("customerUsage", ())
            if c["customerId"] == customer_id and account_id in (None, c["accountId"])
        ]
    elif account_id is not None:
        found = [
            a["aiMinutes"] for a in body.get("accountUsage", ()) if a["accountId"] == account_id
        ]
    else:
        return sum(a["aiMinutes"] for a in body.get("accountUsage", ()))
    return sum(found) if found else None


def usage_calls(sims) -> list[dict]:
    return sims.state.calls("evovoice", "/ai/usage")


def login_calls(sims) -> list[dict]:
    return sims.state.calls("evovoice", "/auth/credentials")


def ranges_asked(sims) -> list[tuple[str, str]]:
    return [(c["query"]["startDate"], c["query"]["endDate"]) for c in usage_calls(sims)]


def assert_matches_oracle(fetched, start, end, account_id=None, customer_id=None, today=None):
    body = oracle(start, end, account_id, customer_id, today)
    accounts, customers = oracle_records(body)
    assert fetched.value.accounts == accounts
    assert fetched.value.customers == customers
    assert (fetched.value.start, fetched.value.end) == (start, end)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def make_client(tmp_path, policy, clock, sims):
    """Build clients that each have their own cached session (and so their own cookie jar)."""
    made: list[CachedUpstream] = []

    def make(
        user=EVOVOICE_SERVICE_USER,
        *,
        auth="credentials",
        concurrency=8,
        base_url=None,
        end_date="inclusive",
        method="auto",
        cache_name=None,
    ):
        name = cache_name or f"cache-{len(made)}"
        http = CachedUpstream(
            f"sqlite:///{tmp_path / f'{name}.sqlite'}", SECRET, policy, clock=clock
        )
        made.append(http)
        url = base_url or sims.evovoice_url
        return EvovoiceClient(
            http,
            lambda: url,
            user[0],
            user[1],
            auth=auth,
            end_date=end_date,
            method=method,
            concurrency=concurrency,
            namespace="test:evovoice",
        )

    yield make
    for http in made:
        http.close()


# --- numbers --------------------------------------------------------------------------


def test_usage_all_accounts_matches_the_oracle(evovoice, sims):
    fetched = evovoice.usage(START, END)
    assert fetched.source == "upstream"
    assert_matches_oracle(fetched, START, END)
    body = oracle(START, END)
    assert {a.account_id for a in fetched.value.accounts} == set(EVOVOICE_ACCOUNTS)
    assert fetched.value.minutes() == oracle_minutes(body) > 0
    # No scope was sent: the service credential reads every account.
    [call] = usage_calls(sims)
    assert call["query"] == {"startDate": "2024-03-04", "endDate": "2024-03-31"}
    assert call["status"] == 200


@pytest.mark.parametrize("account_id", list(EVOVOICE_ACCOUNTS))
def test_usage_one_account_round_trips_hostile_ids(evovoice, sims, account_id):
    fetched = evovoice.usage(START, END, account_id)
    assert_matches_oracle(fetched, START, END, account_id)
    assert [a.account_id for a in fetched.value.accounts] == [account_id]
    assert {c.account_id for c in fetched.value.customers} <= {account_id}
    body = oracle(START, END, account_id)
    assert fetched.value.minutes(account_id) == oracle_minutes(body, account_id)
    # The id reached the upstream unchanged (quotes, `</script>`, non-ASCII, `%20`).
    [call] = usage_calls(sims)
    assert call["query"]["accountId"] == account_id
    assert "customerId" not in call["query"]


@pytest.mark.parametrize(("account_id", "customer_id"), CUSTOMERS)
def test_usage_one_customer_round_trips_hostile_ids(evovoice, sims, account_id, customer_id):
    fetched = evovoice.usage(START, END, account_id, customer_id)
    assert_matches_oracle(fetched, START, END, account_id, customer_id)
    body = oracle(START, END, account_id, customer_id)
    assert fetched.value.minutes(account_id, customer_id) == oracle_minutes(
        body, account_id, customer_id
    )
    assert {c.customer_id for c in fetched.value.customers} <= {customer_id}
    # Without the account: the customer alone scopes the call.
    alone = evovoice.usage(START, END, customer_id=customer_id)
    assert_matches_oracle(alone, START, END, None, customer_id)
    assert alone.value.minutes(customer_id=customer_id) == oracle_minutes(
        oracle(START, END, customer_id=customer_id), None, customer_id
    )
    first, second = usage_calls(sims)
    assert first["query"]["accountId"] == account_id
    assert first["query"]["customerId"] == customer_id
    assert second["query"]["customerId"] == customer_id
    assert "accountId" not in second["query"]


def test_usage_of_a_customer_with_minutes_is_not_zero(evovoice):
    # Guards against an oracle that is trivially zero: the northwind customers are busy.
    fetched = evovoice.usage(START, END, "acct-northwind", "cust-alpha")
    assert fetched.value.minutes("acct-northwind", "cust-alpha") > 0


def test_usage_of_a_customer_of_another_account_is_empty(evovoice):
    fetched = evovoice.usage(START, END, "acct-northwind", "kunde-müller")
    assert fetched.value.accounts == ()
    assert fetched.value.customers == ()
    # No record is not a record of 0 minutes.
    assert fetched.value.minutes("acct-northwind", "kunde-müller") is None


# --- authentication -------------------------------------------------------------------


def test_signs_in_once_and_reuses_the_session(evovoice, sims):
    for offset in range(4):
        fetched = evovoice.usage(START + timedelta(days=offset), END)
        assert_matches_oracle(fetched, START + timedelta(days=offset), END)
    [login] = login_calls(sims)
    assert login["status"] == 200
    calls = usage_calls(sims)
    assert len(calls) == 4
    assert all(c["status"] == 200 for c in calls)
    assert {c["identity"] for c in calls} == {EVOVOICE_SERVICE_USER[0]}


def test_signs_in_again_once_after_the_session_expires(evovoice, sims):
    evovoice.usage(START, END)
    assert len(login_calls(sims)) == 1
    sims.state.expire_evovoice_sessions()
    sims.state.clear_calls()

    fetched = evovoice.usage(START, END, refresh=True)

    assert fetched.source == "upstream"
    assert_matches_oracle(fetched, START, END)
    assert [(c["path"], c["status"]) for c in sims.state.calls("evovoice")] == [
        ("/ai/usage", 401),
        ("/auth/credentials", 200),
        ("/ai/usage", 200),
    ]
    # The new session is kept.
    sims.state.clear_calls()
    evovoice.usage(START, END, refresh=True)
    assert login_calls(sims) == []
    assert [c["status"] for c in usage_calls(sims)] == [200]


def test_parallel_buckets_sign_in_again_only_once(evovoice, sims):
    start, end = date(2024, 4, 1), date(2024, 4, 6)
    evovoice.minutes_series(start, end, "day")
    sims.state.expire_evovoice_sessions()
    sims.state.clear_calls()

    series = evovoice.minutes_series(start, end, "day", refresh=True)

    assert len(login_calls(sims)) == 1
    assert series.total == oracle_minutes(oracle(start, end))
    ok = [c for c in usage_calls(sims) if c["status"] == 200]
    assert len(ok) == 7  # six days and the whole range
    assert {c["status"] for c in usage_calls(sims)} <= {200, 401}


def test_basic_auth_never_opens_a_session(make_client, sims):
    client = make_client(auth="basic")
    for account_id in (None, "acct-northwind"):
        fetched = client.usage(START, END, account_id)
        assert_matches_oracle(fetched, START, END, account_id)
    series = client.minutes_series(START, END, "week")
    assert series.total == oracle_minutes(oracle(START, END))
    assert login_calls(sims) == []
    assert sims.state.calls("evovoice", "/auth/logout") == []
    assert {c["identity"] for c in usage_calls(sims)} == {EVOVOICE_SERVICE_USER[0]}
    assert {c["status"] for c in usage_calls(sims)} == {200}


@pytest.mark.parametrize("auth", ["credentials", "basic"])
def test_wrong_password_is_authentication_failed(make_client, sims, auth):
    client = make_client((EVOVOICE_SERVICE_USER[0], WRONG_PASSWORD), auth=auth)
    with pytest.raises(AuthenticationFailed) as caught:
        client.usage(START, END)
    error = caught.value
    assert "the service account could not sign in to EvoVoice" in error.message
    assert error.status == 401
    for text in (error.message, str(error), repr(error), *map(str, error.args)):
        assert WRONG_PASSWORD not in text
        assert EVOVOICE_SERVICE_USER[1] not in text
    if auth == "credentials":
        assert [c["status"] for c in login_calls(sims)] == [401]
        assert usage_calls(sims) == []
    else:
        assert login_calls(sims) == []
        assert [c["status"] for c in usage_calls(sims)] == [401]  # not retried


@pytest.mark.parametrize("auth", ["credentials", "basic"])
def test_user_without_the_role_is_permission_denied(make_client, sims, auth):
    client = make_client(EVOVOICE_NO_ROLE_USER, auth=auth)
    with pytest.raises(PermissionDenied) as caught:
        client.usage(START, END)
    error = caught.value
    assert "lacks the SystemAdministrator role" in error.message
    assert error.status == 403
    assert EVOVOICE_NO_ROLE_USER[1] not in str(error)
    # Signing in worked (credentials mode); the read is refused once, not retried.
    expected_logins = [200] if auth == "credentials" else []
    assert [c["status"] for c in login_calls(sims)] == expected_logins
    assert [c["status"] for c in usage_calls(sims)] == [403]


def test_session_cookies_stay_out_of_the_shared_http_session(upstream, evovoice, sims):
    # Regression: the session cookies once landed in the shared requests.Session jar, so a
    # Basic-auth client on the same CachedUpstream was served as the signed-in service user.
    evovoice.usage(START, END)
    assert list(upstream.session.cookies) == []
    viewer = EvovoiceClient(
        upstream,
        lambda: sims.evovoice_url,
        *EVOVOICE_NO_ROLE_USER,
        auth="basic",
        namespace="test:evovoice",
    )
    with pytest.raises(PermissionDenied):
        viewer.usage(START, END)
    assert [c["status"] for c in usage_calls(sims)] == [200, 403]


def test_cache_is_not_shared_with_a_wrong_password(cache_url, policy, clock, sims):
    username, password = EVOVOICE_SERVICE_USER
    http = CachedUpstream(cache_url, SECRET, policy, clock=clock)
    try:
        right = EvovoiceClient(
            http,
            lambda: sims.evovoice_url,
            username,
            password,
            auth="basic",
            namespace="test:evovoice",
        )
        wrong = EvovoiceClient(
            http,
            lambda: sims.evovoice_url,
            username,
            WRONG_PASSWORD,
            auth="basic",
            namespace="test:evovoice",
        )
        assert right.usage(START, END).source == "upstream"
        with pytest.raises(AuthenticationFailed):
            wrong.usage(START, END)
    finally:
        http.close()


def test_fresh_cache_is_served_without_signing_in(cache_url, policy, clock, sims):
    def client_at(base_url):
        http = CachedUpstream(cache_url, SECRET, policy, clock=clock)
        username, password = EVOVOICE_SERVICE_USER
        return http, EvovoiceClient(
            http, lambda: base_url, username, password, namespace="test:evovoice"
        )

    first_http, first = client_at(sims.evovoice_url)
    second_http, restarted = client_at(f"http://127.0.0.1:{free_port()}/evovoice")
    try:
        assert first.usage(START, END).source == "upstream"
        # A new process (no session yet) with EvoVoice unreachable: the cache is fresh.
        fetched = restarted.usage(START, END)
        assert fetched.source == "cache"
        assert_matches_oracle(fetched, START, END)
    finally:
        first_http.close()
        second_http.close()


# --- service errors -------------------------------------------------------------------


def test_start_after_end_is_an_invalid_start_date(evovoice, sims):
    with pytest.raises(InvalidRequest) as caught:
        evovoice.usage(date(2024, 3, 2), date(2024, 3, 1))
    error = caught.value
    assert error.field == "startDate"
    assert error.status == 400
    assert error.code == "ArgumentException"
    assert "startDate" in error.message
    assert [c["status"] for c in usage_calls(sims)] == [400]  # not retried


@pytest.mark.parametrize("field", ["startDate", "endDate"])
def test_error_for_maps_a_real_400_to_invalid_request(sims, field):
    params = {"startDate": "2024-03-01", "endDate": "2024-03-31", field: "2024-13-45"}
    response = requests.get(
        sims.evovoice_url + "/ai/usage",
        params=params,
        auth=EVOVOICE_SERVICE_USER,
        headers={"Accept": "application/json"},
        timeout=5,
    )
    assert response.status_code == 400
    error = error_for(response)
    assert isinstance(error, InvalidRequest)
    assert error.field == field
    assert error.status == 400
    assert error.code == "ArgumentException"
    assert field in error.message


def test_error_for_maps_real_auth_failures(sims):
    url = sims.evovoice_url + "/ai/usage"
    anonymous = requests.get(url, timeout=5)
    assert anonymous.status_code == 401 and anonymous.content == b""
    assert isinstance(error_for(anonymous), AuthenticationFailed)
    viewer = requests.get(url, auth=EVOVOICE_NO_ROLE_USER, timeout=5)
    assert viewer.status_code == 403 and viewer.content == b""
    assert isinstance(error_for(viewer), PermissionDenied)


# --- faults ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["503", "500", "502", "html", "malformed"])
def test_transient_fault_is_retried(evovoice, sims, kind):
    sims.state.add_fault("evovoice", kind, times=1)
    fetched = evovoice.usage(START, END)
    assert fetched.source == "upstream"
    assert_matches_oracle(fetched, START, END)
    statuses = [c["status"] for c in usage_calls(sims)]
    assert len(statuses) == 2
    assert statuses[-1] == 200


def test_503_retried_once_then_served(evovoice, sims):
    sims.state.add_fault("evovoice", "503", times=1)
    evovoice.usage(START, END)
    assert [c["status"] for c in usage_calls(sims)] == [503, 200]


def test_wrong_shape_is_bad_response_and_not_retried(evovoice, sims):
    sims.state.add_fault("evovoice", "wrong-shape", times=1)
    with pytest.raises(BadResponse) as caught:
        evovoice.usage(START, END)
    assert caught.value.retryable is False
    assert len(usage_calls(sims)) == 1
    # The bad body was not cached: the next read goes upstream and is right.
    fetched = evovoice.usage(START, END)
    assert fetched.source == "upstream"
    assert_matches_oracle(fetched, START, END)
    assert len(usage_calls(sims)) == 2


def test_persistent_5xx_gives_up_as_unavailable(evovoice, sims, policy):
    sims.state.add_fault("evovoice", "503")
    started = time.monotonic()
    with pytest.raises(UpstreamUnavailable):
        evovoice.usage(START, END)
    assert time.monotonic() - started < policy.deadline + 2
    assert len(usage_calls(sims)) >= 2


def test_timeout_raises_within_the_deadline(evovoice, sims, policy):
    evovoice.usage(START - ONE_DAY, END)  # sign in first: the hang applies to /ai/usage
    sims.state.add_fault("evovoice", "timeout", hang_seconds=policy.read_timeout + 5)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        evovoice.usage(START, END)
    elapsed = time.monotonic() - started
    assert elapsed < policy.deadline + 2  # a bound on giving up, not a speed claim
    assert elapsed >= policy.read_timeout * 0.9


def test_429_with_short_retry_after_is_honoured(evovoice, sims):
    evovoice.usage(START - ONE_DAY, END)  # sign in first
    sims.state.clear_calls()
    sims.state.add_fault("evovoice", "429", times=1, retry_after=1)
    started = time.monotonic()
    fetched = evovoice.usage(START, END)
    elapsed = time.monotonic() - started
    assert_matches_oracle(fetched, START, END)
    assert [c["status"] for c in usage_calls(sims)] == [429, 200]
    assert elapsed >= 0.9  # it waited for Retry-After


def test_429_with_long_retry_after_is_rate_limited(evovoice, sims):
    sims.state.add_fault("evovoice", "429", times=1, retry_after=30)
    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        evovoice.usage(START, END)
    assert time.monotonic() - started < 10  # it did not sit out the 30 s
    assert "retry in 30 s" in caught.value.message
    assert caught.value.retry_after == 30
    assert caught.value.status == 429
    assert [c["status"] for c in usage_calls(sims)] == [429]


# --- series ---------------------------------------------------------------------------

SERIES_CASES = [
    # Wednesday to Tuesday over three ISO weeks.
    ("week", date(2024, 5, 15), date(2024, 5, 28)),
    # Wednesday to Tuesday across a year end.
    ("week", date(2024, 12, 18), date(2025, 1, 7)),
    # The 17th to the 9th two months later (through a leap February).
    ("month", date(2024, 1, 17), date(2024, 3, 9)),
    ("month", date(2023, 11, 17), date(2024, 1, 9)),
    ("day", date(2024, 5, 15), date(2024, 5, 28)),
]
SERIES_SCOPES = [
    (None, None),
    ('acct-o\'brien & "sons"', None),
    ("zürich-東京-Ωmega", "顧客-山田"),
]


def unit_of(day: date, granularity: str) -> tuple:
    if granularity == "day":
        return (day,)
    if granularity == "week":
        return tuple(day.isocalendar())[:2]
    return (day.year, day.month)


@pytest.mark.parametrize(("account_id", "customer_id"), SERIES_SCOPES)
@pytest.mark.parametrize(("granularity", "start", "end"), SERIES_CASES)
def test_minutes_series_buckets(evovoice, granularity, start, end, account_id, customer_id):
    series = evovoice.minutes_series(start, end, granularity, account_id, customer_id)
    buckets = series.buckets
    assert buckets[0].start == start
    assert buckets[-1].end == end
    for bucket in buckets:
        assert bucket.start <= bucket.end
        assert unit_of(bucket.start, granularity) == unit_of(bucket.end, granularity)
        body = oracle(bucket.start, bucket.end, account_id, customer_id)
        assert bucket.ai_minutes == oracle_minutes(body, account_id, customer_id), bucket
        # Buckets keep only what their total needs, not every customer of the account.
        totals = bucket.fetched.value
        assert totals.minutes(account_id, customer_id) == bucket.ai_minutes
        assert (totals.start, totals.end) == (bucket.start, bucket.end)
        assert customer_id is not None or totals.customers == ()
    for before, after in pairwise(buckets):
        assert after.start == before.end + ONE_DAY
    covered = [
        b.start + timedelta(days=n) for b in buckets for n in range((b.end - b.start).days + 1)
    ]
    assert covered == [start + timedelta(days=n) for n in range((end - start).days + 1)]
    if granularity == "week":
        assert all(b.start.weekday() == 0 for b in buckets[1:])
        assert all(b.end.weekday() == 6 for b in buckets[:-1])
    if granularity == "month":
        assert all(b.start.day == 1 for b in buckets[1:])
        assert all((b.end + ONE_DAY).day == 1 for b in buckets[:-1])
    # The total is one whole-range call, not the sum of the buckets.
    whole = oracle(start, end, account_id, customer_id)
    assert series.total == oracle_minutes(whole, account_id, customer_id)
    whole = oracle(start, end, account_id, customer_id)
    assert series.whole.value.minutes(account_id, customer_id) == oracle_minutes(
        whole, account_id, customer_id
    )
    assert len(series.results) == len(buckets) + 1


def test_minutes_series_known_week_edges(evovoice):
    series = evovoice.minutes_series(date(2024, 5, 15), date(2024, 5, 28), "week")
    assert [(b.start, b.end) for b in series.buckets] == [
        (date(2024, 5, 15), date(2024, 5, 19)),
        (date(2024, 5, 20), date(2024, 5, 26)),
        (date(2024, 5, 27), date(2024, 5, 28)),
    ]


def test_minutes_series_known_month_edges(evovoice):
    series = evovoice.minutes_series(date(2024, 1, 17), date(2024, 3, 9), "month")
    assert [(b.start, b.end) for b in series.buckets] == [
        (date(2024, 1, 17), date(2024, 1, 31)),
        (date(2024, 2, 1), date(2024, 2, 29)),
        (date(2024, 3, 1), date(2024, 3, 9)),
    ]


def find_rounding_drift() -> tuple:
    """Return the first scope and range whose bucket minutes do not add up to the total."""
    scopes = [(None, None)]
    scopes += [(account, None) for account in EVOVOICE_ACCOUNTS]
    scopes += CUSTOMERS
    for granularity, start, end in SERIES_CASES:
        spans = []
        cursor = start
        while cursor <= end:  # the calendar buckets, computed without core.periods
            last = cursor
            while last < end and unit_of(last + ONE_DAY, granularity) == unit_of(
                cursor, granularity
            ):
                last += ONE_DAY
            spans.append((cursor, last))
            cursor = last + ONE_DAY
        for account_id, customer_id in scopes:
            parts = sum(
                oracle_minutes(oracle(s, e, account_id, customer_id), account_id, customer_id)
                for s, e in spans
            )
            whole = oracle_minutes(
                oracle(start, end, account_id, customer_id), account_id, customer_id
            )
            if parts != whole:
                return granularity, start, end, account_id, customer_id, parts, whole
    raise AssertionError("no range where per-call rounding shows; widen the search")


def test_minutes_series_total_respects_per_call_rounding(evovoice):
    granularity, start, end, account_id, customer_id, parts, whole = find_rounding_drift()
    assert parts != whole
    series = evovoice.minutes_series(start, end, granularity, account_id, customer_id)
    assert sum(b.ai_minutes for b in series.buckets) == parts
    assert series.total == whole


def test_minutes_series_caches_each_bucket(evovoice, sims, clock):
    today = clock().date()
    start = today - timedelta(days=20)
    first = evovoice.minutes_series(start, today, "week")
    assert all(r.source == "upstream" for r in first.results)
    assert len(first.buckets) >= 3
    assert first.total == oracle_minutes(oracle(start, today, today=today))
    past = [b for b in first.buckets if b.end < today]
    current = [b for b in first.buckets if b.end >= today]
    assert len(current) == 1 and current[0].end == today and past

    sims.state.clear_calls()
    again = evovoice.minutes_series(start, today, "week")
    assert usage_calls(sims) == []
    assert login_calls(sims) == []
    assert all(r.source == "cache" for r in again.results)
    assert [b.ai_minutes for b in again.buckets] == [b.ai_minutes for b in first.buckets]
    assert again.total == first.total

    # Past today's TTL (60 s), within the past TTL (6 h): only ranges holding today refetch.
    clock.advance(seconds=120)
    sims.state.clear_calls()
    later = evovoice.minutes_series(start, today, "week")
    asked = ranges_asked(sims)
    assert sorted(asked) == sorted(
        [
            (current[0].start.isoformat(), today.isoformat()),
            (start.isoformat(), today.isoformat()),
        ]
    )
    assert later.whole.source == "upstream"
    assert [b.fetched.source for b in later.buckets] == [
        "upstream" if b.end >= today else "cache" for b in later.buckets
    ]
    for bucket in later.buckets:
        body = oracle(bucket.start, bucket.end, today=today)
        assert bucket.ai_minutes == oracle_minutes(body)


def test_bounded_concurrency_takes_several_rounds(make_client, sims):
    client = make_client(concurrency=2)
    client.usage(START, END)  # sign in before timing
    sims.state.update(latency_ms=200)
    sims.state.clear_calls()
    start, end = date(2024, 4, 1), date(2024, 4, 6)
    started = time.monotonic()
    series = client.minutes_series(start, end, "day")
    elapsed = time.monotonic() - started
    assert len(series.buckets) == 6
    assert len(usage_calls(sims)) == 7
    assert login_calls(sims) == []
    # Seven calls, two at a time, 200 ms each: at least four rounds (three asserted).
    assert elapsed >= 0.55
    for bucket in series.buckets:
        assert bucket.ai_minutes == oracle_minutes(oracle(bucket.start, bucket.end))
    assert series.total == oracle_minutes(oracle(start, end))


def test_wide_concurrency_is_correct(make_client, sims):
    client = make_client(concurrency=8)
    sims.state.update(latency_ms=50)
    start, end = date(2024, 4, 1), date(2024, 4, 6)
    series = client.minutes_series(start, end, "day", "acct-northwind")
    assert [(b.start, b.end) for b in series.buckets] == [
        (start + timedelta(days=n), start + timedelta(days=n)) for n in range(6)
    ]
    for bucket in series.buckets:
        body = oracle(bucket.start, bucket.end, "acct-northwind")
        assert bucket.ai_minutes == oracle_minutes(body, "acct-northwind")
    assert series.total == oracle_minutes(oracle(start, end, "acct-northwind"), "acct-northwind")
    assert len(usage_calls(sims)) == 7
    assert len(login_calls(sims)) == 1


# --- freshness ------------------------------------------------------------------------


def test_past_ranges_are_kept_longer_than_ranges_with_today(evovoice, sims, clock):
    today = clock().date()
    ranges = {
        "past": (START, END),
        "yesterday": (today - timedelta(days=7), today - ONE_DAY),
        "today": (today - timedelta(days=3), today),
    }
    for start, end in ranges.values():
        assert evovoice.usage(start, end).source == "upstream"
    # Within both TTLs everything is cached.
    for start, end in ranges.values():
        assert evovoice.usage(start, end).source == "cache"

    clock.advance(hours=2)
    sims.state.clear_calls()
    sources = {name: evovoice.usage(*span) for name, span in ranges.items()}
    assert sources["past"].source == "cache"
    assert sources["yesterday"].source == "cache"
    assert sources["today"].source == "upstream"
    assert ranges_asked(sims) == [(ranges["today"][0].isoformat(), today.isoformat())]
    assert_matches_oracle(sources["today"], *ranges["today"], today=today)
    assert_matches_oracle(sources["past"], *ranges["past"])

    # Past the 6 h past-range TTL the past ranges are read again too.
    clock.advance(hours=5)
    assert evovoice.usage(*ranges["past"]).source == "upstream"


def test_series_keep_totals_only_and_never_hide_customers_from_a_whole_read(
    evovoice, upstream, sims
):
    sims.state.update(extra_customers=2000)
    end = START + timedelta(days=6)
    series = evovoice.minutes_series(START, end, "day", "acct-northwind")
    # Seven day buckets and the range: a few records each, not 400 customers each.
    assert upstream.memo_weight < 40
    # The same answer read whole (same cache entry) still lists every customer.
    whole = evovoice.usage(START, end, "acct-northwind")
    body = evovoice_expected(START, end, account_id="acct-northwind", extra_customers=2000)
    assert len(whole.value.customers) == len(body["customerUsage"]) > 300
    assert whole.value.minutes("acct-northwind") == series.total


def test_a_totals_read_while_the_whole_answer_is_in_memory_is_made_from_it(
    evovoice, upstream, sims
):
    sims.state.update(extra_customers=2000)
    end = START + timedelta(days=6)
    for account_id, customer_id in [(None, None), ("acct-northwind", None), (None, "cust-idle")]:
        whole = evovoice.usage(START, end, account_id, customer_id)
        held = upstream.memo_weight
        sims.state.clear_calls()
        totals = evovoice.usage(START, end, account_id, customer_id, totals_only=True)
        assert totals.value == whole.value.totals_for(account_id, customer_id)
        assert totals.fetched_at == whole.fetched_at and totals.source == "cache"
        # Neither read from the store and kept as a second parse, nor asked of EvoVoice.
        assert upstream.memo_weight == held
        assert usage_calls(sims) == []


def body_of(accounts: list, customers: list, extra: dict) -> bytes:
    return json.dumps({"accountUsage": accounts, "customerUsage": customers, **extra}).encode()


# What an answer's records may hold, most of it readable, some of it not: each field
# missing, null, of another JSON type, a bool, or an integer past 64 bits (json reads
# that as an int, orjson as a float).
VALUES = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, None, True, False, 1.5, "7", [], {}, 10**20, -(2**63) - 1]),
)
IDS = st.one_of(st.sampled_from(["a", "b", "c\u00e9", "</x>"]), VALUES)
RECORDS = st.dictionaries(
    st.sampled_from(["accountId", "customerId", "aiMinutes", "other"]), IDS | VALUES
)
LISTS = st.one_of(st.lists(RECORDS, max_size=6), st.sampled_from([None, {}, "", 0, [1]]))


def parsed_or_refused(content: bytes, start: date, end: date, totals_of) -> AIUsage | None:
    """Return what `parse_usage` makes of an answer, or None when it refuses it, having
    checked that `read_usage` refuses it too, in the same words."""
    try:
        return parse_usage(json.loads(content), start, end)
    except BadResponse as exc:
        with pytest.raises(BadResponse) as refused:
            read_usage(content, start, end, totals_of)
        assert refused.value.message == exc.message
        return None


@given(
    accounts=LISTS,
    customers=LISTS,
    extra=st.sampled_from([{}, {"responseStatus": None}]),
    drop=st.sampled_from(
        [(), ("accountUsage",), ("customerUsage",), ("accountUsage", "customerUsage")]
    ),
    totals_of=st.sampled_from([None, (None, None), ("a", None), (None, "b"), ("a", "b")]),
)
@settings(max_examples=400, deadline=None)
def test_reading_an_answer_quickly_gives_what_parsing_it_gives(
    accounts, customers, extra, drop, totals_of
):
    body = json.loads(body_of(accounts, customers, extra))
    for key in drop:
        body.pop(key)
    content = json.dumps(body).encode()
    expected = parsed_or_refused(content, START, END, totals_of)
    if expected is None:
        return
    if totals_of is not None:
        expected = expected.totals_for(*totals_of)
    assert read_usage(content, START, END, totals_of) == expected


def test_json_that_orjson_refuses_is_still_read_as_json_reads_it():
    readable = {"accountUsage": [{"accountId": "a", "aiMinutes": 10**20}]}
    for content in (
        json.dumps(readable).encode(),  # an integer past 64 bits
        b"\xef\xbb\xbf" + json.dumps(readable).encode(),  # a byte order mark
        json.dumps(readable).encode("utf-16"),
        json.dumps({"accountUsage": [{"accountId": "\ud800", "aiMinutes": 1}]}).encode(),
    ):
        assert read_usage(content, START, END) == parse_usage(json.loads(content), START, END)
    for content, retryable in ((b'{"accountUsage": NaN}', False), (b"{", True)):
        with pytest.raises(BadResponse) as refused:
            read_usage(content, START, END)
        assert refused.value.retryable is retryable


# --- open points of the docs: endDate, verb, empty answers, Basic-only, sessions --------


def probes(sims) -> list[tuple[str, str]]:
    """Return the (startDate, endDate) of every /ai/usage call, wherever the dates were sent."""
    asked = []
    for call in usage_calls(sims):
        params = call["body"] or call["query"]
        asked.append((params["startDate"], params["endDate"]))
    return asked


def test_inclusive_end_date_is_detected_with_one_call(make_client, sims, clock):
    client = make_client(end_date="auto")
    yesterday = (clock().date() - ONE_DAY).isoformat()
    fetched = client.usage(START, END)
    assert_matches_oracle(fetched, START, END)
    assert probes(sims) == [(yesterday, yesterday), (START.isoformat(), END.isoformat())]
    assert client.end_date_rule() == "inclusive"


def test_exclusive_end_date_is_detected_and_every_day_is_right(make_client, sims, clock):
    sims.state.update(evovoice_end_date="exclusive")
    client = make_client(end_date="auto")
    start, end = date(2024, 4, 1), date(2024, 4, 5)
    series = client.minutes_series(start, end, "day", "acct-northwind")
    today = clock().date()
    yesterday = today - ONE_DAY
    assert probes(sims)[:3] == [
        (yesterday.isoformat(), yesterday.isoformat()),
        (yesterday.isoformat(), today.isoformat()),
        (today.isoformat(), today.isoformat()),
    ]
    assert client.end_date_rule() == "exclusive"
    # [start, end + 1): every day bucket holds its day, the range its last day too.
    for bucket in series.buckets:
        expected = oracle(bucket.start, bucket.end, "acct-northwind")
        assert bucket.ai_minutes == oracle_minutes(expected, "acct-northwind") > 0
    assert series.total == oracle_minutes(oracle(start, end, "acct-northwind"), "acct-northwind")
    assert (start.isoformat(), (end + ONE_DAY).isoformat()) in probes(sims)


def test_detection_walks_back_past_days_without_usage(make_client, sims, clock):
    # The simulator's last day with usage is three days ago: nearer days say nothing.
    sims.state.update(today=clock().date() - timedelta(days=3), evovoice_end_date="exclusive")
    assert make_client().detect_end_date() == "exclusive"
    sims.state.update(evovoice_end_date="inclusive")
    assert make_client().detect_end_date() == "inclusive"


def test_detection_cannot_tell_without_any_usage(make_client, sims, clock):
    sims.state.update(today=clock().date() - timedelta(days=30))
    client = make_client()
    assert client.detect_end_date() is None
    # Until it is known the documented reading is used, and detection is tried again later.
    assert make_client(end_date="auto").end_date_rule() == "inclusive"


def test_detected_end_date_is_shared_through_the_cache_for_a_day(make_client, sims, clock):
    sims.state.update(evovoice_end_date="exclusive")
    first = make_client(end_date="auto", cache_name="shared")
    assert first.end_date_rule() == "exclusive"
    probed = len(usage_calls(sims))
    # Another worker on the same store reads the finding instead of probing.
    second = make_client(end_date="auto", cache_name="shared")
    assert second.end_date_rule() == "exclusive"
    assert len(usage_calls(sims)) == probed
    # A day later the finding has expired: the upstream is probed again.
    clock.advance(hours=25)
    third = make_client(end_date="auto", cache_name="shared")
    assert third.end_date_rule() == "exclusive"
    assert len(usage_calls(sims)) > probed


def test_configured_end_date_is_never_probed(make_client, sims):
    sims.state.update(evovoice_end_date="exclusive")
    client = make_client(end_date="exclusive")
    fetched = client.usage(START, END)
    assert_matches_oracle(fetched, START, END)
    assert probes(sims) == [(START.isoformat(), (END + ONE_DAY).isoformat())]


@pytest.mark.parametrize("verbs", ["post-404", "post-405"])
def test_get_refused_turns_to_post_once_per_process(make_client, sims, verbs):
    sims.state.update(evovoice_verbs=verbs)
    client = make_client()
    assert client.verb is None
    first = client.usage(START, END, "acct-northwind")
    assert_matches_oracle(first, START, END, "acct-northwind")
    assert client.verb == "POST"
    second = client.usage(START, END - ONE_DAY, "acct-northwind")
    assert_matches_oracle(second, START, END - ONE_DAY, "acct-northwind")
    assert [c["method"] for c in usage_calls(sims)] == ["GET", "POST", "POST"]
    assert usage_calls(sims)[1]["body"] == {
        "startDate": START.isoformat(),
        "endDate": END.isoformat(),
        "accountId": "acct-northwind",
    }


def test_configured_post_never_sends_get_and_get_stays_get(make_client, sims):
    sims.state.update(evovoice_verbs="post-405")
    client = make_client(method="post")
    assert client.verb == "POST"
    assert_matches_oracle(client.usage(START, END), START, END)
    assert [c["method"] for c in usage_calls(sims)] == ["POST"]
    with pytest.raises(UpstreamError) as raised:
        make_client(method="get").usage(START, END)
    assert raised.value.status == 405


def test_a_verb_that_worked_is_kept(make_client, sims):
    client = make_client()
    client.usage(START, END)
    assert client.verb == "GET"
    sims.state.add_fault("evovoice", "404", times=1)
    with pytest.raises(NotFound):
        client.usage(START, END - ONE_DAY)
    assert [c["method"] for c in usage_calls(sims)] == ["GET", "GET"]


def test_empty_object_is_no_usage_not_malformed(make_client, sims):
    sims.state.update(evovoice_idle="omitted")
    client = make_client()
    future = date.today() + timedelta(days=30)
    idle = client.usage(future, future)
    assert (idle.value.accounts, idle.value.customers) == ((), ())
    assert idle.value.minutes() == 0
    assert idle.value.minutes("acct-northwind") is None
    series = client.minutes_series(START, START + timedelta(days=6), "day", "acct-quiet")
    for bucket in series.buckets:
        expected = evovoice_expected(bucket.start, bucket.end, "acct-quiet", idle="omitted")
        assert bucket.ai_minutes == oracle_minutes(expected, "acct-quiet")
    assert None in [b.ai_minutes for b in series.buckets]  # some days are idle


def test_other_json_objects_are_still_not_an_answer():
    assert parse_usage({}, START, END).size == 0
    assert parse_usage({"accountUsage": None}, START, END).size == 0
    for body in ({"items": []}, {"accountUsage": {}}, []):
        with pytest.raises(BadResponse):
            parse_usage(body, START, END)


def test_customer_without_a_record_has_no_number_one_listed_with_zero_has_zero(make_client, sims):
    client = make_client()
    absent = client.usage(START, END, "acct-quiet", "cust-idle")
    assert absent.value.minutes("acct-quiet", "cust-idle") is None
    sims.state.update(evovoice_zero_customers="listed")
    listed = client.usage(START, END, "acct-quiet", "cust-idle", refresh=True)
    assert listed.value.minutes("acct-quiet", "cust-idle") == 0


def test_basic_only_deployment_falls_back_to_basic_once(make_client, sims, caplog):
    sims.state.update(evovoice_auth="basic-only")
    client = make_client()
    with caplog.at_level("WARNING", logger="clients.evovoice"):
        series = client.minutes_series(START, START + timedelta(days=9), "day")
        client.usage(START, END)
    assert client.auth == "basic"
    assert series.total == oracle_minutes(oracle(START, START + timedelta(days=9)))
    assert [c["status"] for c in login_calls(sims)] == [404]
    assert {c["status"] for c in usage_calls(sims)} == {200}
    assert len([r for r in caplog.records if "HTTP Basic" in r.getMessage()]) == 1


def test_expiring_sessions_sign_in_once_per_expiry_and_stay_exact(make_client, sims):
    sims.state.update(evovoice_session_uses=10)
    client = make_client(concurrency=8)
    start, end = date(2024, 5, 1), date(2024, 5, 31)
    series = client.minutes_series(start, end, "day", "acct-northwind")
    for bucket in series.buckets:
        expected = oracle(bucket.start, bucket.end, "acct-northwind")
        assert bucket.ai_minutes == oracle_minutes(expected, "acct-northwind")
    ok = [c for c in usage_calls(sims) if c["status"] == 200]
    assert len(ok) == 32
    # One sign-in per expired session, not one per refused call.
    assert len(login_calls(sims)) <= len(ok) // 10 + 1


def test_session_refused_after_a_good_sign_in_never_says_could_not_sign_in(make_client, sims):
    sims.state.add_fault("evovoice", "401")
    client = make_client()
    with pytest.raises(AuthenticationFailed) as raised:
        client.usage(START, END)
    assert "could not sign in" not in raised.value.message
    assert "accepted the service account's sign-in" in raised.value.message
    assert {c["status"] for c in login_calls(sims)} == {200}


def test_parallel_buckets_all_turn_to_post(make_client, sims):
    sims.state.update(evovoice_verbs="post-405")
    client = make_client(concurrency=8)
    start, end = date(2024, 4, 1), date(2024, 4, 10)
    series = client.minutes_series(start, end, "day", "acct-northwind")
    for bucket in series.buckets:
        expected = oracle(bucket.start, bucket.end, "acct-northwind")
        assert bucket.ai_minutes == oracle_minutes(expected, "acct-northwind")
    assert client.verb == "POST"
    assert len([c for c in usage_calls(sims) if c["method"] == "POST"]) == 11


def test_a_get_refused_after_another_read_learned_post_still_turns(make_client, sims):
    # Each call takes 0.3 s: the first read's GET fails at 0.3 s and its POST teaches the
    # client POST at 0.6 s; the second read's GET, sent at 0.45 s, fails after that.
    sims.state.update(evovoice_verbs="post-405", latency_ms=300)
    client = make_client(auth="basic")
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(client.usage, START, END)
        time.sleep(0.45)
        second = pool.submit(client.usage, START, END - ONE_DAY)
        assert_matches_oracle(first.result(), START, END)
        assert_matches_oracle(second.result(), START, END - ONE_DAY)
    # Logged as they finish: the second GET was refused after the first read learned POST.
    assert [c["method"] for c in usage_calls(sims)] == ["GET", "POST", "GET", "POST"]


def test_detected_end_date_is_shared_through_redis(redis_url, policy, clock, sims):
    sims.state.update(evovoice_end_date="exclusive")
    username, password = EVOVOICE_SERVICE_USER
    stores = [CachedUpstream(redis_url, SECRET, policy, clock=clock) for _ in range(2)]
    first, second = (
        EvovoiceClient(http, lambda: sims.evovoice_url, username, password, end_date="auto")
        for http in stores
    )
    try:
        assert first.end_date_rule() == "exclusive"
        probed = len(usage_calls(sims))
        assert probed >= 3
        # Another worker on the same Redis reads the finding instead of probing.
        assert second.end_date_rule() == "exclusive"
        assert len(usage_calls(sims)) == probed
    finally:
        for http in stores:
            http.close()


def test_a_server_refusing_a_one_day_range_as_empty_reads_end_date_exclusive(make_client, sims):
    # An exclusive server may answer [D, D) with 400 ("endDate must be after startDate").
    sims.state.add_fault("evovoice", "400", times=1)
    assert make_client().detect_end_date() == "exclusive"
    assert len(usage_calls(sims)) == 1
