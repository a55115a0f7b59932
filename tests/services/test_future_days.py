"""Days after today (UTC) are not data: no value, not 0, whatever an upstream answers for them."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from clients.isnotai import IsnotaiUsage, UsagePoint
from presenters.usage import present_usage
from services.filters import UsageQuery
from services.freshness import Freshness
from services.shaping import Bucket, last_value, metric_buckets, up_to
from services.usage import MetricPanel, MetricsSection, MinutesSection, TenantScope, UsageView
from tests.helpers_html import text

TODAY = date(2026, 3, 10)
DAYS = [date(2026, 3, 8) + timedelta(days=i) for i in range(5)]  # 8th to 12th: two to come


def zeros_after_today(metric: str, values: list[int]) -> IsnotaiUsage:
    """An answer as some upstreams give it: the days to come reported as 0."""
    return IsnotaiUsage(
        start=DAYS[0],
        end=DAYS[-1],
        region="us",
        tier=None,
        points=tuple(UsagePoint(d, "day", metric, v) for d, v in zip(DAYS, values, strict=True)),
        totals={metric: values[2] if metric == "StorageBytes" else sum(values)},
    )


# -- shaping ----------------------------------------------------------------------------------


def test_buckets_after_today_have_no_value_and_the_bucket_of_today_keeps_its_own():
    answer = zeros_after_today("Events", [5, 6, 7, 0, 0])
    assert [b.value for b in metric_buckets(answer, "Events", "day", TODAY)] == [
        5,
        6,
        7,
        None,
        None,
    ]
    assert [b.value for b in metric_buckets(answer, "Events", "day")] == [5, 6, 7, 0, 0]
    week = [
        Bucket(date(2026, 3, 9), date(2026, 3, 15), 13),
        Bucket(date(2026, 3, 16), date(2026, 3, 22), 0),
    ]
    assert [b.value for b in up_to(week, TODAY)] == [13, None]  # this week so far


def test_a_levels_latest_reading_is_its_last_value_up_to_today():
    buckets = up_to(
        metric_buckets(zeros_after_today("StorageBytes", [1, 2, 3, 0, 0]), "StorageBytes", "day"),
        TODAY,
    )
    assert last_value(buckets) == 3
    assert last_value([Bucket(TODAY, TODAY, None)]) is None


# -- presenting -------------------------------------------------------------------------------


def view_with_zeros_after_today() -> UsageView:
    query = UsageQuery(DAYS[0], DAYS[-1], None)
    flows = zeros_after_today("Events", [5, 6, 7, 0, 0])
    level = zeros_after_today("StorageBytes", [100, 200, 300, 0, 0])
    panels = [
        MetricPanel(
            "Events",
            metric_buckets(flows, "Events", "day"),
            None,
            18,
            None,
            None,
            compared=(11, 10),  # the 8th and 9th, against the 1st and 2nd
        ),
        MetricPanel(
            "StorageBytes",
            metric_buckets(level, "StorageBytes", "day"),
            None,
            0,
            250,
            None,
            True,
            compared=(300, 250),  # today's reading, and the reading a week before
        ),
    ]
    minutes = MinutesSection(
        "acct",
        None,
        buckets=[Bucket(d, d, v) for d, v in zip(DAYS, [4, 0, 2, 0, 0], strict=True)],
        total=6,
    )
    return UsageView(TenantScope("t"), query, MetricsSection(panels), minutes, Freshness(None))


def test_the_page_shows_days_to_come_as_not_yet_and_totals_so_far():
    context = present_usage(view_with_zeros_after_today(), TODAY)
    events, storage = context["metric_charts"]
    minutes = context["minutes_chart"]
    for chart in (events, storage, minutes):
        assert chart.figure["data"][-1]["y"][3:] == [None, None]  # a gap, not a 0
        assert [r.value for r in chart.rows][3:] == ["not yet", "not yet"]
    assert [r.value for r in minutes.rows][:3] == ["4", "0", "2"]  # a real 0 stays 0
    assert (events.total, events.total_label) == ("18", "in the range so far")
    # Part of a range against a whole previous one would always look like a fall: the change
    # counts whole days only, and says so.
    assert (events.change.text, events.change.direction) == (
        "+10 % vs 2026-03-01 – 2026-03-02 (whole days to 2026-03-09: today is not over)",
        "up",
    )
    assert str(minutes.change) == "no data for the previous range"
    # The level's total is its latest reading, not the 0 reported for a day still to come.
    assert (storage.total, storage.total_label) == ("300 B", "at the latest reading")
    # A level reaching past today compares its latest reading with the same day back.
    assert (storage.change.text, storage.change.direction) == (
        "+20 % vs the reading of 2026-03-03", "up",
    )  # fmt: skip


def test_a_range_ending_today_or_before_is_shown_as_before():
    context = present_usage(view_with_zeros_after_today(), DAYS[-1])
    events, storage = context["metric_charts"]
    assert events.figure["data"][-1]["y"] == [5, 6, 7, 0, 0]
    assert events.total_label == "in the range so far"  # today is not over
    # Today is not over: its reading is the latest, not the range's last.
    assert (storage.total, storage.total_label) == ("0 B", "at the latest reading")
    past = present_usage(view_with_zeros_after_today(), DAYS[-1] + timedelta(days=1))
    assert past["metric_charts"][1].total_label == "at the end of the range"
    assert past["metric_charts"][0].total_label == "in the range"


# -- over HTTP, against the simulators ---------------------------------------------------------


def real_today() -> date:
    return datetime.now(UTC).date()


def figures(html: str) -> dict[str, dict]:
    blocks = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)
    return {name: json.loads(body) for name, body in blocks}


def test_a_range_reaching_past_today_shows_its_later_days_as_not_yet(signed_in):
    today = real_today()
    start, end = today - timedelta(days=3), today + timedelta(days=3)
    response = signed_in["customer"].get(f"/usage?start={start}&end={end}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    # Series only: the customers' ranking (a whole-account tenant) has no days.
    charts = {name: f for name, f in figures(html).items() if "customers" not in name}
    assert set(charts) >= {"chart-Events-data", "chart-ai-minutes-data"}
    for name, figure in charts.items():
        values = figure["data"][-1]["y"]
        assert len(values) == 7
        assert values[4:] == [None, None, None], name  # EvoVoice answers 0 for them: not data
    assert html.count("<td>not yet</td>") == 3 * len(charts)
    assert "in the range so far" in html
    # Each flow's KPI tile says so too (storage's is its latest reading).
    assert html.count('<span class="kpi-so-far">so far</span>') == len(charts) - 1
    # Every flow (all but storage, a level read at its latest reading) compares whole days
    # on its card; its KPI tile, with no room for dates, says "vs previous".
    yesterday = today - timedelta(days=1)
    assert text(html).count(f"(whole days to {yesterday}: today is not over)") == len(charts) - 1
    # Each flow's KPI tile says its total is so far (storage's is its latest reading).
    assert html.count('<span class="kpi-so-far">so far</span>') == len(charts) - 1


def test_both_exports_have_no_row_for_days_to_come(signed_in):
    today = real_today()
    query = f"start={today - timedelta(days=1)}&end={today + timedelta(days=2)}"
    rows = signed_in["customer"].get(f"/usage/ai-minutes.csv?{query}").get_data()
    lines = rows.decode("utf-8-sig").strip().splitlines()[1:]
    assert [line[:10] for line in lines] == [str(today - timedelta(days=1)), str(today)]
    assert all(line.split(",")[-1] != "" for line in lines)  # both days have a record
    metrics = signed_in["customer"].get(f"/usage/metrics.csv?{query}").get_data()
    periods = {line[:10] for line in metrics.decode("utf-8-sig").strip().splitlines()[1:]}
    assert periods == {str(today - timedelta(days=1)), str(today)}


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("customer", "/usage"),
        ("customer", "/usage/metrics.csv"),
        ("customer", "/usage/ai-minutes.csv"),
        ("staff", "/staff"),
        ("staff", "/staff/accounts.csv"),
    ],
)
def test_a_range_wholly_after_today_is_a_400_that_says_so(signed_in, sims, who, path):
    today = real_today()
    query = f"start={today + timedelta(days=1)}&end={today + timedelta(days=7)}"
    sims.state.clear_calls()
    for headers in ({}, {"HX-Request": "true"}):
        response = signed_in[who].get(f"{path}?{query}", headers=headers)
        assert response.status_code == 400
        assert (
            f"The range starts after today ({today}): there is no usage to show yet."
            in response.get_data(as_text=True)
        )
    assert [c for c in sims.state.calls() if c["path"] in ("/v1/usage", "/ai/usage")] == []


def test_the_staff_series_shows_days_to_come_as_nothing(signed_in):
    today = real_today()
    query = f"start={today - timedelta(days=2)}&end={today + timedelta(days=2)}"
    html = signed_in["staff"].get(f"/staff?{query}&account=acct-northwind").get_data(as_text=True)
    values = figures(html)["staff-series-data"]["data"][-1]["y"]
    assert len(values) == 5 and values[3:] == [None, None] and None not in values[:3]


def test_staff_totals_of_a_range_reaching_past_today_compare_its_whole_days(signed_in):
    # What they compare: tests/services/test_staff_whole_days.py.
    today = real_today()
    for extra in ("", "&account=acct-northwind"):
        query = f"start={today - timedelta(days=3)}&end={today + timedelta(days=3)}{extra}"
        html = signed_in["staff"].get(f"/staff?{query}").get_data(as_text=True)
        assert "in the range so far" in html
        assert "vs previous range" not in html
        assert f"(whole days to {today - timedelta(days=1)}: today is not over)" in text(html)
