"""Date ranges split into day, week (ISO, Monday first) or month buckets."""

from __future__ import annotations

from datetime import date, timedelta

GRANULARITIES = ("day", "week", "month")


def bucket_start(day: date, granularity: str) -> date:
    """Return the first day of the calendar bucket holding `day`."""
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    raise ValueError(f"granularity must be one of {GRANULARITIES}, not {granularity!r}")


def next_bucket(start: date, granularity: str) -> date:
    """Return the first day of the calendar bucket after the one starting on `start`."""
    if granularity == "day":
        return start + timedelta(days=1)
    if granularity == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def split(start: date, end: date, granularity: str) -> list[tuple[date, date]]:
    """Split [start, end] (inclusive) into calendar buckets, the first and last clipped.

    Every day of the range lies in exactly one bucket.
    """
    if start > end:
        raise ValueError("start must not be after end")
    buckets = []
    cursor = start
    while cursor <= end:
        following = next_bucket(bucket_start(cursor, granularity), granularity)
        last = min(end, following - timedelta(days=1))
        buckets.append((cursor, last))
        cursor = last + timedelta(days=1)
    return buckets
