"""Every page's query parameters, parsed and validated into one value; the one parser.

`parse_query` reads the usage page's range and slicing into a `UsageQuery`; the staff page
(`parse_staff_query`) and the embedded widget (`parse_widget_query`) build on it, adding
their own fields to the same range. Every refusal is a `FilterError` naming the parameter.
"""

from __future__ import annotations

import unicodedata
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
# The metric filter's choice that shows EvoVoice's AI minutes alone (no isnotai read).
AI_MINUTES = "ai-minutes"


class FilterError(ValueError):
    """A query parameter is invalid; the message names it and says what is expected."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param
        self.message = message


@dataclass(frozen=True)
class Comparison:
    """The days a change compares: the range's days that are over, and the same days back.

    A day still under way (today) or still to come would set a part against a whole
    previous day, so a change counts whole days only, in both ranges.
    """

    start: date
    end: date
    previous_start: date
    previous_end: date
    cut: bool  # the range runs past `end`: today, and any later days, are left out

    def describe(self) -> str:
        """Say which days a cut comparison leaves out (empty when nothing is left out)."""
        if not self.cut:
            return ""
        return f"whole days to {self.end.isoformat()}: today is not over"


@dataclass(frozen=True)
class UsageQuery:
    """What a usage page shows: an inclusive UTC date range and how to slice it."""

    start: date
    end: date
    preset: str | None = DEFAULT_PRESET
    metric: str = "all"  # "all" or a canonical metric name
    granularity: str = "day"
    compare: str = "none"
    # The request named no range: the default preset stands in, and may give way to one
    # that fits the plan's history window (see services.usage).
    defaulted: bool = False

    @property
    def days(self) -> int:
        """Return the number of days in the range."""
        return (self.end - self.start).days + 1

    @property
    def previous_shift(self) -> timedelta:
        """Return how far back the previous range lies.

        Daily and weekly views go back a whole number of weeks (the fewest that clear the
        range): a Monday is compared with a Monday, and a week the range cuts with a week
        cut on the same days, never a 5-day bucket with a 4-day one. Calendar months have
        no such shift, so a monthly view is compared with the days just before.
        """
        if self.granularity in ("day", "week"):
            return timedelta(days=-(-self.days // 7) * 7)
        return timedelta(days=self.days)

    @property
    def previous_start(self) -> date:
        """Return the first day of the previous range (what the comparison is against)."""
        return self.start - self.previous_shift

    @property
    def previous_end(self) -> date:
        """Return the last day of the previous range (as long as this one)."""
        return self.end - self.previous_shift

    @property
    def previous(self) -> UsageQuery:
        """Return the same query for the previous range of equal length."""
        return replace(
            self, start=self.previous_start, end=self.previous_end, preset=None, defaulted=False
        )

    def compared(self, today: date) -> Comparison | None:
        """Return the days a change compares, or None while no day of the range is over."""
        last = min(self.end, today - timedelta(days=1))
        if last < self.start:
            return None
        shift = self.previous_shift
        return Comparison(self.start, last, self.start - shift, last - shift, last < self.end)

    def reading_compared(self, today: date) -> date:
        """Return the day whose reading a level's latest is compared with: the previous
        range's end, or while the range runs past today, the same day back as today."""
        return self.previous_end if self.end <= today else today - self.previous_shift

    @property
    def reads_metrics(self) -> bool:
        """Tell whether isnotai's metrics are read and shown (not for AI minutes alone)."""
        return self.metric != AI_MINUTES

    @property
    def metrics(self) -> tuple[str, ...]:
        """Return the isnotai metrics shown."""
        if not self.reads_metrics:
            return ()
        return METRICS if self.metric == "all" else (self.metric,)

    def includes(self, day: date) -> bool:
        """Tell whether a day lies in the range."""
        return self.start <= day <= self.end

    def params(self) -> dict[str, str]:
        """Return the canonical query parameters (for URLs, exports and the form)."""
        params = {"metric": self.metric, "granularity": self.granularity, "compare": self.compare}
        if self.defaulted:
            pass  # no range named: the default, fitted to the plan's history, again
        elif self.preset:
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


# The rolling presets a default range may give way to, longest first.
_FITTING_PRESETS = ("30d", "7d")


def fit_to_history(query: UsageQuery, first_kept: date, today: date) -> UsageQuery:
    """Return a defaulted query moved inside a plan's history window, else the query itself.

    A default range reaching back before the first day the plan keeps would open on days
    that are "not available": the longest rolling preset that the window holds is shown
    instead (Free: the last 7 days), or the window itself when no preset fits. A range the
    request named is never changed.
    """
    if not query.defaulted or query.start >= first_kept:
        return query
    for preset in _FITTING_PRESETS:
        start, end = preset_range(preset, today)
        if start >= first_kept:
            return replace(query, start=start, end=end, preset=preset)
    return replace(query, start=min(first_kept, today), end=today, preset=None)


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
        raise FilterError(name, f"{name} must be between {EARLIEST_DATE} and {latest} (got {text})")
    return value


def _dates_edited(
    args: Mapping[str, str],
    sent: tuple[date | None, date | None],
    named: tuple[date, date],
    today: date,
) -> bool:
    """Tell whether dates sent beside a preset were edited, so that they, not it, name the range.

    Without JavaScript a form sends its preset and its dates together: dates that differ
    from the preset's range were typed by the user. Unless they are still the dates the page
    was showing (`shown_start`, `shown_end`): then the preset is what changed.
    """
    if all(d is None or d == n for d, n in zip(sent, named, strict=True)):
        return False
    try:
        shown = (_date(args, "shown_start", today), _date(args, "shown_end", today))
    except FilterError:
        shown = (None, None)  # what the page says it showed is a hint, never an error
    return shown == (None, None) or sent != shown


def parse_query(args: Mapping[str, str], today: date) -> UsageQuery:
    """Parse the page's query parameters; raise FilterError naming the first bad one."""
    metric = _one(args, "metric") or "all"
    if metric.lower() in ("all", AI_MINUTES):
        metric = metric.lower()
    else:
        canonical = canonical_metric(metric)
        if canonical is None:
            raise FilterError(
                "metric",
                f"metric must be all or one of {', '.join(METRICS)}, or {AI_MINUTES} "
                f"(got {metric[:40]!r})",
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

    preset: str | None = _one(args, "preset").lower()
    start, end = _date(args, "start", today), _date(args, "end", today)
    defaulted = False
    if preset and preset != "custom":
        if preset not in PRESETS:
            raise FilterError(
                "preset", f"preset must be one of {', '.join(PRESETS)} (got {preset[:40]!r})"
            )
        named = preset_range(preset, today)
        if _dates_edited(args, (start, end), named, today):
            preset = None
            start, end = start or named[0], end or named[1]
        else:
            start, end = named
    elif start is None and end is None:
        preset, defaulted = DEFAULT_PRESET, True
        start, end = preset_range(preset, today)
    else:
        preset = None
        end = end or today
        start = start or max(EARLIEST_DATE, end - timedelta(days=29))
    if start > today:  # whatever its end: no day of it has happened
        raise FilterError(
            "start", f"The range starts after today ({today}): there is no usage to show yet."
        )
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
    return UsageQuery(start, end, preset, metric, granularity, compare, defaulted)


# -- the staff page: a usage range, an optional account and customer, one table page -------

SORTS = ("-minutes", "minutes", "id", "-id")
DEFAULT_SORT = "-minutes"
MAX_PAGE = 10_000
MAX_SEARCH = 200
MAX_ID = 500
_RANGE_PARAMS = ("start", "end", "preset", "granularity", "shown_start", "shown_end")


@dataclass(frozen=True)
class StaffQuery:
    """What the staff page shows: a range, an optional account and customer, one table page."""

    range: UsageQuery
    account: str | None = None
    customer: str | None = None
    q: str = ""
    sort: str = DEFAULT_SORT
    page: int = 1

    @property
    def scoped(self) -> bool:
        """Tell whether an account or a customer is chosen (else: every account)."""
        return self.account is not None or self.customer is not None

    def replace(self, **changes) -> StaffQuery:
        """Return this query with some fields changed."""
        return replace(self, **changes)

    def params(self) -> dict[str, str]:
        """Return the canonical query parameters (for links, exports and the form)."""
        params = {"granularity": self.range.granularity}
        if self.range.preset:
            params["preset"] = self.range.preset
        else:
            params["start"] = self.range.start.isoformat()
            params["end"] = self.range.end.isoformat()
        if self.account is not None:
            params["account"] = self.account
        if self.customer is not None:
            params["customer"] = self.customer
        if self.q:
            params["q"] = self.q
        if self.sort != DEFAULT_SORT:
            params["sort"] = self.sort
        if self.page != 1:
            params["page"] = str(self.page)
        return params


def _text(args: Mapping[str, str], name: str) -> str:
    value = args.get(name)
    return value if isinstance(value, str) else ""


def _no_controls(name: str, value: str) -> None:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise FilterError(name, f"{name} must not contain control characters")


def _exact_id(args: Mapping[str, str], name: str) -> str | None:
    value = _text(args, name)
    if not value.strip():
        return None
    if len(value) > MAX_ID:
        raise FilterError(name, f"{name} must be at most {MAX_ID} characters long")
    _no_controls(name, value)
    return value  # exact: ids are compared as EvoVoice sends them


def parse_staff_query(args: Mapping[str, str], today: date) -> StaffQuery:
    """Parse the staff page's parameters; raise FilterError naming the first bad one."""
    query = parse_query({k: args[k] for k in _RANGE_PARAMS if args.get(k) is not None}, today)
    account, customer = _exact_id(args, "account"), _exact_id(args, "customer")
    search = _text(args, "q").strip()
    if len(search) > MAX_SEARCH:
        raise FilterError("q", f"q (the search) must be at most {MAX_SEARCH} characters long")
    _no_controls("q", search)
    sort = _text(args, "sort").strip() or DEFAULT_SORT
    if sort not in SORTS:
        raise FilterError("sort", f"sort must be one of {', '.join(SORTS)} (got {sort[:40]!r})")
    page_text = _text(args, "page").strip() or "1"
    if not (page_text.isascii() and page_text.isdigit() and 1 <= int(page_text) <= MAX_PAGE):
        raise FilterError(
            "page", f"page must be a whole number from 1 to {MAX_PAGE} (got {page_text[:40]!r})"
        )
    return StaffQuery(query, account, customer, search, sort, int(page_text))


# -- the embedded widget: a usage range under its token's locks, and a theme ---------------

THEMES = ("auto", "light", "dark")


def widget_presets(today: date, *, locked: str | None, max_days: int | None) -> dict[str, str]:
    """Return the presets a widget may show under its token's preset and maxDays locks."""
    if locked:
        return {locked: PRESETS[locked]}
    if max_days is None:
        return dict(PRESETS)
    allowed = {}
    for key, label in PRESETS.items():
        start, end = preset_range(key, today)
        if (end - start).days + 1 <= max_days:
            allowed[key] = label
    return allowed


@dataclass(frozen=True)
class WidgetAsk:
    """A widget URL's parameters under its token's locks, before they are validated.

    The range switcher links these even when they do not parse, so they stand on their own.
    """

    kind: str  # metrics or ai-minutes
    presets: dict[str, str]  # the presets the token allows; empty: none fits
    preset: str
    theme: str
    metric: str  # what the token locks, else what the URL asks, else all
    url_metric: str | None = None  # kept in the switcher's links when the token locks none

    def link_params(self) -> dict[str, str]:
        """Return the parameters besides the preset that the range switcher keeps."""
        params = {"theme": self.theme}
        if self.url_metric:
            params["metric"] = self.url_metric
        return params


@dataclass(frozen=True)
class WidgetQuery:
    """What a widget shows: a usage query (a preset range) and a theme."""

    range: UsageQuery
    theme: str = "auto"


def widget_ask(
    args: Mapping[str, str],
    kind: str,
    today: date,
    *,
    preset_lock: str | None = None,
    metric_lock: str | None = None,
    max_days: int | None = None,
) -> WidgetAsk:
    """Read a widget's parameters under its token's locks (locked claims win over the URL)."""
    presets = widget_presets(today, locked=preset_lock, max_days=max_days)
    preset = (
        preset_lock
        or _text(args, "preset").strip().lower()
        or next((p for p in ("30d", "7d") if p in presets), next(iter(presets), ""))
    )
    url_metric = _text(args, "metric") or None
    metric = metric_lock or url_metric or "all"
    return WidgetAsk(
        kind=kind,
        presets=presets,
        preset=preset,
        theme=(_text(args, "theme") if "theme" in args else "auto").strip().lower(),
        metric="all" if kind == "ai-minutes" else metric,
        url_metric=url_metric if kind == "metrics" and metric_lock is None else None,
    )


def parse_widget_query(ask: WidgetAsk, today: date) -> WidgetQuery:
    """Validate a widget's parameters; raise FilterError naming the first bad one."""
    if ask.preset not in ask.presets:
        raise FilterError("preset", f"preset must be one of {', '.join(ask.presets)}")
    if ask.theme not in THEMES:
        raise FilterError("theme", "theme must be light, dark or auto")
    query = parse_query({"preset": ask.preset, "metric": ask.metric}, today)
    if not query.reads_metrics:  # the AI-minutes widget is its own kind
        raise FilterError(
            "metric", f"metric must be all or one of {', '.join(METRICS)} (got {ask.metric!r})"
        )
    return WidgetQuery(query, ask.theme)
