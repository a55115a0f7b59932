"""Series arithmetic: buckets, totals, changes and run-rate projections."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from clients.isnotai import IsnotaiUsage, UsagePoint
from core.periods import bucket_start, next_bucket, split


@dataclass(frozen=True)
class Bucket:
    """One bucket of a series; value None means the upstream had nothing for it."""

    start: date
    end: date
    value: int | None
    # False: every day of the bucket is before the plan's history window (not 0, unknown).
    available: bool = True


def bucket_points(
    points: Iterable[UsagePoint],
    level: bool,
    start: date,
    end: date,
    granularity: str,
    available_from: date | None = None,
) -> list[Bucket]:
    """Fold a metric's points into calendar buckets: flows add up, a level keeps its last."""
    spans = split(start, end, granularity)
    values: list[int | None] = [None] * len(spans)
    for point in sorted(points, key=lambda p: p.period):
        # A monthly point counts from the first day of the range it overlaps.
        day = max(point.period, start) if point.granularity == "month" else point.period
        if not start <= day <= end:
            continue
        index = next(i for i, (s, e) in enumerate(spans) if s <= day <= e)
        current = values[index]
        values[index] = point.value if level or current is None else current + point.value
    return [
        Bucket(s, e, v, available_from is None or e >= available_from)
        for (s, e), v in zip(spans, values, strict=True)
    ]


def shown_granularity(usage: IsnotaiUsage, wanted: str) -> str:
    """Return the granularity a metric is shown at: never finer than the upstream reported."""
    return "month" if usage.granularity == "month" else wanted


def metric_buckets(
    usage: IsnotaiUsage, metric: str, wanted: str, today: date | None = None
) -> list[Bucket]:
    """Bucket one metric over the range of its answer (with `today`: none after it)."""
    buckets = bucket_points(
        usage.series(metric),
        metric in usage.levels,
        usage.start,
        usage.end,
        shown_granularity(usage, wanted),
        usage.available_from,
    )
    return buckets if today is None else up_to(buckets, today)


def total_through(usage: IsnotaiUsage, metric: str, last: date) -> int:
    """Return a flow's total over its answer's days up to `last` (a day-by-day answer)."""
    return sum(p.value for p in usage.series(metric) if p.period <= last)


def reading_on(usage: IsnotaiUsage, metric: str, day: date) -> int | None:
    """Return a level's last reading on or before `day`, or None before its first."""
    readings = [p.value for p in usage.series(metric) if p.period <= day]
    return readings[-1] if readings else None


def up_to(buckets: Iterable[Bucket], today: date) -> list[Bucket]:
    """Return the buckets with no value after today (UTC).

    Days that have not happened are not data, whatever an upstream answers for them (some
    answer 0, some nothing): a bucket starting after today is unknown, not 0. A bucket
    holding today keeps its value, the usage so far.
    """
    return [b if b.start <= today else replace(b, value=None) for b in buckets]


def last_value(buckets: Iterable[Bucket]) -> int | None:
    """Return the last value of a level's buckets: its latest reading."""
    return next((b.value for b in reversed(list(buckets)) if b.value is not None), None)


class MinutesTotals:
    """What AI-minutes views share: buckets, a range total, the previous range's total."""

    buckets: Sequence[Bucket]
    total: int | None
    previous_total: int | None
    # While the range runs past its last whole day, a change compares whole days only
    # (`UsageQuery.compared`): these (current, previous) totals stand in for the range's.
    compared: tuple[int | None, int | None] | None = None

    @property
    def change(self) -> float | None:
        """Return the change against the previous range, in percent."""
        current, previous = self.compared or (self.total, self.previous_total)
        return change_pct(current, previous)

    @property
    def has_data(self) -> bool:
        """Tell whether any minutes were used in the range."""
        return bool(self.total) or any(b.value for b in self.buckets)


def change_pct(current: int | None, previous: int | None) -> float | None:
    """Return the change from previous to current in percent, or None when undefined."""
    if current is None or not previous:
        return None
    return (current - previous) / previous * 100


def projection(total: int | None, start: date, end: date, now: datetime) -> int | None:
    """Project a flow's range total from its run rate so far; None unless now is in range.

    The run rate counts today's elapsed hours, so a range ending today still projects.
    """
    if total is None or not start <= now.date() <= end:
        return None
    begun = datetime.combine(start, time.min, tzinfo=UTC)
    elapsed_days = max((now - begun).total_seconds() / 86400, 1 / 24)
    return round(total / elapsed_days * ((end - start).days + 1))


def calendar_days(bucket: Bucket, granularity: str) -> int:
    """Return how many days the whole calendar bucket (day, ISO week, month) holding it has."""
    first = bucket_start(bucket.start, granularity)
    return (next_bucket(first, granularity) - first).days


@dataclass(frozen=True)
class Partial:
    """A bucket that does not hold its whole calendar period: cut by the range, or running."""

    days: int  # days of the bucket that count: in the range and, when running, up to today
    of: int  # days of the whole calendar period
    running: bool  # it holds today: its total is the usage so far


def partial(bucket: Bucket, granularity: str, today: date | None) -> Partial | None:
    """Tell whether a bucket is partial; buckets are clipped to the range (core.periods.split).

    A bucket that holds today is still running, whatever its length; a bucket the range
    starts or ends inside holds only some of its days.
    """
    whole = calendar_days(bucket, granularity)
    running = today is not None and bucket.start <= today <= bucket.end
    last = min(bucket.end, today) if running and today is not None else bucket.end
    days = (last - bucket.start).days + 1
    if not running and days == whole:
        return None
    return Partial(days, whole, running)


@dataclass(frozen=True)
class MonthPace:
    """The current calendar month so far and where it is heading at its run rate."""

    since: date  # the first day counted: the 1st, or the first the range and the plan hold
    month_end: date
    so_far: int
    projected: int

    @property
    def whole_month(self) -> bool:
        """Tell whether the count starts on the 1st: a month to date, not a part of one."""
        return self.since.day == 1


def month_pace(
    buckets: Sequence[Bucket],
    now: datetime,
    kept_from: date | None = None,
    total: int | None = None,
) -> MonthPace | None:
    """Project a flow to the end of the calendar month holding today, from its run rate.

    None unless a bucket holds today. The rate is never taken over less than a day: hours
    into a month's first day, a rate times the month's 744 hours is noise. Only buckets
    that start in this month count (a week reaching back into the last month cannot be
    split), and none before `kept_from`, the first day the plan keeps. The run rate counts
    today's elapsed hours, as `projection`. When the count starts with the range, the
    range's `total` is the month so far: the card then never shows two sums of the same
    days (an upstream may round per bucket).
    """
    today = now.date()
    first = today.replace(day=1)
    month_end = split(first, first + timedelta(days=31), "month")[0][1]
    if not any(b.start <= today <= b.end for b in buckets):
        return None
    counted = [b for b in buckets if first <= b.start <= today]
    if kept_from is not None:
        counted = [b for b in counted if b.end >= kept_from]
    values = [b.value for b in counted if b.value is not None]
    if not counted or not values:
        return None
    since = max(counted[0].start, kept_from or first)
    begun = datetime.combine(since, time.min, tzinfo=UTC)
    elapsed_days = max((now - begun).total_seconds() / 86400, 1.0)
    so_far = total if total is not None and since == buckets[0].start else sum(values)
    projected = round(so_far / elapsed_days * ((month_end - since).days + 1))
    return MonthPace(since, month_end, so_far, projected)
