"""An alert rule's window: the UTC days it reads, and the key it fires at most once under.

- `month`: the calendar month to date, today included; key "2026-12".
- `7d`: the 7 full days up to yesterday; key "2026-11-24/2026-11-30". The window moves a
  day at a time, so a firing also holds back every window sharing a day with it (the 6
  after it, and the 6 before): no day is ever counted in two firings, and a rule fires at
  most once in any 7 days.
- `day`: the last full day, yesterday; key "2026-11-30".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

WEEK_DAYS = 7
# A spike compares the last full day with the average day of the 28 before it.
BASELINE_DAYS = 28


@dataclass(frozen=True)
class Window:
    """The days one evaluation reads, and the key a firing in them is stored under."""

    kind: str  # month | 7d | day
    key: str
    start: date
    end: date  # the last day read: today for a month to date, else yesterday

    @property
    def baseline(self) -> tuple[date, date]:
        """Return the first and last of the days a spike on `end` is compared with."""
        return self.end - timedelta(days=BASELINE_DAYS), self.end - timedelta(days=1)


def window_for(kind: str, now: datetime) -> Window:
    """Return the window of that kind an evaluation at `now` (UTC) reads."""
    today = now.date()
    yesterday = today - timedelta(days=1)
    if kind == "month":
        return Window(kind, f"{today:%Y-%m}", today.replace(day=1), today)
    if kind == "7d":
        return week_ending(yesterday)
    if kind == "day":
        return Window(kind, yesterday.isoformat(), yesterday, yesterday)
    raise ValueError(f"unknown window {kind!r}")


def week_ending(last: date) -> Window:
    """Return the 7-day window whose last day is `last`."""
    start = last - timedelta(days=WEEK_DAYS - 1)
    return Window("7d", f"{start.isoformat()}/{last.isoformat()}", start, last)


def overlapping(window: Window) -> tuple[str, ...]:
    """Return the keys of the other windows whose firing keeps this one from firing.

    Only a 7-day window has any: the 6 before it and the 6 after it (a consumer whose clock
    lags may evaluate an earlier window last), each sharing at least a day with it.
    """
    if window.kind != "7d":
        return ()
    shifts = [n for n in range(1 - WEEK_DAYS, WEEK_DAYS) if n]
    return tuple(week_ending(window.end + timedelta(days=n)).key for n in shifts)
