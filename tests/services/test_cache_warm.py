"""The nightly cache warm: each tenant's default /usage view is read ahead, within the budget."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.cache_warm import warm_all
from tests.conftest import build_app

USAGE_PATHS = ("/v1/usage", "/ai/usage")


def usage_calls(sims) -> int:
    return len([c for c in sims.state.calls() if c["path"].endswith(USAGE_PATHS)])


@pytest.fixture
def tenants(app, make_tenant, make_user):
    make_tenant("acme", integration="acme", account="acct-northwind")  # a whole account
    make_tenant("globex", integration="globex", account="acct-quiet", customer="cust-sparse")
    make_tenant("initech", integration="initech")  # Free: the default range is the last 7 days
    for name in ("acme", "globex", "initech"):
        make_user(f"{name}@example.com", tenant=name)


def warm(app) -> list[str]:
    with app.app_context():
        return warm_all(datetime.now(UTC))


def test_after_the_warm_the_first_visit_of_each_tenant_calls_no_upstream(
    app, app_config, tenants, sims, login
):
    assert sims.state.calls() == []
    lines = warm(app)
    assert [line.split(":")[0] for line in lines] == ["acme", "globex", "initech"]
    made = {line.split(":")[0]: line for line in lines}
    assert all(", " in line and "warmed" in line for line in lines), lines
    reads = [int(line.split("warmed, ")[1].split()[0]) for line in lines]
    assert all(count > 0 for count in reads)
    assert sum(reads) == usage_calls(sims)  # each line counts the reads it made
    assert "initech: warmed" in made["initech"]

    # Another process (a web worker) sharing the cache: its first page is all cache.
    sims.state.clear_calls()
    web = build_app(app_config)
    try:
        clients = {}
        for name in ("acme", "globex", "initech"):
            client = clients[name] = login(web.test_client(), f"{name}@example.com")
            page = client.get("/usage")
            assert page.status_code == 200, name
            assert usage_calls(sims) == 0, (name, sims.state.calls())
        # A view the warm did not read does go upstream: the counting above can see calls.
        assert clients["acme"].get("/usage?granularity=week").status_code == 200
        assert usage_calls(sims) > 0
    finally:
        web.extensions["upstreams"].http.close()

    sims.state.clear_calls()
    again = warm(app)
    assert again == [f"{name}: warmed, 0 upstream reads" for name in ("acme", "globex", "initech")]
    assert usage_calls(sims) == 0


def test_a_tenant_without_sources_or_with_a_failing_upstream_is_said_and_the_rest_warmed(
    app, make_tenant, sims
):
    make_tenant("acme", integration="acme")
    make_tenant("bare")
    make_tenant("globex", integration="globex")
    sims.state.add_fault("isnotai-us", "400")  # acme's region only
    lines = warm(app)
    assert lines[0].startswith("acme: not warmed (") and "isnotai" in lines[0]
    assert lines[1] == (
        "bare: not warmed: it has neither an isnotai integration nor an EvoVoice account"
    )
    assert lines[2].startswith("globex: warmed, ")


class TestBudget:
    BUDGET = 3

    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "USAGE_UPSTREAM_BUDGET": self.BUDGET}

    def test_the_warm_stops_when_the_budget_is_spent_and_says_so(self, app, tenants, sims):
        lines = warm(app)
        spent = (
            f"the upstream budget ({self.BUDGET} reads a minute, USAGE_UPSTREAM_BUDGET) is spent"
        )
        assert lines[0].startswith("acme: partly warmed (") and lines[0].endswith(
            f"{spent}; stopping"
        )
        assert lines[1:] == [f"globex: not warmed: {spent}", f"initech: not warmed: {spent}"]
        assert usage_calls(sims) <= self.BUDGET
