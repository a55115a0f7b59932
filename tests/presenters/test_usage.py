"""`presenters.usage`: what a usage card, chart and table say, from views built by hand."""

from __future__ import annotations

import re
from datetime import date

from flask import render_template_string

from presenters.usage import minutes_notice, present_usage
from services.filters import UsageQuery
from services.freshness import Freshness
from services.shaping import Bucket, MonthPace
from services.usage import MetricPanel, MetricsSection, MinutesSection, TenantScope, UsageView
from tests.helpers_html import text

NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)
TODAY = date(2026, 11, 26)


# November 2026 in ISO weeks, clipped to the month: the 1st is a Sunday, the 30th a Monday.
NOV_WEEKS = [(NOV_1, NOV_1)] + [
    (date(2026, 11, 2 + 7 * i), date(2026, 11, 8 + 7 * i)) for i in range(4)
] + [(NOV_30, NOV_30)]  # fmt: skip
# The previous 30 days, October 2nd (a Friday) to the 31st, in ISO weeks.
OCT_WEEKS = [(date(2026, 10, 2), date(2026, 10, 4))] + [
    (date(2026, 10, 5 + 7 * i), date(2026, 10, 11 + 7 * i)) for i in range(3)
] + [(date(2026, 10, 26), date(2026, 10, 31))]  # fmt: skip


def weeks(values: list[int | None], available: bool = True, spans=NOV_WEEKS) -> list[Bucket]:
    return [Bucket(s, e, v, available) for (s, e), v in zip(spans, values, strict=True)]


def view(panels, *, compare="none", tier=None, minutes=None, granularity="week") -> UsageView:
    query = UsageQuery(NOV_1, NOV_30, None, granularity=granularity, compare=compare)
    section = MetricsSection(panels=panels, tier=tier)
    return UsageView(TenantScope("t"), query, section, minutes, Freshness(None))


def render(chart, app) -> str:
    with app.test_request_context():
        return render_template_string(
            '{% from "macros/charts.html" import chart %}{{ chart(c) }}', c=chart
        )


def test_partial_weeks_are_noted_in_the_table_and_the_hover(app):
    panel = MetricPanel("Events", weeks([1, 7, 7, 7, 7, 1]), None, 30, None, None)
    (chart,) = present_usage(view([panel]), TODAY)["metric_charts"]
    notes = [(r.period, r.note) for r in chart.rows]
    assert notes == [
        ("2026-11-01", "(partial)"),  # the Sunday alone: the range starts on it
        ("2026-11-02 – 2026-11-08", ""),
        ("2026-11-09 – 2026-11-15", ""),
        ("2026-11-16 – 2026-11-22", ""),
        ("2026-11-23 – 2026-11-29", "(so far)"),  # holds today
        ("2026-11-30", "(partial)"),
    ]
    hover = chart.figure["data"][-1]["customdata"]
    assert hover[0] == "partial: 2026-11-01, 1 of 7 days: 1"
    assert hover[1] == "2026-11-02 – 2026-11-08: 7"
    assert hover[4] == "so far: 2026-11-23 – 2026-11-29, 4 of 7 days: 7"
    marker = chart.figure["data"][-1]["marker"]
    assert marker["opacity"] == [0.5, 1, 1, 1, 0.5, 0.5]
    assert marker["pattern"]["shape"] == ["/", "", "", "", "/", "/"]
    html = render(chart, app)
    assert "2026-11-23 – 2026-11-29 (so far)" in text(html)


def test_an_empty_chart_keeps_an_acronym_in_capitals():
    panels = [
        MetricPanel("ApiCalls", weeks([None] * 6), None, None, None, None),
        MetricPanel("BotAnalyses", weeks([None] * 6), None, None, None, None),
    ]
    api, bots = present_usage(view(panels))["metric_charts"]
    assert api.empty == "No API calls recorded in this range."
    assert bots.empty == "No bot analyses recorded in this range."


def test_days_before_the_history_window_name_the_plan():
    panel = MetricPanel("Events", weeks([None] * 6, available=False), None, None, None, None)
    (chart,) = present_usage(view([panel], tier="free"))["metric_charts"]
    assert chart.rows[0].value == "not available on the Free plan"
    assert "not available on the Free plan" in chart.empty
    (unnamed,) = present_usage(view([panel]))["metric_charts"]
    assert unnamed.rows[0].value == "not available on your plan"


def test_storage_rows_share_a_unit_and_show_movement():
    values = [1_301_000_000, 1_304_500_000, 1_312_000_000, 1_318_000_000, 1_320_000_000, None]
    panel = MetricPanel("StorageBytes", weeks(values), None, 1_320_000_000, None, None, True)
    (chart,) = present_usage(view([panel]))["metric_charts"]
    assert [r.value for r in chart.rows] == [
        "1.301 GB", "1.305 GB", "1.312 GB", "1.318 GB", "1.320 GB", "–",
    ]  # fmt: skip
    assert chart.total == "1.32 GB"
    assert chart.pace is None  # a level is never projected


def test_compare_names_both_ranges_by_their_dates(app):
    before = weeks([3, 7, 7, 7, 3], spans=OCT_WEEKS)
    panel = MetricPanel("Events", weeks([1, 7, 7, 7, 7, 1]), before, 30, 30 - 3, None)
    (chart,) = present_usage(view([panel], compare="previous"))["metric_charts"]
    previous, current = chart.figure["data"]
    # By week, the previous range is the same weekdays five whole weeks back.
    assert previous["name"] == "previous: 2026-09-27 – 2026-10-26"
    assert current["name"] == "2026-11-01 – 2026-11-30"
    assert (chart.change.text, chart.change.direction) == ("+11 % vs 2026-09-27 – 2026-10-26", "up")
    html = render(chart, app)
    assert 'class="change up"' in html and 'aria-label="up">▲</span>' in html
    headings = [text(h) for h in re.findall(r'<th scope="col">(.*?)</th>', html)]
    assert "Previous: 2026-09-27 – 2026-10-26" in headings


def test_no_change_says_so_without_an_arrow(app):
    panel = MetricPanel("Events", weeks([1, 7, 7, 7, 7, 1]), None, 30, 30, None)
    (chart,) = present_usage(view([panel]))["metric_charts"]
    assert chart.change.text == "no change vs 2026-09-27 – 2026-10-26"
    html = render(chart, app)
    assert 'class="change flat"' in html and "▲" not in html and "▼" not in html


def test_the_month_so_far_and_its_pace_are_explained_on_hover_and_focus(app):
    pace = MonthPace(NOV_1, NOV_30, 12_345, 19_800)
    minutes = MinutesSection(
        "acct", None, buckets=weeks([1, 7, 7, 7, 7, 1]), total=30, projection=pace
    )
    chart = present_usage(view([], minutes=minutes), TODAY)["minutes_chart"]
    assert chart.pace is not None
    assert f"{chart.pace.so_far} · {chart.pace.projected}" == (
        "month to date 12,345 · on pace for 19,800"
    )
    html = render(chart, app)
    assert 'tabindex="0" aria-describedby="chart-ai-minutes-pace-why"' in html
    assert (
        'id="chart-ai-minutes-pace-why" role="tooltip">Projection of AI minutes to the end ' in html
    )
    assert "style=" not in html and "<script>" not in html
    partial = MonthPace(date(2026, 11, 20), NOV_30, 1_100, 1_152)
    minutes = MinutesSection("acct", None, buckets=weeks([1] * 6), total=6, projection=partial)
    chart = present_usage(view([], minutes=minutes), TODAY)["minutes_chart"]
    assert chart.pace.so_far == "2026-11-20 to date 1,100"
    assert "since 2026-11-20" in chart.pace.explanation


def test_the_table_is_open_in_the_html_and_marked_for_the_script_to_fold(app):
    panel = MetricPanel("Events", weeks([1, 7, 7, 7, 7, 1]), None, 30, None, None)
    (chart,) = present_usage(view([panel]))["metric_charts"]
    assert '<details class="numbers" open data-chart-table>' in render(chart, app)
    empty = MetricPanel("Events", weeks([None] * 6), None, None, None, None)
    (chart,) = present_usage(view([empty]))["metric_charts"]
    assert '<details class="numbers" open>' in render(chart, app)


def test_periods_that_do_not_add_up_to_evovoices_total_are_explained():
    days = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
    buckets = [Bucket(d, d, v) for d, v in zip(days, [2, 3, 0], strict=True)]
    rounded = MinutesSection("acct", None, buckets=buckets, total=6)
    assert minutes_notice(rounded) == (
        "The total, 6, is EvoVoice's answer for the whole range; it rounds each answer, so "
        "the periods below, each rounded on its own, add up to 5. Its change likewise compares "
        "EvoVoice's answers for the spans compared, not sums of the periods."
    )
    assert minutes_notice(MinutesSection("acct", None, buckets=buckets, total=5)) is None
    # A day still to come is not data: EvoVoice's 0 for it counts for nothing either way.
    ahead = [*buckets[:2], Bucket(days[2], days[2], 9)]
    assert minutes_notice(MinutesSection("acct", None, buckets=ahead, total=5), days[1]) is None


def test_a_week_the_plans_history_starts_inside_says_which_days_it_holds():
    kept_from = date(2026, 11, 12)  # a Thursday: its week holds four kept days of seven
    panel = MetricPanel("Events", weeks([None, 7, 4, 7, 7, 1]), None, 19, None, None)
    query = UsageQuery(NOV_1, NOV_30, None, granularity="week")
    section = MetricsSection(panels=[panel], tier="pro", available_from=kept_from)
    usage = UsageView(TenantScope("t"), query, section, None, Freshness(None))
    (chart,) = present_usage(usage, NOV_30)["metric_charts"]
    notes = {r.period: r.note for r in chart.rows}
    assert notes["2026-11-09 – 2026-11-15"] == "(from 2026-11-12: the days before are not kept)"
    assert notes["2026-11-16 – 2026-11-22"] == ""
