"""`services.filters`: the usage query's date window and daily limit; staff and widget queries."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.filters import (
    DAILY_TOO_LONG,
    EARLIEST_DATE,
    MAX_DAILY_DAYS,
    PRESETS,
    FilterError,
    StaffQuery,
    latest_date,
    parse_query,
    parse_staff_query,
    parse_widget_query,
    widget_ask,
    widget_presets,
)

TODAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"end": "9999-12-31"}, "end"),
        ({"end": "0001-01-01"}, "end"),
        ({"start": "0001-01-01"}, "start"),
        ({"start": "0001-01-01", "end": "0001-01-05"}, "start"),
        ({"start": "1999-12-31", "end": "2000-01-05"}, "start"),
        ({"start": "2027-03-11"}, "start"),
        ({"start": "2026-03-01", "end": "2027-03-11"}, "end"),
        # Dates are checked even when a preset wins over them, like their format is.
        ({"preset": "7d", "end": "9999-12-31"}, "end"),
    ],
)
def test_dates_outside_the_window_are_refused_naming_the_field(args, field):
    with pytest.raises(FilterError) as refused:
        parse_query(args, TODAY)
    assert refused.value.param == field
    assert refused.value.message.startswith(f"{field} must be between 2000-01-01 and 2027-03-10")


def test_the_window_runs_from_2000_to_a_year_after_today():
    query = parse_query({"start": "2000-01-01", "end": "2000-03-01"}, TODAY)
    assert (query.start, query.end) == (EARLIEST_DATE, date(2000, 3, 1))
    future = parse_query({"start": "2027-01-01", "end": "2027-03-10"}, TODAY)
    assert future.end == latest_date(TODAY) == date(2027, 3, 10)
    assert latest_date(date(2028, 2, 29)) == date(2029, 2, 28)


def test_a_default_start_never_reaches_before_the_window():
    query = parse_query({"end": "2000-01-10"}, TODAY)
    assert (query.start, query.end) == (EARLIEST_DATE, date(2000, 1, 10))


def test_daily_granularity_covers_at_most_92_days():
    start = date(2026, 1, 1)
    longest = {"start": str(start), "end": str(start + timedelta(days=MAX_DAILY_DAYS - 1))}
    assert parse_query({**longest, "granularity": "day"}, TODAY).days == MAX_DAILY_DAYS
    too_long = {"start": str(start), "end": str(start + timedelta(days=MAX_DAILY_DAYS))}
    with pytest.raises(FilterError) as refused:
        parse_query({**too_long, "granularity": "DAY"}, TODAY)
    assert refused.value.param == "granularity"
    assert refused.value.message == (
        "daily granularity covers at most 92 days; choose week or month for longer ranges"
    )
    assert refused.value.message == DAILY_TOO_LONG
    for granularity in ("week", "month"):
        assert parse_query({**too_long, "granularity": granularity}, TODAY).days == 93


@pytest.mark.parametrize(
    ("args", "granularity"),
    [
        ({}, "day"),
        ({"preset": "90d"}, "day"),
        ({"preset": "last-month"}, "day"),
        ({"start": "2026-01-01", "end": "2026-04-02"}, "day"),  # 92 days
        ({"start": "2026-01-01", "end": "2026-04-03"}, "week"),  # 93 days
        ({"start": "2025-03-10", "end": "2026-03-10"}, "week"),  # 366 days
        ({"start": "2025-03-10", "end": "2026-03-10", "granularity": ""}, "week"),
        ({"start": "2025-03-10", "end": "2026-03-10", "granularity": "month"}, "month"),
    ],
)
def test_without_a_granularity_a_long_range_is_shown_by_week(args, granularity):
    query = parse_query(args, TODAY)
    assert query.granularity == granularity
    assert query.params()["granularity"] == granularity  # links and exports keep it


def test_a_range_too_long_for_any_granularity_is_named_first():
    with pytest.raises(FilterError, match="longer than 366 days") as refused:
        parse_query({"start": "2025-01-01", "end": "2026-03-01", "granularity": "day"}, TODAY)
    assert refused.value.param == "end"


# -- the staff query -------------------------------------------------------------------------

HOSTILE = "acct-</script><script>alert(1)</script>"


def test_the_staff_query_round_trips_its_params():
    query = parse_staff_query(
        {"preset": "7d", "account": HOSTILE, "q": "x", "sort": "id", "page": "3"}, TODAY
    )
    assert query == StaffQuery(parse_query({"preset": "7d"}, TODAY), HOSTILE, None, "x", "id", 3)
    assert parse_staff_query(query.params(), TODAY) == query


def test_the_staff_query_extends_the_usage_range_only():
    query = parse_staff_query({"preset": "7d", "metric": "nonsense", "compare": "x"}, TODAY)
    assert query.range == parse_query({"preset": "7d"}, TODAY)
    assert not query.scoped


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"preset": "1y"}, "preset"),
        ({"granularity": "hour"}, "granularity"),
        ({"account": "a" * 501}, "account"),
        ({"customer": "c\x00"}, "customer"),
        ({"q": "q" * 201}, "q"),
        ({"q": "bell\x07"}, "q"),
        ({"sort": "minutes; drop"}, "sort"),
        ({"page": "0"}, "page"),
        ({"page": "١"}, "page"),
    ],
)
def test_staff_filters_are_refused_naming_the_field(args, field):
    with pytest.raises(FilterError) as refused:
        parse_staff_query(args, TODAY)
    assert refused.value.param == field
    assert field in refused.value.message


# -- the widget query ------------------------------------------------------------------------


def test_widget_presets_follow_the_tokens_locks():
    assert widget_presets(TODAY, locked=None, max_days=None) == PRESETS
    assert widget_presets(TODAY, locked="7d", max_days=None) == {"7d": PRESETS["7d"]}
    assert list(widget_presets(TODAY, locked=None, max_days=30)) == [
        "7d",
        "30d",
        "mtd",
        "last-month",
    ]
    assert widget_presets(TODAY, locked=None, max_days=1) == {}


def test_the_widget_query_extends_the_usage_query():
    ask = widget_ask({"preset": "7D", "metric": "ApiCalls", "theme": " Dark "}, "metrics", TODAY)
    query = parse_widget_query(ask, TODAY)
    assert query.range == parse_query({"preset": "7d", "metric": "ApiCalls"}, TODAY)
    assert query.theme == "dark"
    assert ask.link_params() == {"theme": "dark", "metric": "ApiCalls"}


def test_the_widget_defaults_to_30_days_then_7_then_the_first_allowed():
    assert widget_ask({}, "metrics", TODAY).preset == "30d"
    assert widget_ask({}, "metrics", TODAY, max_days=10).preset == "7d"
    assert widget_ask({}, "metrics", date(2026, 3, 3), max_days=3).preset == "mtd"


def test_the_tokens_locks_win_over_the_url():
    args = {"preset": "90d", "metric": "Events"}
    ask = widget_ask(args, "metrics", TODAY, preset_lock="7d", metric_lock="Sessions")
    query = parse_widget_query(ask, TODAY)
    assert (query.range.preset, query.range.metric) == ("7d", "Sessions")
    assert ask.link_params() == {"theme": "auto"}  # a locked metric is not the URL's to keep


def test_the_ai_minutes_widget_shows_every_metric_whatever_the_url_says():
    ask = widget_ask({"metric": "nonsense"}, "ai-minutes", TODAY)
    assert parse_widget_query(ask, TODAY).range.metric == "all"
    assert ask.link_params() == {"theme": "auto"}


@pytest.mark.parametrize(
    ("args", "locks", "field"),
    [
        ({"preset": "90d"}, {"max_days": 30}, "preset"),
        ({"preset": "custom"}, {}, "preset"),
        ({"theme": "neon"}, {}, "theme"),
        ({"theme": ""}, {}, "theme"),
        ({"metric": "nonsense"}, {}, "metric"),
    ],
)
def test_widget_filters_are_refused_naming_the_field(args, locks, field):
    with pytest.raises(FilterError) as refused:
        parse_widget_query(widget_ask(args, "metrics", TODAY, **locks), TODAY)
    assert refused.value.param == field
    assert field in refused.value.message
