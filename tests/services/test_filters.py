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
    # A range may reach past today (its later days show as not yet), never start after it.
    future = parse_query({"start": "2026-03-10", "end": "2027-03-10"}, TODAY)
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


# -- days after today ------------------------------------------------------------------------

FUTURE = "The range starts after today (2026-03-10): there is no usage to show yet."


@pytest.mark.parametrize(
    "args",
    [
        {"start": "2026-03-11", "end": "2026-03-20"},
        {"start": "2026-03-11"},
        {"end": "2026-05-01"},  # its default start (29 days before) is still after today
        {"preset": "7d", "start": "2026-04-01", "end": "2026-04-07"},  # edited dates win
    ],
)
def test_a_range_wholly_after_today_is_refused_saying_so(args):
    with pytest.raises(FilterError) as refused:
        parse_query(args, TODAY)
    assert refused.value.param == "start"
    assert refused.value.message == FUTURE


def test_a_range_wholly_after_today_is_refused_for_staff_and_widgets_too():
    with pytest.raises(FilterError, match="starts after today"):
        parse_staff_query({"start": "2026-03-11", "end": "2026-03-12", "account": "a"}, TODAY)
    for preset in PRESETS:  # every widget range is a preset: none starts after today
        ask = widget_ask({"preset": preset}, "metrics", TODAY)
        assert parse_widget_query(ask, TODAY).range.start <= TODAY


def test_a_range_starting_today_or_before_may_end_after_it():
    query = parse_query({"start": "2026-03-10", "end": "2026-03-16"}, TODAY)
    assert (query.start, query.end, query.days) == (TODAY, date(2026, 3, 16), 7)


# -- a preset beside dates (a form sent without JavaScript) -----------------------------------


def test_a_preset_alone_or_with_its_own_dates_is_that_preset():
    alone = parse_query({"preset": "7d"}, TODAY)
    assert (alone.preset, alone.start, alone.end) == ("7d", date(2026, 3, 4), TODAY)
    same = parse_query({"preset": "7d", "start": "2026-03-04", "end": "2026-03-10"}, TODAY)
    assert same == alone
    blank = parse_query({"preset": "7d", "start": "", "end": ""}, TODAY)
    assert blank == alone
    # The canonical parameters of a preset carry no dates: the URL means it again tomorrow.
    assert "start" not in alone.params() and "end" not in alone.params()
    assert parse_query(alone.params(), TODAY + timedelta(days=1)).end == TODAY + timedelta(days=1)


def test_dates_edited_beside_a_preset_win_and_make_it_custom():
    edited = parse_query({"preset": "7d", "start": "2026-02-01", "end": "2026-03-10"}, TODAY)
    assert (edited.preset, edited.start, edited.end) == (None, date(2026, 2, 1), TODAY)
    assert edited.params()["start"] == "2026-02-01"
    assert "preset" not in edited.params()
    one = parse_query({"preset": "30d", "end": "2026-03-01"}, TODAY)  # the other: the preset's
    assert (one.preset, one.start, one.end) == (None, date(2026, 2, 9), date(2026, 3, 1))
    # Yesterday's dates of a bookmarked preset are dates too: they are what was asked for.
    old = parse_query({"preset": "7d", "start": "2026-03-03", "end": "2026-03-09"}, TODAY)
    assert (old.preset, old.start, old.end) == (None, date(2026, 3, 3), date(2026, 3, 9))


def test_a_preset_picked_beside_the_dates_the_page_showed_wins():
    shown = {"shown_start": "2026-02-09", "shown_end": "2026-03-10"}  # the 30 days shown
    picked = parse_query(
        {"preset": "7d", "start": "2026-02-09", "end": "2026-03-10", **shown}, TODAY
    )
    assert (picked.preset, picked.start, picked.end) == ("7d", date(2026, 3, 4), TODAY)
    edited = parse_query(
        {"preset": "7d", "start": "2026-02-20", "end": "2026-03-10", **shown}, TODAY
    )
    assert (edited.preset, edited.start) == (None, date(2026, 2, 20))
    nonsense = {"shown_start": "<b>", "shown_end": "9999-99-99"}  # a hint, never an error
    kept = parse_query(
        {"preset": "7d", "start": "2026-02-20", "end": "2026-03-10", **nonsense}, TODAY
    )
    assert (kept.preset, kept.start) == (None, date(2026, 2, 20))
    staff = parse_staff_query(
        {"preset": "7d", "start": "2026-02-09", "end": "2026-03-10", **shown}, TODAY
    )
    assert staff.range.preset == "7d" and "shown_start" not in staff.params()
