"""What the staff tests share: past ranges, and EvoVoice's oracle answers ranked by hand."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta


def today() -> date:
    return datetime.now(UTC).date()


def past(days: int = 10) -> tuple[date, date, str]:
    """Return a range that ended yesterday, and its query string."""
    end = today() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    return start, end, f"start={start}&end={end}"


def accounts_by_minutes(body: dict) -> list[tuple[str, int]]:
    """Return (account id, minutes) of an oracle answer, busiest first, ties by id."""
    rows = [(a["accountId"], a["aiMinutes"]) for a in body["accountUsage"]]
    return sorted(rows, key=lambda r: (-r[1], r[0]))


def customers_by_minutes(body: dict, account: str) -> list[tuple[str, int]]:
    """Return (customer id, minutes) of one account's oracle answer, busiest first."""
    rows = [(c["customerId"], c["aiMinutes"]) for c in body["customerUsage"]]
    assert all(c["accountId"] == account for c in body["customerUsage"])
    return sorted(rows, key=lambda r: (-r[1], r[0]))


def pct(now: int, before: int) -> str:
    """Word a change as the README says: whole percents from 10, one decimal from 1, else
    two significant digits; 0 is "0 %"."""
    change = (now - before) / before * 100
    if change == 0:
        return "0 %"
    sign, size = ("+" if change > 0 else "−"), abs(change)
    if round(size, 1) >= 10:
        text = f"{size:,.0f}"
    elif round(size, 2) >= 1:
        text = f"{size:.1f}"
    else:  # two significant digits, trailing zero kept: 0.10, 0.034
        rounded = float(f"{size:.2g}")
        text = f"{rounded:.{1 - math.floor(math.log10(rounded))}f}"
    return f"{sign}{text} %"


def change_words(now: int, before: int | None) -> str:
    """Return what an accounts-table row says of its change, worked out from the numbers."""
    if not before:
        return "new" if now else "–"
    arrow = "▲ " if now > before else "▼ " if now < before else ""
    return arrow + pct(now, before)
