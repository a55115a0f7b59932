"""An account or customer id EvoVoice does not list: said so, with the closest ids, not zeros."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest

from services.filters import parse_staff_query
from services.staff import StaffService, closest

from ..helpers_staff import past, today

NORTHWIND = "acct-northwind"
HOSTILE = "acct-</script><script>alert(1)</script>"
STAFF = "staff@example.com"


@pytest.fixture
def staff(client, make_user, login):
    make_user(STAFF, role="staff")
    return login(client, STAFF)


def results(response) -> str:
    html = response.get_data(as_text=True)
    return html[html.index('id="staff-title"') :]


def suggestions(html: str) -> list[str]:
    block = re.search(r'<ul class="staff-suggestions">(.*?)</ul>', html, re.S)
    return [unescape(text) for text in re.findall(r">([^<]*)</a>", block.group(1))] if block else []


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def test_closest_puts_ids_containing_the_text_first_then_similar_ones():
    ids = ["acct-northwind", "acct-quiet", "zürich", "acct-north-2", "acct-nothing"]
    assert closest("acct-n", ids)[:3] == ("acct-northwind", "acct-north-2", "acct-nothing")
    assert closest("acct-nortwind", ids)[0] == "acct-northwind"  # a misspelling
    assert closest("NORTH", ids) == ("acct-northwind", "acct-north-2")  # case ignored
    assert len(closest("acct", [f"acct-{n}" for n in range(50)])) == 5
    assert closest("zzz", ids) == ()


def test_the_service_names_an_unlisted_account_and_reads_no_series_for_it(evovoice, sims):
    start, end, _ = past(10)
    args = {"start": str(start), "end": str(end), "account": "acct-n", "granularity": "day"}
    query = parse_staff_query(args, today())
    view = StaffService(evovoice).view(query)
    assert view.status == 200
    assert (view.unknown.kind, view.unknown.id) == ("account", "acct-n")
    assert view.unknown.suggestions[0] == NORTHWIND
    assert view.series is None and view.customers is None
    # One scoped whole-range read and one of every account: no bucket per day.
    assert len([c for c in sims.state.calls() if c["path"] == "/ai/usage"]) == 2


def test_an_unlisted_account_page_says_so_and_links_the_closest(client, staff):
    _, _, query = past(10)
    response = client.get(f"/staff?{query}&account=acct-n")
    assert response.status_code == 200
    html = results(response)
    assert "No account <code>acct-n</code> in this range." in html
    assert suggestions(html)[0] == NORTHWIND
    assert "account=acct-northwind" in html
    assert 'data-chart="staff-series-data"' not in html  # no series of empty buckets
    assert "staff-customers" not in html


def test_an_unlisted_customer_page_says_so_and_links_the_closest(client, staff):
    _, _, query = past(10)
    response = client.get(f"/staff?{query}&account={NORTHWIND}&customer=cust-alfa")
    assert response.status_code == 200
    html = results(response)
    assert "No customer <code>cust-alfa</code> in this range." in html
    assert suggestions(html)[0] == "cust-alpha"
    assert 'data-chart="staff-series-data"' not in html

    everywhere = results(client.get(f"/staff?{query}&customer=brav"))
    assert "No customer <code>brav</code> in this range." in everywhere
    assert "cust-bravo" in suggestions(everywhere)


def test_a_known_account_and_customer_still_show_their_numbers(client, staff):
    _, _, query = past(10)
    for scope in (f"account={NORTHWIND}", f"account={NORTHWIND}&customer=cust-alpha"):
        response = client.get(f"/staff?{query}&{scope}")
        assert response.status_code == 200
        assert "in this range.</strong>" not in response.get_data(as_text=True)


def test_hostile_unlisted_ids_are_escaped(client, staff):
    _, _, query = past(10)
    text = "<script>alert(1)</script>"
    response = client.get(f"/staff?{query}&account=acct-%3Cscript%3Ealert(1)%3C/script%3E")
    html = results(response)
    assert response.status_code == 200
    assert text not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The hostile listed account is offered as text and as a link that escapes it too.
    assert HOSTILE in suggestions(html)
    assert HOSTILE not in html


def test_exports_for_an_unlisted_id_are_empty_csvs_with_headers(client, staff):
    _, _, query = past(10)
    accounts = client.get(f"/staff/accounts.csv?{query}&account=acct-n")
    assert accounts.status_code == 200
    assert csv_rows(accounts) == [["account_id", "ai_minutes"]]
    customers = client.get(f"/staff/customers.csv?{query}&account={NORTHWIND}&customer=nobody")
    assert customers.status_code == 200
    assert csv_rows(customers) == [["account_id", "customer_id", "ai_minutes"]]
