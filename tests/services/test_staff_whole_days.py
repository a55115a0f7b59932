"""A staff range that holds today compares whole days only: the range's days that are over
against the same days of the previous range, said so; a past range as before.

Over HTTP against the EvoVoice simulator, with the oracle in `simulators.data` worked out
here day by day: a day's bucket is one EvoVoice call (rounded once), as on the page.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from presenters.staff import present_staff
from services.filters import parse_staff_query
from services.staff import StaffService
from simulators.data import evovoice_expected, evovoice_minutes

from ..helpers_html import body_rows, text
from ..helpers_staff import change_words, pct

NORTHWIND = "acct-northwind"
DAY = timedelta(days=1)


def real_today() -> date:
    return datetime.now(UTC).date()


def accounts(start: date, end: date) -> dict[str, int]:
    body = evovoice_expected(start, end)
    return {a["accountId"]: a["aiMinutes"] for a in body.get("accountUsage", ())}


def card_change(html: str, chart: str) -> str:
    """Return what a chart's card says of its total and change (its id names the chart)."""
    card = re.search(
        rf'aria-labelledby="{chart}-title">.*?<p class="total">(.*?)(?:<span class="pace|</p>)',
        html,
        re.S,
    )
    assert card is not None, chart
    return " ".join(text(card.group(1)).split())


def rows(html: str, table: str) -> dict[str, list[str]]:
    assert f'<table id="{table}"' in html, table
    found = [[text(c).strip() for c in row] for row in body_rows(html, table)]
    return {cells[0]: cells for cells in found}


def whole_days(previous_start: date, previous_end: date, yesterday: date) -> str:
    return f"vs {previous_start} – {previous_end} (whole days to {yesterday}: today is not over)"


@pytest.mark.parametrize("reach", [0, 3], ids=["ending-today", "reaching-past-today"])
def test_every_account_compares_whole_days_while_the_range_holds_today(signed_in, reach):
    today = real_today()
    yesterday = today - DAY
    start, end = today - 9 * DAY, today + reach * DAY
    # By day the previous range lies the fewest whole weeks back that clear the range.
    back = timedelta(days=14)
    assert evovoice_minutes(today, today)  # today has usage: a part that would skew it
    html = signed_in["staff"].get(f"/staff?start={start}&end={end}").get_data(as_text=True)

    # Whole days are one read each, as on /usage (EvoVoice rounds per call), whatever the
    # granularity: the same days get the same change on every page.
    now, before = (
        evovoice_minutes(start, yesterday),
        evovoice_minutes(start - back, yesterday - back),
    )
    expected = f"{pct(now, before)} {whole_days(start - back, yesterday - back, yesterday)}"
    assert card_change(html, "staff-total").endswith(expected)
    assert f"vs {start - back} – {end - back}" not in html  # not the whole ranges

    note = (
        f"Changes compare whole days: {start} – {yesterday} against {start - back} – "
        f"{yesterday - back} (whole days to {yesterday}: today is not over)."
    )
    assert text(html).count(note) == 2  # under the movers and under the accounts table
    current = accounts(start, yesterday)
    previous = accounts(start - back, yesterday - back)
    table = rows(html, "staff-accounts")
    assert table and set(table) == set(accounts(start, end))
    for account, cells in table.items():
        assert cells[-1] == change_words(current.get(account, 0), previous.get(account)), account
    risen = {a: m - previous.get(a, 0) for a, m in current.items() if m > previous.get(a, 0)}
    shown = list(rows(html, "staff-movers-minutes")) if risen else []
    assert shown == sorted(risen, key=lambda a: (-risen[a], a))[:5]
    assert "no comparison until the range ends" not in html


@pytest.mark.parametrize(
    ("granularity", "reach"), [("day", 0), ("day", 2), ("week", 2)], ids=["day", "past", "week"]
)
def test_one_account_compares_whole_days_while_the_range_holds_today(signed_in, granularity, reach):
    today = real_today()
    yesterday = today - DAY
    start, end = today - 5 * DAY, today + reach * DAY
    back = timedelta(days=7 if (end - start).days < 7 else 14)
    query = f"start={start}&end={end}&granularity={granularity}&account={NORTHWIND}"
    html = signed_in["staff"].get(f"/staff?{query}").get_data(as_text=True)

    now = evovoice_minutes(start, yesterday, NORTHWIND)  # one read, as on /usage
    before = evovoice_minutes(start - back, yesterday - back, NORTHWIND)
    assert now and before
    expected = f"{pct(now, before)} {whole_days(start - back, yesterday - back, yesterday)}"
    assert card_change(html, "staff-series").endswith(expected)
    assert "no comparison until the range ends" not in html


@pytest.mark.parametrize("extra", ["", f"&account={NORTHWIND}"], ids=["every", "one"])
def test_a_past_range_compares_the_whole_ranges_as_before(signed_in, extra):
    today = real_today()
    start, end = today - 10 * DAY, today - DAY
    back = timedelta(days=14)
    html = signed_in["staff"].get(f"/staff?start={start}&end={end}{extra}").get_data(as_text=True)
    account = NORTHWIND if extra else None
    now = evovoice_minutes(start, end, account)
    before = evovoice_minutes(start - back, end - back, account)
    chart = "staff-series" if extra else "staff-total"
    assert card_change(html, chart).endswith(f"{pct(now, before)} vs {start - back} – {end - back}")
    assert "whole days" not in html


@pytest.mark.parametrize("extra", ["", f"&account={NORTHWIND}"], ids=["every", "one"])
def test_a_range_of_today_alone_has_no_comparison(signed_in, extra):
    today = real_today()
    html = signed_in["staff"].get(f"/staff?start={today}&end={today}{extra}").get_data(as_text=True)
    chart = "staff-series" if extra else "staff-total"
    assert card_change(html, chart).endswith("no comparison until a day of the range is over")
    assert "whole days" not in html
    if not extra:
        assert "No comparison yet: a day not over" in html  # the movers
        assert set(c[-1] for c in rows(html, "staff-accounts").values()) == {"–"}


def test_every_account_past_the_read_budget_has_no_comparison(app, evovoice):
    """Whole days would cost reads of every customer again: past the budget, none."""
    today = real_today()
    query = parse_staff_query({"start": str(today - 9 * DAY), "end": str(today)}, today)
    service = StaffService(evovoice, compare_budget=1)
    view = service.view(query)
    assert view.overview is not None and view.comparison is None
    with app.test_request_context():
        context = present_staff(view, today)
    assert str(context["change"]) == "no comparison until the range ends"
    assert context["movers"].ongoing and not context["movers"].note
    assert {r.change for r in context["table"].rows} == {"–"}
    within = StaffService(evovoice).view(query)
    assert within.comparison is not None and within.comparison.end == today - DAY


def test_staff_tables_mark_partial_buckets_and_movers_name_the_days_compared(signed_in):
    today = real_today()
    yesterday = today - DAY
    start = today - 9 * DAY
    for extra in ("", f"&account={NORTHWIND}"):
        query = f"start={start}&end={today + 2 * DAY}&granularity=week{extra}"
        page = text(signed_in["staff"].get(f"/staff?{query}").get_data(as_text=True))
        assert "(so far)" in page, extra  # the week holding today
        if start.weekday():
            assert "(partial)" in page, extra  # the first week, cut by the range
    start, back = today - 29 * DAY, timedelta(days=35)  # 30 days: the demo has rises then
    html = signed_in["staff"].get(f"/staff?start={start}&end={today}").get_data(as_text=True)
    headings = [text(h) for h in re.findall(r'<th scope="col">(.*?)</th>', html)]
    assert f"{start - back} – {yesterday - back}" in headings
    assert f"{start} – {yesterday}" in headings
    assert "This range" not in headings
