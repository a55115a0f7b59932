"""`services.filters`: the previous range compared with, the AI-minutes metric choice, and a
default range fitted to a plan's history window."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.filters import (
    AI_MINUTES,
    FilterError,
    fit_to_history,
    parse_query,
    parse_widget_query,
    widget_ask,
)

TODAY = date(2026, 3, 10)  # a Tuesday


@pytest.mark.parametrize(
    ("start", "end", "weeks"),
    [
        ("2026-03-09", "2026-03-09", 1),  # one day: the same weekday a week before
        ("2026-03-03", "2026-03-09", 1),  # exactly a week
        ("2026-03-02", "2026-03-09", 2),  # eight days: two weeks back
        ("2026-02-08", "2026-03-09", 5),  # 30 days: 35 back
        ("2025-12-08", "2026-03-09", 14),  # 92 days: 13 weeks are short, 14 clear it
    ],
)
def test_a_daily_previous_range_is_whole_weeks_back(start, end, weeks):
    query = parse_query({"start": start, "end": end, "granularity": "day"}, TODAY)
    shift = timedelta(weeks=weeks)
    assert (query.previous_start, query.previous_end) == (query.start - shift, query.end - shift)
    assert query.previous_start.weekday() == query.start.weekday()  # Mondays over Mondays
    assert query.previous_end < query.start  # never overlapping the range shown
    assert weeks * 7 - 7 < query.days <= weeks * 7  # the fewest weeks that clear the range
    previous = query.previous
    assert (previous.start, previous.end) == (query.previous_start, query.previous_end)
    assert previous.days == query.days and previous.preset is None


def test_a_monthly_previous_range_is_the_days_just_before():
    query = parse_query({"start": "2026-01-05", "end": "2026-03-01", "granularity": "month"}, TODAY)
    assert query.previous_end == date(2026, 1, 4)
    assert query.previous_start == date(2026, 1, 5) - timedelta(days=query.days)


def test_a_weekly_previous_range_cuts_its_weeks_on_the_same_days():
    # From a Wednesday: the first week is cut to 5 days, and so is the previous range's,
    # which starts on a Wednesday too.
    query = parse_query({"start": "2026-01-07", "end": "2026-03-01", "granularity": "week"}, TODAY)
    assert query.previous_start.weekday() == query.start.weekday() == 2
    assert query.previous_end.weekday() == query.end.weekday() == 6
    assert query.previous_end < query.start
    assert (query.start - query.previous_start).days % 7 == 0


def test_a_default_preset_compares_weekdays_too():
    query = parse_query({}, TODAY)  # the last 30 days, by day
    assert query.granularity == "day"
    assert query.previous_start == query.start - timedelta(days=35)
    assert query.previous_end == TODAY - timedelta(days=35)


@pytest.mark.parametrize("value", ["ai-minutes", "AI-Minutes", " ai-minutes "])
def test_the_metric_filter_offers_ai_minutes_alone(value):
    query = parse_query({"metric": value}, TODAY)
    assert query.metric == AI_MINUTES
    assert not query.reads_metrics and query.metrics == ()
    assert query.params()["metric"] == AI_MINUTES


@pytest.mark.parametrize(("value", "metrics"), [("all", 5), ("events", 1), ("ApiCalls", 1)])
def test_the_other_metric_choices_still_read_isnotai(value, metrics):
    query = parse_query({"metric": value}, TODAY)
    assert query.reads_metrics and len(query.metrics) == metrics


def test_an_unknown_metric_is_still_refused_naming_the_choices():
    with pytest.raises(FilterError) as refused:
        parse_query({"metric": "minutes"}, TODAY)
    assert refused.value.param == "metric"
    assert "metric must be all or one of ApiCalls" in refused.value.message
    assert "ai-minutes" in refused.value.message and "'minutes'" in refused.value.message


def test_the_metrics_widget_refuses_ai_minutes():
    ask = widget_ask({"metric": "ai-minutes", "preset": "7d"}, "metrics", TODAY)
    with pytest.raises(FilterError) as refused:
        parse_widget_query(ask, TODAY)
    assert refused.value.param == "metric"


@pytest.mark.parametrize(
    "args",
    [{"preset": "30d"}, {"start": "2026-02-09"}, {"end": "2026-03-10"}, {"preset": "90d"}],
)
def test_a_named_range_is_not_a_default_one(args):
    query = parse_query(args, TODAY)
    assert not query.defaulted
    assert fit_to_history(query, TODAY - timedelta(days=6), TODAY) == query


@pytest.mark.parametrize("args", [{}, {"preset": "custom"}, {"preset": ""}])
def test_no_range_named_is_the_default_and_its_links_name_none(args):
    query = parse_query(args, TODAY)
    assert query.defaulted and query.preset == "30d"
    assert {"preset", "start", "end"}.isdisjoint(query.params())


def test_a_default_range_fits_a_free_plans_seven_days():
    query = parse_query({"metric": "events", "compare": "previous"}, TODAY)
    fitted = fit_to_history(query, TODAY - timedelta(days=6), TODAY)
    assert (fitted.start, fitted.end, fitted.preset) == (TODAY - timedelta(days=6), TODAY, "7d")
    assert (fitted.metric, fitted.compare, fitted.granularity) == ("Events", "previous", "day")
    # A Pro plan's 30 days hold the default range: it stays.
    assert fit_to_history(query, query.start, TODAY) == query


def test_a_window_shorter_than_every_preset_is_shown_whole():
    query = parse_query({}, TODAY)
    fitted = fit_to_history(query, TODAY - timedelta(days=2), TODAY)
    assert (fitted.start, fitted.end, fitted.preset) == (TODAY - timedelta(days=2), TODAY, None)
