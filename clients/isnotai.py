"""isnotai `GET /v1/usage`: API consumption metrics for one integration, per region and key.

What the documentation leaves open is detected here, once per answer or per region:
- `period` may be a day, an hour or a month, with or without time and zone: stamped periods
  are converted to UTC before they are grouped; a bare date is a UTC day. Monthly answers
  (`2026-06`, or every period the first of a month) stay monthly.
- `metricType` may come in any spelling: names are matched on letters and digits only.
- `startDate`/`endDate` are sent as dates; a region that refuses them (400 naming the field)
  or reads `endDate` as an instant (hourly periods stop at 00:00 of the last day) is sent
  date-times covering whole UTC days from then on.
- A start before the plan's history window may empty the whole answer: the start sent is
  clamped to the window the `x-isnotai-tier` header gives.
- `value` is int64: kept as a Python int, and accepted as a string of decimal digits.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

import requests

from .cached_http import CachedUpstream, UpstreamRequest
from .errors import (
    BadResponse,
    InvalidRequest,
    UpstreamError,
    Wording,
    error_for_status,
)
from .responses import json_body, retry_after_seconds, success_body
from .result import Fetched

log = logging.getLogger(__name__)

METRICS = ("ApiCalls", "Events", "Sessions", "StorageBytes", "BotAnalyses")
# A level (bytes stored), not a flow: summing it across periods means nothing. An upstream
# may instead report bytes written per period: USAGE_ISNOTAI_STORAGE=flow.
STORAGE_MODES = ("level", "flow")
REGIONS = ("us", "eu")
TIER_HISTORY_DAYS = {"free": 7, "pro": 30, "enterprise": 7 * 365 + 2}
DATE_FIELDS = ("startdate", "enddate")
_TIERS_KEPT = 10_000  # keys whose tier this process remembers

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_DIGITS = re.compile(r"^[+-]?\d+$")
_NOT_NAME = re.compile(r"[\s_-]+")
_INT53 = 2**53


def metric_key(name: str) -> str:
    """Return the spelling-free form of a metric name: no case, `_`, `-` or spaces."""
    return _NOT_NAME.sub("", name).lower()


_CANONICAL = {metric_key(m): m for m in METRICS}


def canonical_metric(name: str) -> str | None:
    """Return the canonical spelling of a metric name, or None if it is not one of the five."""
    return _CANONICAL.get(metric_key(name))


def level_metrics(storage: str) -> frozenset[str]:
    """Return the metrics read as levels under a USAGE_ISNOTAI_STORAGE mode."""
    if storage not in STORAGE_MODES:
        raise ValueError(f"storage must be one of {STORAGE_MODES}, not {storage!r}")
    return frozenset({"StorageBytes"}) if storage == "level" else frozenset()


def history_start(tier: str | None, today: date) -> date | None:
    """Return the first day the tier keeps, or None when the tier is unknown."""
    days = TIER_HISTORY_DAYS.get((tier or "").lower())
    return None if days is None else today - timedelta(days=days - 1)


@dataclass(frozen=True)
class UsagePoint:
    """One metric's value for one period (a UTC day or a month), as the upstream reported it."""

    period: date  # first day of the period
    granularity: str  # "day" or "month"
    metric: str  # canonical name, or the upstream's own spelling when unknown
    value: int


@dataclass(frozen=True)
class IsnotaiUsage:
    """A parsed `/v1/usage` answer."""

    start: date
    end: date
    region: str
    tier: str | None
    points: tuple[UsagePoint, ...]
    totals: Mapping[str, int]  # metric → range total (a level's last value)
    levels: frozenset[str] = frozenset({"StorageBytes"})
    granularity: str = "day"  # "month" when the upstream reported this range per month
    # The first day the plan keeps, when the range starts before it: earlier days are
    # not available, which is not the same as 0.
    available_from: date | None = None
    # Hourly periods stopping at 00:00 of the last day: `endDate` was read as an instant.
    end_cut: bool = False

    @property
    def size(self) -> int:
        """Return how many records this answer holds (bounds the in-memory cache)."""
        return len(self.points)

    @property
    def unknown_metrics(self) -> tuple[str, ...]:
        """Return metric types the upstream sent that are not among the five."""
        return tuple(sorted({p.metric for p in self.points if p.metric not in METRICS}))

    def series(self, metric: str) -> list[UsagePoint]:
        """Return one metric's points in period order."""
        return [p for p in self.points if p.metric == metric]

    def history_start(self, today: date) -> date | None:
        """Return the first day this tier keeps (earlier days are not available)."""
        return history_start(self.tier, today)

    @property
    def reaches_end(self) -> bool:
        """Tell whether any record falls on the last day asked for (days, not months)."""
        return self.granularity == "day" and any(p.period == self.end for p in self.points)


def parse_period(text: str) -> tuple[datetime, datetime | None]:
    """Parse a period label into its start as a UTC instant and as written (None: a month)."""
    text = text.strip()
    month = _MONTH.match(text)
    if month:
        return datetime(int(month[1]), int(month[2]), 1, tzinfo=UTC), None
    written = datetime.fromisoformat(text)
    if written.tzinfo is None:  # a bare date or an unzoned time is UTC
        return written.replace(tzinfo=UTC), written
    return written.astimezone(UTC), written


def int_value(raw: object) -> int:
    """Read an int64 exactly: a JSON integer, a string of decimal digits, or an exact float."""
    if isinstance(raw, str) and _DIGITS.match(raw.strip()):
        return int(raw.strip())
    if isinstance(raw, float) and raw.is_integer() and abs(raw) <= _INT53:
        return int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError(f"value {raw!r} is not an integer")
    return raw


def _is_month_start(written: datetime | None) -> bool:
    return written is None or (written.day == 1 and written.time() == time())


def parse_usage(
    body: object,
    region: str,
    tier: str | None,
    start: date,
    end: date,
    levels: frozenset[str] = frozenset({"StorageBytes"}),
) -> IsnotaiUsage:
    """Turn a `/v1/usage` body into typed records; raise BadResponse if it is not that shape."""
    api = f"isnotai ({region})"
    # The documented keys: an answer without them is not "no usage", whatever else it holds.
    # How the dates are written is left open, and `totals` may be missing.
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("data"), list)
        or not all(isinstance(body.get(key), str) for key in ("startDate", "endDate"))
    ):
        raise BadResponse(api, "isnotai answered without the documented usage data")
    totals_raw = body.get("totals")
    totals_raw = {} if totals_raw is None else totals_raw
    if not isinstance(totals_raw, dict):
        raise BadResponse(api, "isnotai answered with totals that are not an object")

    records = []
    for record in body["data"]:
        try:
            moment, written = parse_period(str(record["period"]))
            raw_metric = str(record["metricType"])
            value = int_value(record["value"])
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise BadResponse(
                api, f"isnotai answered with an unreadable usage record ({exc})"
            ) from None
        records.append((moment, written, canonical_metric(raw_metric) or raw_metric, value))

    # A month may be written as its first day: a daily answer over a range holding other
    # days would not have every period on a first.
    monthly = bool(records) and (
        any(written is None for _, written, _, _ in records)
        or (all(_is_month_start(w) for _, w, _, _ in records) and (start != end or start.day != 1))
    )
    hourly = any(moment.time() != time() for moment, _, _, _ in records)
    last = max((moment for moment, *_ in records), default=None)
    end_cut = hourly and last == datetime.combine(end, time(), UTC)

    # Several records for one metric and period (hours) fold: flows add, a level keeps
    # its latest reading.
    folded: dict[tuple[str, date], tuple[datetime, int]] = {}
    for moment, written, metric, value in records:
        # A month is the month as written; a day is the UTC day of the period's start.
        period = (written or moment).date().replace(day=1) if monthly else moment.date()
        slot = (metric, period)
        if slot in folded and metric not in levels:
            value += folded[slot][1]
        elif slot in folded and folded[slot][0] > moment:
            continue
        folded[slot] = (moment, value)

    granularity = "month" if monthly else "day"
    points = tuple(
        UsagePoint(period, granularity, metric, value)
        for (metric, period), (_, value) in sorted(
            folded.items(), key=lambda item: (item[0][1], _metric_order(item[0][0]))
        )
    )
    return IsnotaiUsage(
        start,
        end,
        region,
        tier,
        points,
        _totals(points, totals_raw, levels),
        levels,
        granularity,
        end_cut=end_cut,
    )


def _metric_order(metric: str) -> tuple[int, str]:
    return (METRICS.index(metric) if metric in METRICS else len(METRICS), metric)


def _totals(
    points: tuple[UsagePoint, ...], totals_raw: dict, levels: frozenset[str]
) -> dict[str, int]:
    """Read the upstream's totals where its keys name a flow; compute the rest."""
    names = {metric_key(m): m for m in (*METRICS, *(p.metric for p in points))}
    given: dict[str, int] = {}
    for key, raw in totals_raw.items():
        metric = names.get(metric_key(str(key)))
        if metric and metric not in levels:
            try:
                given[metric] = int_value(raw)
            except ValueError:
                continue
    totals: dict[str, int] = {}
    for metric in names.values():
        series = [p for p in points if p.metric == metric]
        if metric in levels:
            if series:
                totals[metric] = series[-1].value
        elif metric in given:
            totals[metric] = given[metric]
        elif series:
            totals[metric] = sum(p.value for p in series)
    return totals


def error_for(response: requests.Response, region: str) -> UpstreamError:
    """Map a non-2xx isnotai answer to a typed error a person understands."""
    api = f"isnotai ({region})"
    status = response.status_code
    envelope = json_body(response)
    found = envelope.get("error") if isinstance(envelope, dict) else None
    error: dict = found if isinstance(found, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), str) else None
    listed = error.get("details")
    details: dict = listed if isinstance(listed, dict) else {}
    field = details.get("field") if isinstance(details.get("field"), str) else None
    wording = Wording(
        vendor="isnotai",
        refused="isnotai refused the API key: it is missing, unknown, revoked, or minted for the "
        f"other region (it was sent to the {region.upper()} region)",
        forbidden="isnotai says this key may not read that resource",
        missing="isnotai has no usage resource at the configured URL",
        throttled="this key",
    )
    return error_for_status(
        status,
        api,
        wording,
        said=error.get("message"),
        code=code,
        field=field,
        retry_after=retry_after_seconds(response),
        sent=response.request,
    )


def date_params(start: date, end: date, as_datetimes: bool) -> dict[str, str]:
    """Write the range as dates, or as date-times covering whole UTC days."""
    if not as_datetimes:
        return {"startDate": start.isoformat(), "endDate": end.isoformat()}
    return {"startDate": f"{start}T00:00:00Z", "endDate": f"{end}T23:59:59.999Z"}


@dataclass(frozen=True)
class _Ask:
    """One read as the dashboard wants it, before the date form is chosen."""

    api_key: str
    region: str
    start: date
    end: date
    metric: str | None
    refresh: bool


class IsnotaiClient:
    """Reads an integration's usage from the region its key belongs to."""

    def __init__(
        self,
        upstream: CachedUpstream,
        base_urls: Callable[[], Mapping[str, str]],
        namespace: str = "isnotai",
        storage: str = "level",
    ) -> None:
        self.upstream = upstream
        self._base_urls = base_urls  # resolved late: demo simulators start on first use
        self.namespace = namespace
        self.storage = storage
        self.levels = level_metrics(storage)
        self._lock = threading.Lock()
        self._datetime_regions: set[str] = set()
        # Regions whose answers to bare dates were seen to include the last day asked.
        self._date_regions: set[str] = set()
        self._tiers: dict[str, str] = {}  # keyed hash of an API key → its plan tier
        self._salt = secrets.token_bytes(16)

    def base_urls(self) -> Mapping[str, str]:
        """Return the base URL of each region."""
        return self._base_urls()

    def sends_datetimes(self, region: str) -> bool:
        """Tell whether this region is sent date-times instead of dates."""
        with self._lock:
            return region in self._datetime_regions

    def _use_datetimes(self, region: str, why: str) -> None:
        with self._lock:
            if region in self._datetime_regions:
                return
            self._datetime_regions.add(region)
        log.warning(
            "isnotai (%s) %s: sending startDate/endDate as date-times covering whole UTC days "
            "from now on",
            region,
            why,
        )

    def _key_id(self, api_key: str) -> str:
        return hmac.new(self._salt, api_key.encode(), hashlib.sha256).hexdigest()

    def _known_tier(self, api_key: str) -> str | None:
        with self._lock:
            return self._tiers.get(self._key_id(api_key))

    def _remember_tier(self, api_key: str, tier: str | None) -> None:
        if tier is None:
            return
        with self._lock:
            if len(self._tiers) >= _TIERS_KEPT:
                self._tiers.clear()
            self._tiers[self._key_id(api_key)] = tier

    def usage(
        self,
        api_key: str,
        region: str,
        start: date,
        end: date,
        metric: str | None = None,
        *,
        refresh: bool = False,
    ) -> Fetched[IsnotaiUsage]:
        """Return usage for [start, end] (inclusive), optionally one metric.

        The start sent is clamped to the plan's history window; days before it come back
        as `available_from`, not as empty days.
        """
        if region not in REGIONS:
            raise ValueError(f"region must be one of {REGIONS}, not {region!r}")
        if start > end:
            raise ValueError(f"start {start} is after end {end}")
        canonical = None
        if metric is not None:
            canonical = canonical_metric(metric)
            if canonical is None:
                raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
        today = self.upstream.clock().date()
        tier = self._known_tier(api_key)
        sent = max(start, history_start(tier, today) or start)
        # At most two reads: the tier is known from the first answer (and kept).
        for attempt in range(2):
            if sent > end:
                break
            fetched = self._read(api_key, region, sent, end, canonical, refresh)
            tier = fetched.value.tier
            self._remember_tier(api_key, tier)
            wanted = max(start, history_start(tier, today) or start)
            if wanted == sent or attempt == 1:
                return _as_asked(fetched, start, tier, today)
            sent = wanted
        # The whole range is before the window: nothing to ask.
        empty = IsnotaiUsage(start, end, region, tier, (), {}, self.levels)
        return _as_asked(Fetched(empty, self.upstream.clock(), "cache"), start, tier, today)

    def _read(
        self, api_key: str, region: str, start: date, end: date, metric: str | None, refresh: bool
    ) -> Fetched[IsnotaiUsage]:
        """Read once in the region's date form; switch the region to date-times if it must."""
        ask = _Ask(api_key, region, start, end, metric, refresh)
        if self.sends_datetimes(region):
            return self._fetch(ask, as_datetimes=True)
        try:
            fetched = self._fetch(ask, as_datetimes=False)
        except InvalidRequest as exc:
            if exc.field is None:
                # A 400 naming no field may still be the bare dates: date-times decide it.
                return self._without_field(ask, exc)
            if exc.field.lower() not in DATE_FIELDS:
                raise
            self._use_datetimes(region, f"refused a bare date for {exc.field}")
        else:
            answer = fetched.value
            if answer.end_cut:
                self._use_datetimes(region, "read endDate as an instant (hours stop at 00:00)")
            elif answer.reaches_end:
                with self._lock:
                    self._date_regions.add(region)
                return fetched
            elif not answer.points or self._dates_confirmed(region):
                return fetched
            else:
                # A missing last day is either a quiet day or an upstream that read endDate
                # as 00:00 and left that day out: the date-time form tells them apart.
                return self._probe_last_day(ask, fetched)
        return self._fetch(ask, as_datetimes=True)

    def _without_field(self, ask: _Ask, refused: InvalidRequest) -> Fetched[IsnotaiUsage]:
        try:
            fetched = self._fetch(ask, as_datetimes=True)
        except InvalidRequest:
            raise refused from None  # not the dates: the first refusal says what was wrong
        self._use_datetimes(ask.region, "refused bare dates with a 400 naming no field")
        return fetched

    def _dates_confirmed(self, region: str) -> bool:
        with self._lock:
            return region in self._date_regions

    def _probe_last_day(self, ask: _Ask, fetched: Fetched[IsnotaiUsage]) -> Fetched[IsnotaiUsage]:
        try:
            probed = self._fetch(ask, as_datetimes=True)
        except InvalidRequest:
            with self._lock:  # it takes dates only: what it answered to them stands
                self._date_regions.add(ask.region)
            return fetched
        if probed.value.reaches_end:
            self._use_datetimes(ask.region, "left out the last day of a bare-date range")
        return probed

    def _fetch(self, ask: _Ask, *, as_datetimes: bool) -> Fetched[IsnotaiUsage]:
        region, start, end = ask.region, ask.start, ask.end
        params = date_params(start, end, as_datetimes)
        if ask.metric is not None:
            params["metric"] = ask.metric
        today = self.upstream.clock().date()
        request = UpstreamRequest(
            api=f"isnotai ({region})",
            namespace=f"{self.namespace}:{region}",
            method="GET",
            base_url=self._base_urls()[region],
            path="/v1/usage",
            params=params,
            headers={"Authorization": f"Bearer {ask.api_key}"},
            scope=ask.api_key,
            ttl=self.upstream.policy.ttl_for(end, today),
            view=f"storage-{self.storage}",
        )

        def decode(response: requests.Response) -> IsnotaiUsage:
            if not 200 <= response.status_code < 300:
                raise error_for(response, region)
            body = success_body(response, request.api, "isnotai")
            tier = (response.headers.get("x-isnotai-tier") or "").strip().lower() or None
            return parse_usage(body, region, tier, start, end, self.levels)

        return self.upstream.fetch(request, decode, refresh=ask.refresh)


def _as_asked(
    fetched: Fetched[IsnotaiUsage], start: date, tier: str | None, today: date
) -> Fetched[IsnotaiUsage]:
    """Return the answer for the range asked, saying from when the plan has data."""
    first = history_start(tier, today)
    available_from = first if first is not None and start < first else None
    if (fetched.value.start, fetched.value.available_from) == (start, available_from):
        return fetched  # callers sharing one read share one value
    usage = replace(fetched.value, start=start, available_from=available_from)
    return replace(fetched, value=usage)
