"""Any query string on any route: 2xx or 4xx, never 5xx, and nothing sent upstream for
input the app refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.embed_tokens import mint

EMBED_SECRET = "embed-secret-for-hostile-input-tests-0123"
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
    return {**app_config, "USAGE_EMBED_SECRET": EMBED_SECRET, "REFRESH_LIMIT": "1000 per minute"}


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
    token = mint(EMBED_SECRET, "acme", ttl=timedelta(minutes=10))
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
