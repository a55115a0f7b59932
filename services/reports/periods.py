"""A report's period: the previous ISO week (sent on Mondays) or calendar month (on the 1st)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

KINDS = ("week", "month")
# A run that cannot read the upstreams on the report's day is retried by the next runs for
# this many days more (a Monday's report until Thursday, the 1st's until the 4th); later, the
# period is skipped: a report that late would arrive beside the next one.
GRACE_DAYS = 3

_WEEK_KEY = re.compile(r"(\d{4})-W(\d{2})")
_MONTH_KEY = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class Period:
    """One whole week (Monday to Sunday) or calendar month, inclusive, in UTC days."""

    kind: str  # week | month
    start: date
    end: date

    @property
    def key(self) -> str:
        """Return the period's key, as stored with each send: 2026-W48 or 2026-11."""
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.start.year}-{self.start.month:02d}"

    @property
    def label(self) -> str:
        """Name the period for people: "week 48 of 2026 (…)", "November 2026"."""
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return f"week {week} of {year} ({self.start.isoformat()} – {self.end.isoformat()})"
        return self.start.strftime("%B %Y")

    @property
    def noun(self) -> str:
        """Say what the period is inside a sentence: "this report's week"."""
        return f"this report's {self.kind}"

    @property
    def sent_on(self) -> date:
        """Return the day the report is due: the Monday, or the 1st, after the period."""
        return self.end + timedelta(days=1)

    @property
    def last_day(self) -> date:
        """Return the last day a scheduled run still sends this period's report."""
        return self.sent_on + timedelta(days=GRACE_DAYS)


def last_whole(kind: str, today: date) -> Period:
    """Return the last whole week or calendar month before today."""
    if kind == "week":
        monday = today - timedelta(days=today.weekday())
        return Period("week", monday - timedelta(days=7), monday - timedelta(days=1))
    if kind == "month":
        end = today.replace(day=1) - timedelta(days=1)
        return Period("month", end.replace(day=1), end)
    raise ValueError(f"a report is weekly or monthly, not {kind!r}")


def due_period(kind: str, today: date) -> Period | None:
    """Return the period a schedule sends today: the last whole one, while it is not too late."""
    period = last_whole(kind, today)
    return period if today <= period.last_day else None


def parse_period_key(kind: str, key: str) -> Period:
    """Return the period a key names (2026-W48 for a week, 2026-11 for a month)."""
    if kind == "week" and (found := _WEEK_KEY.fullmatch(key)):
        try:
            monday = date.fromisocalendar(int(found[1]), int(found[2]), 1)
        except ValueError:
            pass
        else:
            return Period("week", monday, monday + timedelta(days=6))
    if kind == "month" and (found := _MONTH_KEY.fullmatch(key)) and 1 <= int(found[2]) <= 12:
        first = date(int(found[1]), int(found[2]), 1)
        following = (first + timedelta(days=32)).replace(day=1)
        return Period("month", first, following - timedelta(days=1))
    raise ValueError(f"{key[:40]!r} is not a {kind}'s key (like 2026-W48 or 2026-11)")
