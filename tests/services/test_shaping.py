"""`services.shaping`: run-rate projections, percent changes and calendar buckets, by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from clients.isnotai import IsnotaiUsage, UsagePoint
from services.shaping import (
    Bucket,
    MonthPace,
    Partial,
    change_pct,
    metric_buckets,
    month_pace,
    partial,
    projection,
)

MARCH_1, MARCH_31 = date(2026, 3, 1), date(2026, 3, 31)  # 31 days; March 1st is a Sunday


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


# -- projection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "start", "end", "now", "expected"),
    [
        # Ten whole days of 31 gone: 1,000 / 10 * 31.
        (1_000, MARCH_1, MARCH_31, at(11), 3_100),
        # Today's elapsed hours count: 10.5 days gone, 2,100 / 10.5 * 31.
        (2_100, MARCH_1, MARCH_31, at(11, 12), 6_200),
        # A range ending today still projects: 6.75 of its 7 days gone, 675 / 6.75 * 7.
        (675, date(2026, 3, 25), MARCH_31, at(31, 18), 700),
        # Two hours into the first day: 10 / (2/24) * 31.
        (10, MARCH_1, MARCH_31, at(1, 2), 3_720),
        # Less than an hour in counts as an hour, so the first minutes do not project wildly.
        (5, MARCH_1, MARCH_31, at(1, 0, 30), 3_720),
        (5, MARCH_1, MARCH_31, at(1), 3_720),
        # Nothing used yet projects nothing.
        (0, MARCH_1, MARCH_31, at(20), 0),
        # 31 * 10^17: exact in a float, so an int of exactly that comes back.
        (10**18, MARCH_1, MARCH_31, at(11), 31 * 10**17),
    ],
)
def test_projection_scales_the_run_rate_to_the_whole_range(total, start, end, now, expected):
    projected = projection(total, start, end, now)
    assert projected == expected
    assert type(projected) is int


@pytest.mark.parametrize(
    ("total", "now"),
    [
        (1_000, at(1, month=4)),  # the range is wholly past
        (1_000, at(28, 23, 59, month=2)),  # the range has not begun
        (None, at(11)),  # no total to project from
    ],
)
def test_projection_is_none_unless_now_is_in_the_range(total, now):
    assert projection(total, MARCH_1, MARCH_31, now) is None


# -- change ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (150, 100, 50.0),
        (50, 200, -75.0),
        (0, 100, -100.0),
        (100, 100, 0.0),
        (3, 2, 50.0),
    ],
)
def test_change_is_percent_of_the_previous_total(current, previous, expected):
    assert change_pct(current, previous) == expected


@pytest.mark.parametrize(("current", "previous"), [(100, 0), (100, None), (None, 100), (0, 0)])
def test_change_is_none_without_both_totals_or_from_zero(current, previous):
    assert change_pct(current, previous) is None


# -- buckets --------------------------------------------------------------------------------


def usage(start, end, points, granularity="day", available_from=None) -> IsnotaiUsage:
    return IsnotaiUsage(
        start=start,
        end=end,
        region="us",
        tier=None,
        points=tuple(UsagePoint(day, granularity, metric, value) for day, metric, value in points),
        totals={},
        granularity=granularity,
        available_from=available_from,
    )


# Weeks of 1-14 March 2026: Sunday the 1st alone, Monday 2nd to Sunday 8th, 9th to 14th.
WEEKS = [
    (date(2026, 3, 1), date(2026, 3, 1)),
    (date(2026, 3, 2), date(2026, 3, 8)),
    (date(2026, 3, 9), date(2026, 3, 14)),
]


def test_a_flow_adds_up_within_each_week_and_ignores_days_outside_the_range():
    answer = usage(
        date(2026, 3, 1),
        date(2026, 3, 14),
        [
            (date(2026, 2, 28), "Events", 1_000),  # before the range
            (date(2026, 3, 1), "Events", 5),
            (date(2026, 3, 8), "Events", 3),
            (date(2026, 3, 2), "Events", 7),
            (date(2026, 3, 10), "Events", 4),
            (date(2026, 3, 10), "Sessions", 90),  # another metric
            (date(2026, 3, 15), "Events", 1_000),  # after the range
        ],
    )
    values = [5, 7 + 3, 4]
    assert metric_buckets(answer, "Events", "week") == [
        Bucket(s, e, v) for (s, e), v in zip(WEEKS, values, strict=True)
    ]


def test_a_level_keeps_the_last_value_of_each_week_and_none_where_nothing_was_reported():
    answer = usage(
        date(2026, 3, 1),
        date(2026, 3, 14),
        [(date(2026, 3, 8), "StorageBytes", 80), (date(2026, 3, 2), "StorageBytes", 100)],
    )
    assert [b.value for b in metric_buckets(answer, "StorageBytes", "week")] == [None, 80, None]


def test_big_flows_add_up_as_exact_integers():
    big = 2**53  # the first integer past which a float cannot count by ones
    answer = usage(
        date(2026, 3, 1),
        date(2026, 3, 2),
        [(date(2026, 3, 1), "ApiCalls", big), (date(2026, 3, 2), "ApiCalls", 1)],
    )
    (bucket,) = metric_buckets(answer, "ApiCalls", "month")
    assert bucket.value == 9_007_199_254_740_993 and type(bucket.value) is int


def test_a_monthly_answer_is_shown_by_month_with_its_first_month_from_the_range_start():
    answer = usage(
        date(2026, 2, 15),
        date(2026, 3, 20),
        [(date(2026, 2, 1), "Events", 30), (date(2026, 3, 1), "Events", 40)],
        granularity="month",
    )
    assert metric_buckets(answer, "Events", "day") == [
        Bucket(date(2026, 2, 15), date(2026, 2, 28), 30),
        Bucket(date(2026, 3, 1), date(2026, 3, 20), 40),
    ]


def test_weeks_wholly_before_the_plans_history_are_unavailable_not_zero():
    answer = usage(
        date(2026, 3, 1),
        date(2026, 3, 14),
        [(date(2026, 3, 9), "Events", 6)],
        available_from=date(2026, 3, 8),
    )
    buckets = metric_buckets(answer, "Events", "week")
    # The week of the 2nd ends on the 8th, the first day kept: available (and unreported).
    assert [(b.available, b.value) for b in buckets] == [(False, None), (True, None), (True, 6)]


# -- partial buckets ------------------------------------------------------------------------

NOV = date(2026, 11, 1)  # a Sunday; November 2026 has 30 days


@pytest.mark.parametrize(
    ("bucket", "granularity", "today", "expected"),
    [
        # A whole ISO week, Monday to Sunday, in the past: whole.
        (Bucket(date(2026, 11, 2), date(2026, 11, 8), 1), "week", None, None),
        # The range starts on a Wednesday: 5 of the week's 7 days.
        (Bucket(date(2026, 11, 4), date(2026, 11, 8), 1), "week", None, Partial(5, 7, False)),
        # The range cuts a month at the 24th: 7 of 30 days.
        (Bucket(date(2026, 11, 24), date(2026, 11, 30), 1), "month", None, Partial(7, 30, False)),
        # A whole month holding today: running, 11 of its 30 days so far.
        (Bucket(NOV, date(2026, 11, 30), 1), "month", date(2026, 11, 11), Partial(11, 30, True)),
        # Today's own day is running too.
        (Bucket(NOV, NOV, 1), "day", NOV, Partial(1, 1, True)),
        (Bucket(NOV, NOV, 1), "day", date(2026, 11, 2), None),
        # February of a common year has 28 days.
        (Bucket(date(2026, 2, 1), date(2026, 2, 27), 1), "month", None, Partial(27, 28, False)),
    ],
)
def test_a_bucket_is_partial_when_cut_by_the_range_or_running(bucket, granularity, today, expected):
    assert partial(bucket, granularity, today) == expected


# -- month pace -----------------------------------------------------------------------------


def days(start: date, values: list[int | None]) -> list[Bucket]:
    spans = [start + timedelta(days=i) for i in range(len(values))]
    return [Bucket(d, d, v) for d, v in zip(spans, values, strict=True)]


def test_the_month_is_projected_to_its_end_from_the_run_rate_since_the_1st():
    # The range runs from October 25th; 10 whole days of November gone, 100 a day.
    buckets = days(date(2026, 10, 25), [50] * 7 + [100] * 10 + [None] * 5)
    pace = month_pace(buckets, datetime(2026, 11, 11, tzinfo=UTC))
    assert pace == MonthPace(NOV, date(2026, 11, 30), 1_000, 3_000)
    assert pace is not None and pace.whole_month


def test_the_pace_counts_today_s_hours():
    buckets = days(NOV, [100] * 10 + [50])  # the 11th at noon: 1,050 in 10.5 days
    pace = month_pace(buckets, datetime(2026, 11, 11, 12, tzinfo=UTC))
    assert pace is not None and (pace.so_far, pace.projected) == (1_050, 3_000)


def test_the_pace_runs_from_the_first_day_the_range_and_the_plan_hold():
    buckets = days(date(2026, 11, 20), [100] * 11)  # the range starts on the 20th
    pace = month_pace(buckets, datetime(2026, 11, 30, 12, tzinfo=UTC))
    # 1,100 in 10.5 days, over the 11 days from the 20th to the 30th.
    assert pace == MonthPace(date(2026, 11, 20), date(2026, 11, 30), 1_100, 1_152)
    assert not pace.whole_month
    kept = month_pace(buckets, datetime(2026, 11, 30, 12, tzinfo=UTC), date(2026, 11, 25))
    assert kept is not None and (kept.since, kept.so_far) == (date(2026, 11, 25), 600)


def test_a_week_reaching_into_last_month_is_not_counted():
    weeks = [
        Bucket(date(2026, 10, 26), date(2026, 11, 1), 700),  # Monday to Sunday the 1st
        Bucket(date(2026, 11, 2), date(2026, 11, 8), 700),
        Bucket(date(2026, 11, 9), date(2026, 11, 15), 300),  # running
    ]
    pace = month_pace(weeks, datetime(2026, 11, 12, tzinfo=UTC))
    assert pace is not None and (pace.since, pace.so_far) == (date(2026, 11, 2), 1_000)


@pytest.mark.parametrize(
    "buckets",
    [
        days(date(2026, 10, 1), [100] * 31),  # the range ended before today
        days(NOV, [None] * 11),  # nothing read
        [],
    ],
)
def test_no_pace_unless_the_range_holds_today_with_data(buckets):
    assert month_pace(buckets, datetime(2026, 11, 11, tzinfo=UTC)) is None


def test_a_range_starting_with_the_count_takes_its_total_as_the_month_so_far():
    buckets = days(NOV, [33, 33, 33])  # an upstream's range total may differ by rounding
    pace = month_pace(buckets, datetime(2026, 11, 3, tzinfo=UTC), total=100)
    assert pace is not None and (pace.so_far, pace.projected) == (100, 1_500)
    last_month = days(date(2026, 10, 31), [1, 33, 33])
    later = month_pace(last_month, datetime(2026, 11, 2, 12, tzinfo=UTC), total=67)
    assert later is not None and later.so_far == 66  # the range began last month: its sum


def test_the_pace_never_takes_its_rate_over_less_than_a_day():
    buckets = days(NOV, [3_870])  # the 1st, minutes in: 3,870 x 744 hours would be noise
    early = month_pace(buckets, datetime(2026, 11, 1, 0, 5, tzinfo=UTC))
    assert early is not None and (early.so_far, early.projected) == (3_870, 3_870 * 30)
    late = days(date(2026, 11, 20), [100] * 11)  # the plan keeps from today: the same
    kept = month_pace(late, datetime(2026, 11, 30, 6, tzinfo=UTC), date(2026, 11, 30))
    assert kept is not None and (kept.so_far, kept.projected) == (100, 100)
    whole = month_pace(days(NOV, [100, 50]), datetime(2026, 11, 2, 12, tzinfo=UTC))
    assert whole is not None and (whole.so_far, whole.projected) == (150, 3_000)
