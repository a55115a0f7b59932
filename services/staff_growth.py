"""Who is growing: every account's minutes per bucket, its change against the previous
range, and the accounts whose minutes rose the most.

Everything here works on answers the overview already reads: the whole range, the previous
range of equal length, and the range's buckets (each bucket read keeps only account totals,
so it stays small in memory and in the client's memo). Only the rows a page shows get a
trend; movers are found in one pass over the accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from clients.evovoice import AIUsage
from clients.memo import ExpiringLRU
from clients.result import Fetched
from core.periods import split

from .shaping import Bucket, change_pct

if TYPE_CHECKING:
    from .filters import UsageQuery

MOVERS = 5
# Records the overview's bucket reads may parse at most, summed over its buckets. Each
# bucket's answer lists every customer of every account: with 100,000 customers, 30 day
# buckets would parse 3,000,000 records where the range and the previous range parse
# 200,000. Within this, buckets are at most a few whole-range reads more.
READ_BUDGET = 250_000
COARSER = ("day", "week", "month")
# Numbers (an account's minutes in a bucket) the memo of overview buckets holds at most:
# 1,000 accounts by 92 days is 92,000.
MAX_NUMBERS = 1_000_000
# Records the extra reads of a cut comparison (`UsageQuery.compared`: the range holds today)
# may parse at most: the previous range's whole days, and the range's when its buckets are
# not days. At 100,000 customers each is a whole-range read more on every cold view, as
# much again as the range and its previous one: those views say "no comparison" instead.
COMPARE_BUDGET = 50_000


@dataclass(frozen=True)
class AccountBuckets:
    """Every account's minutes per bucket, and where those answers came from."""

    minutes: tuple[dict[str, int], ...]  # per bucket: the minutes of each account listed
    results: tuple[Fetched[None], ...]  # provenance only: when fetched, whether stale


def overview_granularity(
    r: UsageQuery, records: int, budget: int = READ_BUDGET
) -> tuple[str | None, str | None]:
    """Return the granularity of the overview's buckets: the range's, else the finest
    coarser one whose bucket reads stay within `budget` records (one bucket, the range
    itself, costs nothing more); with a note saying why it is coarser, or that there are
    none."""
    start = COARSER.index(r.granularity) if r.granularity in COARSER else len(COARSER) - 1
    for granularity in COARSER[start:]:
        count = len(split(r.start, r.end, granularity))
        if count == 1 or records * count <= budget:
            if granularity == r.granularity:
                return granularity, None
            return granularity, (
                f"Shown per {granularity}: EvoVoice lists {records:,} records for this range, "
                f"too many to read per {r.granularity} for every account"
            )
    return None, (
        f"EvoVoice lists {records:,} records for this range, too many to read per bucket "
        "for every account: pick an account or a shorter range"
    )


def account_buckets(fetched: Sequence[Fetched[AIUsage]]) -> AccountBuckets:
    """Return the numbers of bucket answers, without the parsed answers behind them."""
    return AccountBuckets(
        minutes=tuple(totals_of(f.value) for f in fetched),
        results=tuple(
            Fetched(None, f.fetched_at, f.source, f.stale_reason, f.caveat) for f in fetched
        ),
    )


class BucketMemo(ExpiringLRU[AccountBuckets]):
    """Overview buckets as numbers, for as long as their answers are fresh in the cache.

    A bucket's answer lists every customer of every account (100,000 in the benchmark);
    the client's memo of parsed answers keeps only a few, so each view would parse every
    bucket again from the cache. The overview needs one number per account and bucket.
    """

    def __init__(self, max_numbers: int = MAX_NUMBERS) -> None:
        super().__init__(max_numbers, lambda b: max(1, sum(len(m) for m in b.minutes)))

    def put(self, key, value: AccountBuckets, expires: datetime) -> None:
        """Keep numbers until `expires`, unless an answer behind them was stale."""
        if any(r.stale for r in value.results):
            return  # an answer standing in for a failed read: ask again next time
        super().put(key, value, expires)


def fresh_until(
    fetched: Sequence[Fetched[AIUsage]], ttl_for: Callable[[date, date], timedelta]
) -> datetime:
    """Return when the first of these answers stops being fresh, as the cache reckons it."""
    return min(f.fetched_at + ttl_for(f.value.end, f.fetched_at.date()) for f in fetched)


@dataclass(frozen=True)
class Trend:
    """One account over the range: minutes per bucket and the change in its total."""

    values: tuple[int | None, ...]  # None: no record for the account in that bucket
    total: int
    previous: int | None  # None: EvoVoice listed no record for it in the previous range
    # While the range holds today, its whole days and the same days back stand in for
    # (total, previous) in the change (`UsageQuery.compared`).
    compared: tuple[int, int | None] | None = None

    @property
    def change(self) -> float | None:
        """Return the change against the previous range, in percent (None: undefined)."""
        return change_pct(*self._compared)

    @property
    def new(self) -> bool:
        """Tell whether the account used nothing in the previous range but does now."""
        total, previous = self._compared
        return not previous and total > 0

    @property
    def _compared(self) -> tuple[int, int | None]:
        return self.compared or (self.total, self.previous)


@dataclass(frozen=True)
class Mover:
    """An account whose minutes rose against the previous range."""

    account_id: str
    total: int
    previous: int  # 0 when EvoVoice listed no record for it then
    increase: int  # total - previous, above 0

    @property
    def change(self) -> float | None:
        """Return the rise in percent (None when there was nothing before)."""
        return change_pct(self.total, self.previous)


@dataclass(frozen=True)
class Movers:
    """The largest rises against the previous range: in minutes and relative."""

    absolute: tuple[Mover, ...]
    relative: tuple[Mover, ...]  # only accounts that used minutes in the previous range


def totals_of(usage: AIUsage) -> dict[str, int]:
    """Return each account's minutes in an answer (an id listed twice adds up)."""
    totals: dict[str, int] = {}
    for record in usage.accounts:
        totals[record.account_id] = totals.get(record.account_id, 0) + record.ai_minutes
    return totals


def total_buckets(spans: Sequence[tuple], buckets: Sequence[dict[str, int]]) -> tuple[Bucket, ...]:
    """Return the all-account total per bucket: the sum of the accounts listed, as for the
    whole range (no account listed is 0: every account together used nothing)."""
    return tuple(
        Bucket(start, end, sum(minutes.values()))
        for (start, end), minutes in zip(spans, buckets, strict=True)
    )


def trends(
    accounts: Iterable[str],
    current: dict[str, int],
    previous: dict[str, int],
    buckets: Sequence[dict[str, int]],
    whole_days: tuple[dict[str, int], dict[str, int]] | None = None,
) -> dict[str, Trend]:
    """Return the trend of each of the given accounts (the rows a page shows); with
    `whole_days` (each account's minutes in the days a cut comparison compares, now and
    before) their changes compare those."""
    wanted = list(dict.fromkeys(accounts))
    return {
        account: Trend(
            values=tuple(found.get(account) for found in buckets),
            total=current.get(account, 0),
            previous=previous.get(account),
            compared=(
                None
                if whole_days is None
                else (whole_days[0].get(account, 0), whole_days[1].get(account))
            ),
        )
        for account in wanted
    }


def summed(buckets: Iterable[dict[str, int]]) -> dict[str, int]:
    """Return each account's minutes over buckets (an account listed in none is absent)."""
    totals: dict[str, int] = {}
    for minutes in buckets:
        for account, value in minutes.items():
            totals[account] = totals.get(account, 0) + value
    return totals


def all_accounts(totals: dict[str, int]) -> int | None:
    """Return every account's minutes together, as `AIUsage.minutes()` does: None when
    EvoVoice listed no account at all."""
    return sum(totals.values()) if totals else None


def movers(current: dict[str, int], previous: dict[str, int], limit: int = MOVERS) -> Movers:
    """Return the accounts whose minutes rose the most, in minutes and in percent.

    Ties are broken by account id, so the lists are the same on every view. An account
    with nothing before has no relative rise (it would be infinite): it can only lead the
    rise in minutes.
    """
    risen = [
        Mover(account, minutes, before, minutes - before)
        for account, minutes in current.items()
        if minutes > (before := previous.get(account, 0))
    ]
    by_minutes = sorted(risen, key=lambda m: (-m.increase, m.account_id))
    relative = [m for m in risen if m.previous > 0]
    by_ratio = sorted(relative, key=lambda m: (-m.increase / m.previous, m.account_id))
    return Movers(tuple(by_minutes[:limit]), tuple(by_ratio[:limit]))
