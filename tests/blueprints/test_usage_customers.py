"""A tenant of a whole EvoVoice account sees its AI minutes by customer, as staff do."""

from __future__ import annotations

import json
import re

import pytest

from simulators.data import EVOVOICE_ACCOUNTS, evovoice_expected
from tests.blueprints.test_usage import NORTHWIND, past_query

CHART = "chart-ai-minutes-customers"


@pytest.fixture
def tenants(make_tenant, make_user):
    make_tenant("acme", integration="acme", account=NORTHWIND)
    make_tenant("one-customer", account=NORTHWIND, customer=EVOVOICE_ACCOUNTS[NORTHWIND][0])
    make_user("acme@example.com", tenant="acme")
    make_user("one@example.com", tenant="one-customer")


def _figure(html: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{CHART}-data">(.*?)</script>', html)
    assert found, "no customer breakdown on the page"
    return json.loads(found.group(1))


def _table(html: str) -> list[tuple[str, str, str]]:
    figure = html[html.index(f'id="{CHART}-title"') :]
    body = figure[figure.index("<tbody>") : figure.index("</tbody>")]
    return re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td><td>(.*?)</td>', body)


def test_a_whole_account_tenant_sees_its_customers_ranked(client, tenants, login):
    login(client, "acme@example.com")
    start, end, query = past_query(14)
    html = client.get(f"/usage?{query}").get_data(as_text=True)
    expected = sorted(
        (r for r in evovoice_expected(start, end, account_id=NORTHWIND)["customerUsage"]),
        key=lambda r: (-r["aiMinutes"], r["customerId"]),
    )
    assert "AI minutes by customer" in html
    bars = _figure(html)["data"][0]
    top = expected[:10]
    assert bars["x"][: len(top)] == [r["aiMinutes"] for r in top]
    rows = _table(html)
    assert [(cid, minutes) for cid, minutes, _share in rows[: len(top)]] == [
        (r["customerId"], f"{r['aiMinutes']:,}") for r in top
    ]
    rest = expected[10:]
    if rest:  # the rest in one bar and one row, never dropped
        assert rows[-1][0] == f"{len(rest)} other customer{'s' if len(rest) > 1 else ''}"
        assert bars["x"][-1] == sum(r["aiMinutes"] for r in rest)
    # A customer's own page is the tenant's: its rows lead nowhere (no staff links).
    assert "/staff?" not in html[html.index(f'id="{CHART}-title"') :]


def test_a_one_customer_tenant_gets_no_breakdown(client, tenants, login):
    login(client, "one@example.com")
    _start, _end, query = past_query(14)
    html = client.get(f"/usage?{query}").get_data(as_text=True)
    assert "AI minutes by customer" not in html
    assert CHART not in html


@pytest.mark.parametrize("days", [14, 60, 90])
def test_customers_that_do_not_add_up_to_the_accounts_total_are_explained(
    client, tenants, login, days
):
    login(client, "acme@example.com")
    start, end, query = past_query(days)
    html = client.get(f"/usage?{query}&granularity=week").get_data(as_text=True)
    body = evovoice_expected(start, end, account_id=NORTHWIND)
    customers = sum(r["aiMinutes"] for r in body["customerUsage"])
    total = body["accountUsage"][0]["aiMinutes"]
    note = (
        f"EvoVoice rounds each record: its customers add up to {customers:,} minutes, "
        f"the account&#39;s own total is {total:,}."
    )
    assert (note in html) == (customers != total), (customers, total)
