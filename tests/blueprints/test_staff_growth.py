"""Who is growing, on the staff overview: the total over the range, each account's trend and
change, and the top movers; and the heading and tab title that name the scope shown."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html import unescape
from urllib.parse import urlencode

import pytest

from core.periods import split
from simulators.data import evovoice_expected, evovoice_minutes

from ..helpers_html import body_rows, text
from ..helpers_staff import change_words, past, pct
from .test_staff import STAFF, figures, people, previous, upstream_calls  # noqa: F401

NORTHWIND = "acct-northwind"


@pytest.fixture
def staff(client, people, login):  # noqa: F811
    return login(client, STAFF)


def account_minutes(start, end) -> dict[str, int]:
    body = evovoice_expected(start, end)
    return {a["accountId"]: a["aiMinutes"] for a in body["accountUsage"]}


def growth_rows(html: str) -> dict[str, tuple[str, str]]:
    """Return each accounts-table row's id → (the trend's SVG, the change's words)."""
    rows = body_rows(html, "staff-accounts")
    return {text(i): (svg, text(c)) for i, _, _, svg, c in rows}


def movers(html: str, table_id: str) -> list[tuple[str, str, str, str, str]]:
    """Return (account, increase, previous, this range, change) of a movers table."""
    return [(text(a), i, p, t, c) for a, i, p, t, c in body_rows(html, table_id)]


def test_the_total_over_the_range_is_a_chart_of_every_account_per_day(staff):
    start, end, query = past(6)
    html = staff.get(f"/staff?{query}&granularity=day").get_data(as_text=True)
    bars = figures(html)["staff-total-data"]["data"][-1]
    days = split(start, end, "day")
    assert bars["x"] == [s.isoformat() for s, _ in days]
    assert bars["y"] == [evovoice_minutes(s, e) for s, e in days]
    total = evovoice_minutes(start, end)
    assert f'<span class="big">{total:,}</span> AI minutes across every account' in html


def test_each_account_row_has_a_trend_and_its_change_in_words(staff):
    start, end, query = past(7)
    html = staff.get(f"/staff?{query}&granularity=day").get_data(as_text=True)
    now, before = account_minutes(start, end), account_minutes(*previous(start, end))
    rows = growth_rows(html)
    assert set(rows) == set(now)
    for account, (svg, change) in rows.items():
        assert change == change_words(now[account], before.get(account)), account
        days = [evovoice_minutes(s, e, account) for s, e in split(start, end, "day")]
        if any(v is not None for v in days):
            # An SVG of polylines with a text equivalent; no inline style (the CSP forbids it).
            assert svg.startswith('<svg class="sparkline"') and "style=" not in svg
            assert 'role="img" aria-label="AI minutes per day: lowest ' in svg
            known = [v for v in days if v is not None]
            assert f"highest {max(known):,}" in unescape(svg)
            points = sum(len(p.split()) for p in re.findall(r'points="([^"]+)"', svg))
            dots = svg.count("<circle")
            assert points + dots == len(known), account


def test_top_movers_are_the_largest_rises_in_minutes_and_in_percent(staff):
    start, end, query = past(5)
    html = staff.get(f"/staff?{query}").get_data(as_text=True)
    now, before = account_minutes(start, end), account_minutes(*previous(start, end))
    risen = {a: m - before.get(a, 0) for a, m in now.items() if m > before.get(a, 0)}
    by_minutes = sorted(risen, key=lambda a: (-risen[a], a))[:5]
    assert [r[0] for r in movers(html, "staff-movers-minutes")] == by_minutes
    for account, increase, was, shown, change in movers(html, "staff-movers-minutes"):
        assert increase == f"+{risen[account]:,}"
        assert (was, shown) == (f"{before.get(account, 0):,}", f"{now[account]:,}")
        assert change == (pct(now[account], before[account]) if before.get(account) else "new")
    relative = [a for a in risen if before.get(a)]
    by_ratio = sorted(relative, key=lambda a: (-risen[a] / before[a], a))[:5]
    if by_ratio:
        assert [r[0] for r in movers(html, "staff-movers-percent")] == by_ratio
    else:
        assert 'id="staff-movers-percent"' not in html


def test_who_is_growing_reads_each_day_once_and_then_nothing(staff, sims):
    _, _, query = past(8)
    sims.state.clear_calls()
    staff.get(f"/staff?{query}&granularity=day")
    # The range, the previous range, and one read per day: never per account or per row.
    assert len(upstream_calls(sims)) == 2 + 8
    sims.state.clear_calls()
    staff.get(f"/staff?{query}&granularity=day&sort=id&page=1")
    assert upstream_calls(sims) == []


def test_a_range_of_one_bucket_reads_it_once(staff, sims):
    start, end, query = past(3)
    months = len(split(start, end, "month"))
    sims.state.clear_calls()
    html = staff.get(f"/staff?{query}&granularity=month").get_data(as_text=True)
    # One bucket is the range itself: read once, with the previous range.
    assert len(upstream_calls(sims)) == (2 if months == 1 else 2 + months)
    assert figures(html)["staff-total-data"]["data"][-1]["y"] == [
        evovoice_minutes(s, e) for s, e in split(start, end, "month")
    ]


SCOPES = [
    ({}, "every account and customer"),
    ({"account": NORTHWIND}, f"account {NORTHWIND}"),
    (
        {"account": NORTHWIND, "customer": "cust-alpha"},
        f"account {NORTHWIND} · customer cust-alpha",
    ),
    ({"customer": "cust-alpha"}, "customer cust-alpha · every account"),
]


@pytest.mark.parametrize(("scope", "words"), SCOPES)
def test_heading_and_title_name_the_scope_shown(staff, scope, words):
    url = f"/staff?preset=7d&{urlencode(scope)}"
    html = staff.get(url).get_data(as_text=True)
    assert f"<title>Staff · AI minutes · {words} · Usage dashboard</title>" in html
    assert f'<h1 id="staff-heading">AI minutes <span class="muted">· {words}</span></h1>' in html

    fragment = staff.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
    # The swap brings the title first (htmx reads a top-level one) and the heading out of band.
    assert fragment.lstrip().startswith(
        f"<title>Staff · AI minutes · {words} · Usage dashboard</title>"
    )
    assert (
        f'<h1 id="staff-heading" hx-swap-oob="true">AI minutes <span class="muted">· {words}</span>'
        in fragment
    )


def test_a_hostile_id_in_the_title_and_heading_is_text(staff):
    hostile = "acct-</script><script>alert(1)</script>"
    html = staff.get(f"/staff?preset=7d&{urlencode({'account': hostile})}").get_data(as_text=True)
    escaped = "acct-&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    assert f"<title>Staff · AI minutes · account {escaped} · Usage dashboard</title>" in html
    assert f"· account {escaped}</span></h1>" in html


def test_a_refused_filter_says_so_in_heading_and_title(staff):
    response = staff.get("/staff?start=2024-13-01", headers={"HX-Request": "true"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "<title>Staff · AI minutes · filter refused · Usage dashboard</title>" in html
    assert "· filter refused</span></h1>" in html


def test_without_its_buckets_the_overview_still_has_total_ranking_movers_and_changes(staff, sims):
    # The range and the previous one are read (and saved) by a view of one bucket ...
    query = "start=2024-03-04&end=2024-03-10"
    assert staff.get(f"/staff?{query}&granularity=month").status_code == 200
    # ... then EvoVoice refuses every read: only the day buckets are not saved.
    sims.state.add_fault("evovoice", "400")
    response = staff.get(f"/staff?{query}&granularity=day")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    total = evovoice_minutes(date(2024, 3, 4), date(2024, 3, 10))
    assert f'<span class="big">{total:,}</span> AI minutes across every account' in html
    assert "No chart or trends per bucket (" in html
    assert "staff-total-data" not in html and "staff-accounts-data" in html
    rows = growth_rows(html)
    assert rows and all(svg == '<span class="muted">–</span>' for svg, _ in rows.values())
    assert any("%" in change for _, change in rows.values())
    assert 'id="staff-movers-minutes"' in html


@pytest.fixture
def roomy_deadline(app_config):
    """Give reads time enough to parse 100,000 customers on a slow, measured run."""
    app_config["USAGE_UPSTREAM_DEADLINE"] = 30.0
    app_config["USAGE_PAGE_DEADLINE"] = 30.0


def test_with_many_customers_the_buckets_coarsen_and_reads_stay_bounded(
    roomy_deadline, staff, sims
):
    # About 27,000 records: 10 day reads would parse 270,000, over the read budget.
    sims.state.update(extra_customers=30_000)
    start, end, query = past(10)
    sims.state.clear_calls()
    response = staff.get(f"/staff?{query}&granularity=day", headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Coarser buckets instead, each at most a whole-range read more (none when it is one).
    shown = next(g for g in ("week", "month") if f"Shown per {g}:" in html)
    spans = split(start, end, shown)
    assert len(figures(html)["staff-total-data"]["data"][-1]["y"]) == len(spans)
    # What is read (a slow answer on a loaded machine may be asked again after a timeout).
    asked = {(c["query"]["startDate"], c["query"]["endDate"]) for c in upstream_calls(sims)}
    ranges = {(start, end), previous(start, end), *([] if len(spans) == 1 else spans)}
    assert asked == {(str(s), str(e)) for s, e in ranges}
    assert 'aria-label="AI minutes per ' + shown in html


def test_the_overview_and_an_account_show_the_months_pace_as_usage_does(staff):
    today = datetime.now(UTC).date()
    first = today.replace(day=1)
    html = staff.get("/staff?preset=mtd&granularity=day").get_data(as_text=True)
    total = evovoice_minutes(first, today)
    assert f"month to date {total:,} · on pace for " in html
    assert "by the end of the range" not in html  # the range's old projection is gone
    account = "acct-northwind"
    html = staff.get(f"/staff?preset=mtd&granularity=day&account={account}").get_data(as_text=True)
    assert f"month to date {evovoice_minutes(first, today, account_id=account):,} · " in html
