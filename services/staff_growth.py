"""Who is growing: every account's minutes per bucket, its change against the previous
range, and the accounts whose minutes rose the most.

Everything here works on answers the overview already reads: the whole range, the previous
range of equal length, and the range's buckets (each bucket read keeps only account totals,
so it stays small in memory and in the client's memo). Only the rows a page shows get a
trend; movers are found in one pass over the accounts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from clients.evovoice import AIUsage

from .shaping import Bucket, change_pct

MOVERS = 5


@dataclass(frozen=True)
class Trend:
    """One account over the range: minutes per bucket and the change in its total."""

    values: tuple[int | None, ...]  # None: no record for the account in that bucket
    total: int
    previous: int | None  # None: EvoVoice listed no record for it in the previous range

    @property
    def change(self) -> float | None:
        """Return the change against the previous range, in percent (None: undefined)."""
        return change_pct(self.total, self.previous)

    @property
    def new(self) -> bool:
        """Tell whether the account used nothing in the previous range but does now."""
        return not self.previous and self.total > 0


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


def total_buckets(spans: Sequence[tuple], buckets: Sequence[AIUsage]) -> tuple[Bucket, ...]:
    """Return the all-account total per bucket: the sum of the accounts listed, as for the
    whole range (no account listed is 0: every account together used nothing)."""
    return tuple(
        Bucket(start, end, usage.minutes())
        for (start, end), usage in zip(spans, buckets, strict=True)
    )


def trends(
    accounts: Iterable[str],
    current: dict[str, int],
    previous: dict[str, int],
    buckets: Sequence[AIUsage],
) -> dict[str, Trend]:
    """Return the trend of each of the given accounts (the rows a page shows)."""
    wanted = list(dict.fromkeys(accounts))
    per_bucket = [_pick(usage, wanted) for usage in buckets]
    return {
        account: Trend(
            values=tuple(found.get(account) for found in per_bucket),
            total=current.get(account, 0),
            previous=previous.get(account),
        )
        for account in wanted
    }


def _pick(usage: AIUsage, wanted: list[str]) -> dict[str, int]:
    keep = set(wanted)
    found: dict[str, int] = {}
    for record in usage.accounts:
        if record.account_id in keep:
            found[record.account_id] = found.get(record.account_id, 0) + record.ai_minutes
    return found


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
