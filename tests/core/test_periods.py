"""`core.periods`: calendar buckets (day, ISO week, month) and their clipped splits."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest

from core.periods import GRANULARITIES, bucket_start, split

ONE_DAY = timedelta(days=1)
# Windows of start days: one crossing a year end and a leap day, one a plain February.
WINDOWS = {
    "leap": date(2023, 12, 20),
    "plain": date(2022, 12, 20),
}
WINDOW_DAYS = 70
MAX_LENGTH = 70


def unit_of(day: date, granularity: str) -> tuple:
    """Name the calendar unit holding day, computed without the code under test."""
    if granularity == "day":
        return (day,)
    if granularity == "week":
        iso = day.isocalendar()  # ISO weeks start on Monday
        return (iso.year, iso.week)
    return (day.year, day.month)


def starts_unit(day: date, granularity: str) -> bool:
    """Tell whether day is the first day of its calendar unit."""
    return unit_of(day - ONE_DAY, granularity) != unit_of(day, granularity)


def days_of(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def check_split(start: date, end: date, granularity: str) -> None:
    buckets = split(start, end, granularity)
    where = f"split({start}, {end}, {granularity!r}) = {buckets}"
    assert buckets, where
    # The first and last are clipped to the range.
    assert buckets[0][0] == start, where
    assert buckets[-1][1] == end, where
    for first, last in buckets:
        assert first <= last, where
        # Each bucket lies inside one calendar unit.
        assert unit_of(first, granularity) == unit_of(last, granularity), where
    for (_, prev_last), (next_first, _) in pairwise(buckets):
        # Contiguous and non-overlapping.
        assert next_first == prev_last + ONE_DAY, where
        # Interior edges fall on calendar edges: only the range cuts a bucket short.
        assert starts_unit(next_first, granularity), where
    # Every day of the range is in exactly one bucket.
    covered = [day for first, last in buckets for day in days_of(first, last)]
    assert covered == days_of(start, end), where
    # One bucket per calendar unit touched by the range.
    units = {unit_of(day, granularity) for day in days_of(start, end)}
    assert len(buckets) == len(units), where


@pytest.mark.parametrize("granularity", GRANULARITIES)
@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_split_covers_every_range_exactly(window, granularity):
    first_start = WINDOWS[window]
    checked = 0
    for offset in range(WINDOW_DAYS):
        start = first_start + timedelta(days=offset)
        for length in range(MAX_LENGTH + 1):
            check_split(start, start + timedelta(days=length), granularity)
            checked += 1
    assert checked == WINDOW_DAYS * (MAX_LENGTH + 1)


@pytest.mark.parametrize(
    ("start", "end", "granularity", "expected"),
    [
        # Wednesday to Tuesday over three ISO weeks.
        (
            date(2024, 5, 15),
            date(2024, 5, 28),
            "week",
            [
                (date(2024, 5, 15), date(2024, 5, 19)),
                (date(2024, 5, 20), date(2024, 5, 26)),
                (date(2024, 5, 27), date(2024, 5, 28)),
            ],
        ),
        # A week straddling a year end stays one bucket (ISO week 2025-W01).
        (
            date(2024, 12, 27),
            date(2025, 1, 7),
            "week",
            [
                (date(2024, 12, 27), date(2024, 12, 29)),
                (date(2024, 12, 30), date(2025, 1, 5)),
                (date(2025, 1, 6), date(2025, 1, 7)),
            ],
        ),
        # The 17th to the 9th two months later, through a leap February.
        (
            date(2024, 1, 17),
            date(2024, 3, 9),
            "month",
            [
                (date(2024, 1, 17), date(2024, 1, 31)),
                (date(2024, 2, 1), date(2024, 2, 29)),
                (date(2024, 3, 1), date(2024, 3, 9)),
            ],
        ),
        (
            date(2023, 1, 17),
            date(2023, 3, 9),
            "month",
            [
                (date(2023, 1, 17), date(2023, 1, 31)),
                (date(2023, 2, 1), date(2023, 2, 28)),
                (date(2023, 3, 1), date(2023, 3, 9)),
            ],
        ),
        (
            date(2023, 12, 31),
            date(2024, 1, 1),
            "month",
            [(date(2023, 12, 31), date(2023, 12, 31)), (date(2024, 1, 1), date(2024, 1, 1))],
        ),
        (
            date(2024, 2, 28),
            date(2024, 3, 1),
            "day",
            [
                (date(2024, 2, 28), date(2024, 2, 28)),
                (date(2024, 2, 29), date(2024, 2, 29)),
                (date(2024, 3, 1), date(2024, 3, 1)),
            ],
        ),
    ],
)
def test_split_known_ranges(start, end, granularity, expected):
    assert split(start, end, granularity) == expected


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_split_single_day_is_one_bucket(granularity):
    day = date(2024, 2, 29)
    assert split(day, day, granularity) == [(day, day)]


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_split_rejects_start_after_end(granularity):
    with pytest.raises(ValueError, match="start must not be after end"):
        split(date(2024, 3, 2), date(2024, 3, 1), granularity)


@pytest.mark.parametrize("granularity", ["year", "quarter", "Day", "WEEK", "", "days"])
def test_split_rejects_unknown_granularity(granularity):
    with pytest.raises(ValueError, match="granularity"):
        split(date(2024, 3, 1), date(2024, 3, 31), granularity)


@pytest.mark.parametrize("granularity", ["year", "Month", ""])
def test_bucket_start_rejects_unknown_granularity(granularity):
    with pytest.raises(ValueError, match="granularity"):
        bucket_start(date(2024, 3, 1), granularity)


@pytest.mark.parametrize(
    ("day", "granularity", "expected"),
    [
        (date(2024, 2, 29), "day", date(2024, 2, 29)),
        (date(2023, 12, 31), "day", date(2023, 12, 31)),
        # ISO weeks start on Monday, also across a year end.
        (date(2024, 5, 15), "week", date(2024, 5, 13)),  # Wednesday
        (date(2024, 5, 13), "week", date(2024, 5, 13)),  # Monday itself
        (date(2024, 5, 19), "week", date(2024, 5, 13)),  # Sunday
        (date(2021, 1, 1), "week", date(2020, 12, 28)),  # Friday of 2020-W53
        (date(2021, 1, 3), "week", date(2020, 12, 28)),
        (date(2025, 1, 1), "week", date(2024, 12, 30)),  # Wednesday of 2025-W01
        (date(2024, 1, 1), "week", date(2024, 1, 1)),  # Monday on New Year's day
        (date(2024, 3, 1), "week", date(2024, 2, 26)),  # across a leap day
        (date(2024, 2, 29), "week", date(2024, 2, 26)),
        (date(2023, 3, 1), "week", date(2023, 2, 27)),  # across a plain February end
        # Months.
        (date(2024, 2, 29), "month", date(2024, 2, 1)),
        (date(2023, 2, 28), "month", date(2023, 2, 1)),
        (date(2023, 12, 31), "month", date(2023, 12, 1)),
        (date(2024, 1, 1), "month", date(2024, 1, 1)),
        (date(2024, 3, 31), "month", date(2024, 3, 1)),
    ],
)
def test_bucket_start_known_days(day, granularity, expected):
    assert bucket_start(day, granularity) == expected


@pytest.mark.parametrize("granularity", GRANULARITIES)
def test_bucket_start_every_day_of_two_years(granularity):
    day = date(2023, 1, 1)
    while day <= date(2024, 12, 31):
        first = bucket_start(day, granularity)
        assert first <= day
        assert unit_of(first, granularity) == unit_of(day, granularity), day
        assert starts_unit(first, granularity), day
        assert bucket_start(first, granularity) == first
        if granularity == "week":
            assert first.weekday() == 0
            assert (day - first).days < 7
        if granularity == "month":
            assert first.day == 1
        day += ONE_DAY
