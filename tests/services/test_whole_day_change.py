"""A change counts whole days only: today's partial day is never set against a whole one.

Over HTTP against the simulators; the expected numbers come from the simulators' own data
(`simulators.data`), day by day, not from the dashboard's reading of their answers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from presenters.formatting import change_text
from simulators.data import evovoice_minutes, isnotai_expected
from tests.helpers_html import text

ACCOUNT = "acct-northwind"


def today() -> date:
    return datetime.now(UTC).date()


def events(start: date, end: date) -> int:
    return sum(isnotai_expected("acme", start, end, metrics=("Events",))["Events"].values())


def minutes(start: date, end: date) -> int:
    return evovoice_minutes(start, end, ACCOUNT) or 0


def pct(current: int, previous: int) -> float:
    return (current - previous) / previous * 100


def page(client, query: str) -> str:
    """Return the words of the usage page."""
    response = client.get(f"/usage?{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    return text(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("first", "last", "granularity", "shift"),
    [
        (-6, 0, "day", 7),  # the last 7 days, ending today
        (-13, 0, "week", 14),  # two weeks' buckets, ending today
        (-5, 3, "day", 14),  # reaching past today
    ],
    ids=["ending-today", "weeks-ending-today", "past-today"],
)
def test_a_range_holding_today_compares_its_whole_days_with_the_same_days_back(
    signed_in, first, last, granularity, shift
):
    now = today()
    start, end = now + timedelta(days=first), now + timedelta(days=last)
    yesterday = now - timedelta(days=1)
    before = (start - timedelta(days=shift), yesterday - timedelta(days=shift))
    html = page(signed_in["customer"], f"start={start}&end={end}&granularity={granularity}")
    against = f"{before[0]} – {before[1]} (whole days to {yesterday}: today is not over)"
    for current, previous in [
        (events(start, yesterday), events(*before)),
        (minutes(start, yesterday), minutes(*before)),
    ]:
        assert previous, "the simulators have usage on these days"
        assert change_text(pct(current, previous), against=against).text in html


def test_a_whole_day_change_reads_ai_minutes_with_and_without_the_previous_series(signed_in):
    now = today()
    start, yesterday = now - timedelta(days=6), now - timedelta(days=1)
    week = timedelta(days=7)
    expected = change_text(
        pct(minutes(start, yesterday), minutes(start - week, yesterday - week)),
        against=f"{start - week} – {yesterday - week} "
        f"(whole days to {yesterday}: today is not over)",
    ).text
    for compare in ("none", "previous"):
        html = page(signed_in["customer"], f"start={start}&end={now}&compare={compare}")
        assert expected in html, compare


def test_a_range_of_today_alone_has_no_change_until_the_day_is_over(signed_in):
    now = today()
    html = page(signed_in["customer"], f"start={now}&end={now}")
    # Four isnotai flows and AI minutes; storage, a level, compares its latest reading.
    assert html.count("no comparison until a day of the range is over") >= 5
    assert "whole days to" not in html


def test_a_range_over_before_today_compares_its_totals_as_before(signed_in):
    now = today()
    start, end = now - timedelta(days=10), now - timedelta(days=4)
    before = (start - timedelta(days=7), end - timedelta(days=7))
    html = page(signed_in["customer"], f"start={start}&end={end}")
    against = f"{before[0]} – {before[1]}"
    for current, previous in [
        (events(start, end), events(*before)),
        (minutes(start, end), minutes(*before)),
    ]:
        assert change_text(pct(current, previous), against=against).text in html
    assert "whole days to" not in html


def storage(day: date) -> int:
    return isnotai_expected("acme", day, day, metrics=("StorageBytes",))["StorageBytes"][day]


def test_a_level_reaching_past_today_compares_its_latest_reading_with_the_same_day_back(
    signed_in,
):
    now = today()
    start, end = now - timedelta(days=5), now + timedelta(days=3)
    back = now - timedelta(days=14)  # 9 days: two whole weeks back
    html = page(signed_in["customer"], f"start={start}&end={end}")
    against = f"the reading of {back}"
    assert change_text(pct(storage(now), storage(back)), against=against).text in html
