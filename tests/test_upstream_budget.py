"""Each caller's upstream calls per minute are bounded: past the budget, saved data or a 429."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.embed_tokens import mint

from .conftest import signing_key

BUDGET = 2  # one isnotai view: the range and the one before it
WORDS = f"used the {BUDGET} upstream reads allowed per minute"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "USAGE_UPSTREAM_BUDGET": BUDGET}


@pytest.fixture
def people(app, make_tenant, make_user, clock):
    app.extensions["upstreams"].http.clock = clock
    make_tenant("acme", integration="acme")  # isnotai only: two calls a view
    make_tenant("minutes", account="acct-northwind")
    make_user("one@example.com", tenant="acme")
    make_user("two@example.com", tenant="acme")
    make_user("staff@example.com", role="staff")


def days_back(n: int) -> str:
    end = datetime.now(UTC).date() - timedelta(days=n)
    return f"start={end - timedelta(days=6)}&end={end}"


def usage_calls(sims) -> int:
    return len([c for c in sims.state.calls() if c["path"] in ("/v1/usage", "/ai/usage")])


def test_past_the_budget_saved_data_answers_and_the_rest_is_a_429(
    app, client, people, login, sims, clock
):
    login(client, "one@example.com")
    first = client.get(f"/usage?{days_back(1)}")
    assert first.status_code == 200
    assert usage_calls(sims) == BUDGET  # the whole budget
    sims.state.clear_calls()

    for url, headers in (
        (f"/usage?{days_back(20)}", {}),
        (f"/usage?{days_back(20)}&granularity=week", {"HX-Request": "true"}),
        (f"/usage/metrics.csv?{days_back(20)}", {}),
    ):
        refused = client.get(url, headers=headers)
        body = refused.get_data(as_text=True)
        assert refused.status_code == 429, body[:300]
        assert WORDS in body and "try again in" in body
    assert usage_calls(sims) == 0  # nothing more was asked upstream

    assert client.get(f"/usage?{days_back(1)}").status_code == 200  # fresh saved data: free
    clock.advance(hours=7)  # no longer fresh: it would be fetched again, but may stand in
    stale = client.get(f"/usage?{days_back(1)}")
    body = stale.get_data(as_text=True)
    assert stale.status_code == 200
    assert "Showing saved data" in body and WORDS in body
    export = client.get(f"/usage/metrics.csv?{days_back(1)}")
    assert export.status_code == 200
    assert export.headers["X-Data-Freshness"].startswith("stale; ")
    assert usage_calls(sims) == 0


def test_each_user_and_each_widget_tenant_has_its_own_budget(app, client, people, login, sims):
    login(client, "one@example.com")
    assert client.get(f"/usage?{days_back(1)}").status_code == 200
    assert client.get(f"/usage?{days_back(20)}").status_code == 429

    other = login(app.test_client(), "two@example.com")  # same tenant, another user
    assert other.get(f"/usage?{days_back(20)}").status_code == 200

    staff = login(app.test_client(), "staff@example.com")
    # Inside acme's 30-day window: a range wholly before it costs no call at all.
    assert staff.get(f"/usage?tenant=acme&{days_back(10)}").status_code == 200
    assert staff.get(f"/usage?tenant=acme&{days_back(12)}").status_code == 429

    token = mint(signing_key(app, "acme"), ttl=timedelta(minutes=30))
    widget = app.test_client()
    assert (
        widget.get("/embed/metrics?preset=7d", headers={"X-Embed-Token": token}).status_code == 200
    )
    refused = widget.get("/embed/metrics?preset=30d", headers={"X-Embed-Token": token})
    assert refused.status_code == 429 and WORDS in refused.get_data(as_text=True)


def test_staff_pages_and_exports_answer_429_past_the_budget(app, client, people, login, sims):
    login(client, "staff@example.com")
    assert client.get(f"/staff?{days_back(1)}").status_code == 200  # this range and the last
    sims.state.clear_calls()
    for url in (f"/staff?{days_back(20)}", f"/staff/accounts.csv?{days_back(20)}"):
        refused = client.get(url)
        assert refused.status_code == 429 and WORDS in refused.get_data(as_text=True)
    assert usage_calls(sims) == 0
