"""`services.staff`: rankings of a real EvoVoice answer (top N, the rest, one table page)."""

from __future__ import annotations

import pytest

from services.staff import PAGE_SIZE, account_id, customer_id, paginate, rank
from simulators.data import evovoice_expected

from ..helpers_staff import accounts_by_minutes, customers_by_minutes, past

NORTHWIND = "acct-northwind"


def test_top_n_and_the_other_bar_add_up_to_the_total(evovoice):
    start, end, _ = past(10)
    usage = evovoice.usage(start, end).value
    ranking = rank(usage, ("accounts",), account_id, "-minutes", "", 1, top_n=2)
    expected = accounts_by_minutes(evovoice_expected(start, end))
    total = sum(m for _, m in expected)
    assert [(r.id, r.ai_minutes) for r in ranking.top] == expected[:2]
    assert ranking.other == sum(m for _, m in expected[2:])
    assert ranking.other_count == 3 and ranking.sum == total
    assert ranking.other_share == ranking.other / total * 100


def test_a_searched_page_past_the_end_is_the_last_page_of_the_matches(evovoice, sims):
    sims.state.update(extra_customers=200)
    start, end, _ = past(5)
    usage = evovoice.usage(start, end, NORTHWIND).value
    body = evovoice_expected(start, end, account_id=NORTHWIND, extra_customers=200)
    everyone = customers_by_minutes(body, NORTHWIND)
    found = sorted(c for c, _ in everyone if "cust-0" in c)
    whole = sum(m for _, m in everyone)
    pages = -(-len(found) // PAGE_SIZE)
    assert pages > 1

    ranking = rank(usage, ("customers", NORTHWIND), customer_id, "id", "CUST-0", 99)
    table = ranking.table
    assert (table.requested, table.number, table.pages) == (99, pages, pages)
    assert table.clamped and table.matching == len(found)
    assert table.first == (pages - 1) * PAGE_SIZE + 1
    assert [r.id for r in table.rows] == found[(pages - 1) * PAGE_SIZE :]
    minutes = dict(everyone)
    assert [r.share for r in table.rows] == [minutes[r.id] / whole * 100 for r in table.rows]
    # The top ten and the rest rank every customer, whatever the search.
    assert [(r.id, r.ai_minutes) for r in ranking.top] == everyone[:10]
    assert ranking.count == len(everyone) and ranking.sum == whole


@pytest.mark.parametrize(
    ("count", "page", "shown", "number", "pages"),
    [
        (60, 1, range(0, 25), 1, 3),
        (60, 3, range(50, 60), 3, 3),
        (60, 99, range(50, 60), 3, 3),  # past the end: the last page
        (50, 2, range(25, 50), 2, 2),  # an exact multiple has no empty last page
        (0, 4, range(0), 1, 1),  # nothing to show is still one (empty) page
    ],
)
def test_paginate_clamps_to_the_last_page(count, page, shown, number, pages):
    assert paginate(list(range(count)), page, size=25) == (list(shown), number, pages)
