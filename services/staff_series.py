"""AI minutes over time, remembered as numbers for as long as their cache entries are fresh.

A series of 30 day buckets is 30 EvoVoice answers, and with an account chosen each answer
lists every customer of the account (20,000 in the 100,000-customer benchmark): far more
records than the client's bounded memo of parsed answers keeps, so each view would parse
them all again from the cache. The page needs one number per bucket, so that is what is
kept here: per series, until the first of its answers would go stale in the cache, and
never more than MAX_SERIES series. Stale answers are not kept; a refresh replaces the entry.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from clients.evovoice import MinutesSeries
from clients.memo import ExpiringLRU
from clients.result import Fetched

from .shaping import Bucket

MAX_SERIES = 512


@dataclass(frozen=True)
class SeriesNumbers:
    """A series' bucket minutes, range total and where its answers came from."""

    buckets: tuple[Bucket, ...]
    total: int | None  # None: no record for the scope in the range
    results: tuple[Fetched[None], ...]  # provenance only: when fetched, whether stale


def numbers_of(series: MinutesSeries) -> SeriesNumbers:
    """Return the numbers of a series, without the parsed answers behind them."""
    return SeriesNumbers(
        buckets=tuple(Bucket(b.start, b.end, b.ai_minutes) for b in series.buckets),
        total=series.total,
        results=tuple(
            Fetched(None, r.fetched_at, r.source, r.stale_reason, r.caveat) for r in series.results
        ),
    )


class SeriesMemo(ExpiringLRU[SeriesNumbers]):
    """Series numbers keyed by range, granularity and scope, bounded and expiring."""

    def __init__(self, max_series: int = MAX_SERIES) -> None:
        super().__init__(max_series)

    def put(self, key: Hashable, numbers: SeriesNumbers, expires: datetime) -> None:
        """Keep numbers until `expires`, unless an answer behind them was stale."""
        if any(r.stale for r in numbers.results):
            return  # an answer standing in for a failed read: ask again next time
        super().put(key, numbers, expires)


def expiry(series: MinutesSeries, ttl_for: Callable[[date, date], timedelta]) -> datetime:
    """Return when the first answer of a series stops being fresh, as the cache reckons it.

    The cache chose each answer's freshness when it fetched it, from the day it was then.
    """
    spans = [(b.fetched, b.end) for b in series.buckets] + [(series.whole, series.whole.value.end)]
    return min(f.fetched_at + ttl_for(end, f.fetched_at.date()) for f, end in spans)
