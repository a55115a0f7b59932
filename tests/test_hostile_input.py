"""Any query string on any route: 2xx or 4xx, never 5xx, and nothing sent upstream for
input the app refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.embed_tokens import mint
from services.filters import DAILY_TOO_LONG, latest_date

from .conftest import signing_key

PARAMS = [
    "start", "end", "preset", "metric", "granularity", "compare", "tenant", "account",
    "customer", "q", "sort", "page", "theme", "token", "next", "refresh",
]  # fmt: skip
ODD_VALUES = [
    "", " ", "0", "-1", "2026-02-30", "2026-13-01", "99999-01-01", "0000-00-00", "1e309",
    "NaN", "all", "ALL", "day", "week", "month", "previous", "7d", "custom", "last-month",
    "</script><script>alert(1)</script>", "'\"<>&", "\x00", "\r\n", "\u2028", "%00",
    "a" * 5000, "../../etc/passwd", "=HYPERLINK(\"http://evil.example\")", "☃", "\ud7ff",
]  # fmt: skip
values = st.one_of(st.sampled_from(ODD_VALUES), st.text(max_size=300))
pairs = st.lists(
    st.tuples(st.one_of(st.sampled_from(PARAMS), st.text(max_size=20)), values), max_size=8
)
raw_queries = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"%", b"%zz", b"%ff%fe=%c3%28", b"start=%ff", b"&&&==&", b"metric=%00"]),
)
HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def app_config(app_config):
    return {**app_config, "REFRESH_LIMIT": "1000 per minute"}


@pytest.fixture
def customer(app, client, make_tenant, make_user, login):
    make_tenant("acme", integration="acme", account="acct-northwind")
    make_user("acme@example.com", tenant="acme")
    return login(client, "acme@example.com")


def upstream_calls(sims) -> int:
    return len([c for c in sims.state.calls() if c["path"] in ("/v1/usage", "/ai/usage")])


def check(client, sims, path, query, headers=None):
    sims.state.clear_calls()
    if isinstance(query, bytes):
        # A raw query string, as a server hands it over: bytes read as latin-1 (PEP 3333).
        response = client.get(
            path, environ_overrides={"QUERY_STRING": query.decode("latin-1")}, headers=headers
        )
    else:
        response = client.get(path, query_string=query, headers=headers or {})
    assert response.status_code < 500, (path, query, response.status_code)
    body = response.get_data(as_text=True)
    assert "Traceback" not in body
    if 400 <= response.status_code < 500:
        assert upstream_calls(sims) == 0, (path, query, response.status_code)
    return response


@pytest.mark.parametrize(
    "path", ["/usage", "/usage/metrics.csv", "/usage/ai-minutes.csv", "/", "/login"]
)
@HYPOTHESIS
@given(query=pairs)
def test_signed_in_routes_survive_any_query(customer, sims, path, query):
    check(customer, sims, path, query)


@HYPOTHESIS
@given(query=pairs)
def test_usage_fragments_survive_any_query(customer, sims, query):
    check(customer, sims, "/usage", query, {"HX-Request": "true"})


@pytest.mark.parametrize("path", ["/usage", "/usage/metrics.csv", "/embed/metrics", "/login"])
@HYPOTHESIS
@given(query=raw_queries)
def test_odd_encodings_are_answered(customer, sims, path, query):
    check(customer, sims, path, query)


@pytest.mark.parametrize("path", ["/embed/metrics", "/embed/ai-minutes"])
@HYPOTHESIS
@given(query=pairs)
def test_widgets_survive_any_query(customer, sims, path, query):
    token = mint(signing_key(customer.application, "acme"), ttl=timedelta(minutes=10))
    check(customer, sims, path, [("token", token), *query])
    check(customer, sims, path, query, {"X-Embed-Token": token, "HX-Request": "true"})


@HYPOTHESIS
@given(query=pairs)
def test_refresh_survives_any_query(customer, sims, query):
    sims.state.clear_calls()
    response = customer.post("/usage/refresh", query_string=query)
    assert response.status_code < 500
    if 400 <= response.status_code < 500:
        assert upstream_calls(sims) == 0


@HYPOTHESIS
@given(version=st.text(max_size=40), name=st.text(max_size=40))
def test_asset_urls_survive_anything(client, version, name):
    from urllib.parse import quote

    response = client.get(f"/assets/vendor/{quote(version, safe='')}/{quote(name, safe='')}")
    assert response.status_code in (200, 404, 308)


def test_repeated_parameters_use_the_first(customer, sims):
    response = check(customer, sims, "/usage", [("metric", "events"), ("metric", "bogus")])
    assert response.status_code == 200
    assert "chart-Events-data" in response.get_data(as_text=True)


@pytest.fixture
def staff(app, make_tenant, make_user, login):
    make_tenant("acme", integration="acme", account="acct-northwind")
    make_user("staff@example.com", role="staff")
    return login(app.test_client(), "staff@example.com")


@pytest.mark.parametrize(
    "path",
    [
        "/staff",
        "/staff/accounts.csv",
        "/staff/customers.csv",
        "/staff/accounts/options",
        "/staff/customers/options",
        "/staff/tenants",
        "/usage",
    ],
)
@HYPOTHESIS
@given(query=pairs)
def test_staff_routes_survive_any_query(staff, sims, path, query):
    check(staff, sims, path, query)
    check(staff, sims, path, query, {"HX-Request": "true"})


@HYPOTHESIS
@given(query=raw_queries)
def test_staff_odd_encodings_are_answered(staff, sims, query):
    check(staff, sims, "/staff", query)


# -- dates at the calendar's edges and long daily ranges: 400 before any upstream call -----

HX = {"HX-Request": "true"}


def route(method, path, headers=None, **params):
    name = f"{method} {path}{' htmx' if headers else ''}{' as staff' if params else ''}"
    return pytest.param((method, path, headers or {}, params), id=name)


CUSTOMER_DATE_ROUTES = [
    route("GET", "/usage"),
    route("GET", "/usage", HX),
    route("GET", "/usage/metrics.csv"),
    route("GET", "/usage/ai-minutes.csv"),
    route("POST", "/usage/refresh"),
    route("POST", "/usage/refresh", HX),
]
STAFF_DATE_ROUTES = [
    route("GET", "/staff"),
    route("GET", "/staff", HX),
    route("GET", "/staff/accounts.csv"),
    route("GET", "/staff/customers.csv"),
    route("GET", "/staff/accounts/options", HX),
    route("GET", "/staff/customers/options", HX),
    route("POST", "/staff/refresh"),
    route("POST", "/staff/refresh", HX),
    route("GET", "/usage", tenant="acme"),
    route("GET", "/usage/metrics.csv", tenant="acme"),
]
FAR_FUTURE = (datetime.now(UTC).date() + timedelta(days=2 * 366)).isoformat()
EDGE_DATES = [
    pytest.param("end", {"end": "9999-12-31"}, id="end=9999-12-31"),
    pytest.param("end", {"end": "0001-01-01"}, id="end=0001-01-01"),
    pytest.param("start", {"start": "0001-01-01"}, id="start=0001-01-01"),
    pytest.param("start", {"start": "1999-12-31", "end": "2000-01-10"}, id="start=1999-12-31"),
    pytest.param("end", {"start": "2026-01-01", "end": FAR_FUTURE}, id="end in two years"),
]
LONG_DAILY = {"start": "2025-01-01", "end": "2025-04-03", "granularity": "day"}  # 93 days


def refused_before_upstream(client, sims, target, query):
    method, path, headers, params = target
    sims.state.clear_calls()
    response = client.open(path, method=method, query_string={**params, **query}, headers=headers)
    assert response.status_code == 400, (target, query, response.status_code)
    assert sims.state.calls() == [], "nothing may be asked upstream for a refused filter"
    return response.get_data(as_text=True)


@pytest.mark.parametrize(("field", "query"), EDGE_DATES)
@pytest.mark.parametrize("target", CUSTOMER_DATE_ROUTES)
def test_customer_routes_refuse_dates_outside_the_window(customer, sims, target, field, query):
    body = refused_before_upstream(customer, sims, target, query)
    assert f"{field} must be between 2000-01-01 and " in body


@pytest.mark.parametrize(("field", "query"), EDGE_DATES)
@pytest.mark.parametrize("target", STAFF_DATE_ROUTES)
def test_staff_routes_refuse_dates_outside_the_window(staff, sims, target, field, query):
    body = refused_before_upstream(staff, sims, target, query)
    assert f"{field} must be between 2000-01-01 and " in body


@pytest.mark.parametrize("target", CUSTOMER_DATE_ROUTES)
def test_customer_routes_refuse_long_daily_ranges(customer, sims, target):
    body = refused_before_upstream(customer, sims, target, LONG_DAILY)
    assert DAILY_TOO_LONG in body


@pytest.mark.parametrize("target", STAFF_DATE_ROUTES)
def test_staff_routes_refuse_long_daily_ranges(staff, sims, target):
    body = refused_before_upstream(staff, sims, target, LONG_DAILY)
    assert DAILY_TOO_LONG in body


def test_a_long_range_without_a_granularity_is_shown_by_week(customer, sims):
    query = {"start": "2025-01-06", "end": "2025-04-13"}  # 98 days: 14 ISO weeks
    response = customer.get("/usage/ai-minutes.csv", query_string=query)
    assert response.status_code == 200
    rows = response.get_data(as_text=True).splitlines()[1:]
    assert len(rows) == 14 and rows[1].startswith("2025-01-13,")
    calls = [c for c in sims.state.calls() if c["path"] == "/ai/usage"]
    assert len(calls) <= 15  # a bucket each and the range total: not one per day


@pytest.mark.parametrize("widget", ["metrics", "ai-minutes"])
def test_widgets_take_no_dates_from_the_url(app, customer, widget):
    result = app.test_cli_runner().invoke(args=["embed-token", "acme", "--widget", widget])
    assert result.exit_code == 0, result.output
    url = urlsplit(result.output.strip())
    query = f"{url.query}&start=0001-01-01&end=9999-12-31&granularity=day&preset=90d"
    response = app.test_client().get(f"{url.path}?{query}")
    assert response.status_code == 200
    assert "Last 90 days" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    ["/usage", "/usage/metrics.csv", "/usage/ai-minutes.csv", "/staff", "/staff/accounts.csv"],
)
def test_the_first_and_last_days_of_the_window_are_answered(staff, path):
    today = datetime.now(UTC).date()
    # A range may not start after today: the last day is reached from today (a year on,
    # unless a 29 February makes that 367 days).
    latest = min(latest_date(today), today + timedelta(days=365))
    for query in (
        {"start": "2000-01-01", "end": "2000-03-01", "compare": "previous"},
        {"start": str(today), "end": str(latest)},
    ):
        response = staff.get(path, query_string={"tenant": "acme", **query})
        assert response.status_code == 200, (query, response.status_code)


@pytest.mark.parametrize("host", ["a..b", "a" * 64 + ".example", "."])
@pytest.mark.parametrize("path", ["/healthz", "/login", "/usage", "/embed/ai-minutes"])
def test_a_host_header_werkzeug_refuses_is_a_plain_400(client, caplog, host, path):
    response = client.get(path, headers={"Host": host})
    assert response.status_code == 400
    assert response.mimetype == "text/plain"
    assert "Traceback" not in response.get_data(as_text=True)
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
