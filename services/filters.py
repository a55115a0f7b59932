"""Query parameters of the usage pages, parsed and validated into one value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

from clients.isnotai import METRICS, canonical_metric
from core.periods import GRANULARITIES

PRESETS = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "mtd": "Month to date",
    "last-month": "Last month",
}
DEFAULT_PRESET = "30d"
MAX_RANGE_DAYS = 366
# Each daily bucket is its own EvoVoice call: a longer daily view costs hundreds of calls.
MAX_DAILY_DAYS = 92
DAILY_TOO_LONG = (
    f"daily granularity covers at most {MAX_DAILY_DAYS} days; "
    "choose week or month for longer ranges"
)
# No usage predates the products; dates at the calendar's edges overflow date arithmetic.
EARLIEST_DATE = date(2000, 1, 1)
COMPARES = ("none", "previous")


class FilterError(ValueError):
    """A query parameter is invalid; the message names it and says what is expected."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True)
class UsageQuery:
    """What a usage page shows: an inclusive UTC date range and how to slice it."""

    start: date
    end: date
    preset: str | None = DEFAULT_PRESET
    metric: str = "all"  # "all" or a canonical metric name
    granularity: str = "day"
    compare: str = "none"

    @property
    def days(self) -> int:
        """Return the number of days in the range."""
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> UsageQuery:
        """Return the same query for the previous range of equal length."""
        return replace(
            self,
            start=self.start - timedelta(days=self.days),
            end=self.start - timedelta(days=1),
            preset=None,
        )

    @property
    def metrics(self) -> tuple[str, ...]:
        """Return the metrics shown."""
        return METRICS if self.metric == "all" else (self.metric,)

    def includes(self, day: date) -> bool:
        """Tell whether a day lies in the range."""
        return self.start <= day <= self.end

    def params(self) -> dict[str, str]:
        """Return the canonical query parameters (for URLs, exports and the form)."""
        params = {"metric": self.metric, "granularity": self.granularity, "compare": self.compare}
        if self.preset:
            params["preset"] = self.preset
        else:
            params["start"] = self.start.isoformat()
            params["end"] = self.end.isoformat()
        return params


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """Return the inclusive range a preset names, relative to today (UTC)."""
    if preset == "mtd":
        return today.replace(day=1), today
    if preset == "last-month":
        last = today.replace(day=1) - timedelta(days=1)
        return last.replace(day=1), last
    days = int(preset.removesuffix("d"))
    return today - timedelta(days=days - 1), today


def latest_date(today: date) -> date:
    """Return the last date a filter may name: one year after today."""
    try:
        return today.replace(year=today.year + 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year + 1, day=28)


def _one(args: Mapping[str, str], name: str) -> str:
    value = args.get(name)
    return value.strip() if isinstance(value, str) else ""


def _date(args: Mapping[str, str], name: str, today: date) -> date | None:
    text = _one(args, name)
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError
        value = date.fromisoformat(text)
    except ValueError:
        raise FilterError(
            name, f"{name} must be a date like 2026-01-31 (got {text[:40]!r})"
        ) from None
    latest = latest_date(today)
    if not EARLIEST_DATE <= value <= latest:
        raise FilterError(
            name, f"{name} must be between {EARLIEST_DATE} and {latest} (got {text})"
        )
    return value


def parse_query(args: Mapping[str, str], today: date) -> UsageQuery:
    """Parse the page's query parameters; raise FilterError naming the first bad one."""
    metric = _one(args, "metric") or "all"
    if metric.lower() == "all":
        metric = "all"
    else:
        canonical = canonical_metric(metric)
        if canonical is None:
            raise FilterError(
                "metric", f"metric must be all or one of {', '.join(METRICS)} (got {metric[:40]!r})"
            )
        metric = canonical

    granularity = _one(args, "granularity").lower()
    if granularity and granularity not in GRANULARITIES:
        raise FilterError(
            "granularity",
            f"granularity must be one of {', '.join(GRANULARITIES)} (got {granularity[:40]!r})",
        )
    compare = (_one(args, "compare") or "none").lower()
    if compare not in COMPARES:
        raise FilterError("compare", f"compare must be none or previous (got {compare[:40]!r})")

    preset = _one(args, "preset").lower()
    start, end = _date(args, "start", today), _date(args, "end", today)
    if preset and preset != "custom":
        if preset not in PRESETS:
            raise FilterError(
                "preset", f"preset must be one of {', '.join(PRESETS)} (got {preset[:40]!r})"
            )
        start, end = preset_range(preset, today)
    elif start is None and end is None:
        preset = DEFAULT_PRESET
        start, end = preset_range(preset, today)
    else:
        preset = None
        end = end or today
        start = start or max(EARLIEST_DATE, end - timedelta(days=29))
    if start > end:
        raise FilterError("start", f"start ({start}) is after end ({end})")
    days = (end - start).days + 1
    if days > MAX_RANGE_DAYS:
        raise FilterError(
            "end", f"the range is longer than {MAX_RANGE_DAYS} days; pick a shorter one"
        )
    if not granularity:  # the finest that stays within the daily limit
        granularity = "day" if days <= MAX_DAILY_DAYS else "week"
    elif granularity == "day" and days > MAX_DAILY_DAYS:
        raise FilterError("granularity", DAILY_TOO_LONG)
    return UsageQuery(start, end, preset, metric, granularity, compare)
