"""isnotai `GET /v1/usage`: API consumption metrics for one integration, per region and key."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import requests

from .cached_http import CachedUpstream, UpstreamRequest
from .errors import (
    AuthenticationFailed,
    BadResponse,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
)
from .responses import json_body, retry_after_seconds, success_body
from .result import Fetched

METRICS = ("ApiCalls", "Events", "Sessions", "StorageBytes", "BotAnalyses")
# A level (bytes stored), not a flow: summing it across periods means nothing.
LEVEL_METRICS = frozenset({"StorageBytes"})
REGIONS = ("us", "eu")
TIER_HISTORY_DAYS = {"free": 7, "pro": 30, "enterprise": 7 * 365 + 2}

_CANONICAL = {m.lower(): m for m in METRICS}
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")


def canonical_metric(name: str) -> str | None:
    """Return the canonical spelling of a metric name, or None if it is not one of the five."""
    return _CANONICAL.get(name.strip().lower())


def history_start(tier: str | None, today: date) -> date | None:
    """Return the first day the tier keeps, or None when the tier is unknown."""
    days = TIER_HISTORY_DAYS.get((tier or "").lower())
    return None if days is None else today - timedelta(days=days - 1)


@dataclass(frozen=True)
class UsagePoint:
    """One metric's value for one period (a day or a month), as the upstream reported it."""

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
    totals: Mapping[str, int]  # canonical metric → range total (a level's last value)

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
        """Return the first day this tier keeps (earlier days are empty, not missing)."""
        return history_start(self.tier, today)


def parse_period(text: str) -> tuple[date, str]:
    """Parse a period label: a month, a date, or a date-time with or without zone."""
    text = text.strip()
    month = _MONTH.match(text)
    if month:
        return date(int(month[1]), int(month[2]), 1), "month"
    # The date as written is the period's own calendar day, whatever zone follows it.
    return datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text)).date(), "day"


def _int_value(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != int(raw):
        raise ValueError(f"value {raw!r} is not an integer")
    return int(raw)


def parse_usage(
    body: object, region: str, tier: str | None, start: date, end: date
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

    # Several records for one metric and day (hourly periods) fold into one day.
    folded: dict[tuple[str, date, str], tuple[str, int]] = {}
    for record in body["data"]:
        try:
            period, granularity = parse_period(str(record["period"]))
            raw_metric = str(record["metricType"])
            value = _int_value(record["value"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BadResponse(
                api, f"isnotai answered with an unreadable usage record ({exc})"
            ) from None
        metric = canonical_metric(raw_metric) or raw_metric
        slot = (metric, period, granularity)
        stamp = str(record["period"])
        if slot in folded and metric not in LEVEL_METRICS:
            value += folded[slot][1]
        elif slot in folded and folded[slot][0] > stamp:
            continue  # a level keeps its latest reading
        folded[slot] = (stamp, value)

    points = tuple(
        UsagePoint(period, granularity, metric, value)
        for (metric, period, granularity), (_, value) in sorted(
            folded.items(), key=lambda item: (item[0][1], _metric_order(item[0][0]))
        )
    )
    return IsnotaiUsage(start, end, region, tier, points, _totals(points, totals_raw))


def _metric_order(metric: str) -> tuple[int, str]:
    return (METRICS.index(metric) if metric in METRICS else len(METRICS), metric)


def _totals(points: tuple[UsagePoint, ...], totals_raw: dict) -> dict[str, int]:
    """Read the upstream's totals where its keys name a flow; compute the rest."""
    given: dict[str, int] = {}
    for key, raw in totals_raw.items():
        metric = canonical_metric(str(key))
        if metric and metric not in LEVEL_METRICS:
            try:
                given[metric] = _int_value(raw)
            except ValueError:
                continue
    totals: dict[str, int] = {}
    for metric in METRICS:
        series = [p for p in points if p.metric == metric]
        if metric in LEVEL_METRICS:
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
    error = envelope.get("error") if isinstance(envelope, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), str) else None
    details = error.get("details") if isinstance(error.get("details"), dict) else {}
    field = details.get("field") if isinstance(details.get("field"), str) else None
    kw = {"status": status, "code": code, "field": field}
    if status == 400:
        what = f"the {field} parameter" if field else "the request"
        return InvalidRequest(api, f"isnotai rejected {what} as invalid", **kw)
    if status == 401:
        return AuthenticationFailed(
            api,
            f"isnotai refused the API key: it is missing, unknown, revoked, or minted for the "
            f"other region (it was sent to the {region.upper()} region)",
            **kw,
        )
    if status == 403:
        return PermissionDenied(api, "isnotai says this key may not read that resource", **kw)
    if status == 404:
        return NotFound(api, "isnotai has no usage resource at the configured URL", **kw)
    if status == 429:
        wait = retry_after_seconds(response)
        when = f"retry in {wait:.0f} s" if wait is not None else "retry in a minute"
        return RateLimited(api, f"isnotai rate limited this key; {when}", retry_after=wait, **kw)
    if status >= 500:
        return UpstreamUnavailable(
            api, f"isnotai failed on its side (HTTP {status}); try again shortly", **kw
        )
    return UpstreamError(api, f"isnotai answered with unexpected HTTP {status}", **kw)


class IsnotaiClient:
    """Reads an integration's usage from the region its key belongs to."""

    def __init__(
        self,
        upstream: CachedUpstream,
        base_urls: Callable[[], Mapping[str, str]],
        namespace: str = "isnotai",
    ) -> None:
        self.upstream = upstream
        self._base_urls = base_urls  # resolved late: demo simulators start on first use
        self.namespace = namespace

    def base_urls(self) -> Mapping[str, str]:
        """Return the base URL of each region."""
        return self._base_urls()

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
        """Return usage for [start, end] (inclusive), optionally one metric."""
        if region not in REGIONS:
            raise ValueError(f"region must be one of {REGIONS}, not {region!r}")
        params = {"startDate": start.isoformat(), "endDate": end.isoformat()}
        if metric is not None:
            canonical = canonical_metric(metric)
            if canonical is None:
                raise ValueError(f"unknown metric {metric!r}; expected one of {', '.join(METRICS)}")
            params["metric"] = canonical
        today = self.upstream.clock().date()
        request = UpstreamRequest(
            api=f"isnotai ({region})",
            namespace=f"{self.namespace}:{region}",
            method="GET",
            base_url=self._base_urls()[region],
            path="/v1/usage",
            params=params,
            headers={"Authorization": f"Bearer {api_key}"},
            scope=api_key,
            ttl=self.upstream.policy.ttl_for(end, today),
        )

        def decode(response: requests.Response) -> IsnotaiUsage:
            if not 200 <= response.status_code < 300:
                raise error_for(response, region)
            body = success_body(response, request.api, "isnotai")
            tier = (response.headers.get("x-isnotai-tier") or "").strip().lower() or None
            return parse_usage(body, region, tier, start, end)

        return self.upstream.fetch(request, decode, refresh=refresh)
