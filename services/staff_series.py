"""AI minutes over time, remembered as numbers for as long as their cache entries are fresh.

A series of 30 day buckets is 30 EvoVoice answers, and with an account chosen each answer
lists every customer of the account (20,000 in the 100,000-customer benchmark): far more
records than the client's bounded memo of parsed answers keeps, so each view would parse
them all again from the cache. The page needs one number per bucket, so that is what is
kept here: per series, until the first of its answers would go stale in the cache, and
never more than MAX_SERIES series. Stale answers are not kept; a refresh replaces the entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from clients.evovoice import MinutesSeries
from clients.result import Fetched

from .shaping import Bucket

MAX_SERIES = 512


@dataclass(frozen=True)
class SeriesNumbers:
    """A series' bucket minutes, range total and where its answers came from."""

    buckets: tuple[Bucket, ...]
    total: int
    results: tuple[Fetched[None], ...]  # provenance only: when fetched, whether stale


def numbers_of(series: MinutesSeries) -> SeriesNumbers:
    """Return the numbers of a series, without the parsed answers behind them."""
    return SeriesNumbers(
        buckets=tuple(Bucket(b.start, b.end, b.ai_minutes) for b in series.buckets),
        total=series.total,
        results=tuple(
            Fetched(None, r.fetched_at, r.source, r.stale_reason) for r in series.results
        ),
    )


class SeriesMemo:
    """Series numbers keyed by range, granularity and scope, bounded and expiring."""

    def __init__(self, max_series: int = MAX_SERIES) -> None:
        self.max_series = max_series
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple, tuple[SeriesNumbers, datetime]] = OrderedDict()

    def get(self, key: tuple, now: datetime) -> SeriesNumbers | None:
        """Return the numbers for a key while every answer behind them is fresh."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[1] <= now:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: tuple, numbers: SeriesNumbers, expires: datetime) -> None:
        """Keep numbers until `expires`, dropping the least recently used beyond the bound."""
        if any(r.stale for r in numbers.results):
            return  # an answer standing in for a failed read: ask again next time
        with self._lock:
            self._entries[key] = (numbers, expires)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_series:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def expiry(series: MinutesSeries, ttl_for: Callable[[date, date], timedelta]) -> datetime:
    """Return when the first answer of a series stops being fresh, as the cache reckons it.

    The cache chose each answer's freshness when it fetched it, from the day it was then.
    """
    spans = [(b.fetched, b.end) for b in series.buckets] + [(series.whole, series.whole.value.end)]
    return min(f.fetched_at + ttl_for(end, f.fetched_at.date()) for f, end in spans)
