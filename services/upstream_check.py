"""Probe both upstreams as configured and say, for each open point of their docs, what they do.

Behind `flask --app app upstreams check`. Every probe bypasses the cache. Everything printed
that an upstream wrote goes through `readable`, with the credentials in play hidden.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, TypeVar

import requests

from clients.cached_http import UpstreamRequest
from clients.errors import InvalidRequest, UpstreamError
from clients.isnotai import (
    METRICS,
    REGIONS,
    TIER_HISTORY_DAYS,
    canonical_metric,
    date_params,
    error_for,
    history_start,
)
from clients.responses import success_body
from clients.upstream_text import MESSAGE_LIMIT, NAME_LIMIT, readable

from .usage import TenantScope

if TYPE_CHECKING:
    from upstreams import Upstreams

T = TypeVar("T")

OK, NOTE, FAIL, SKIPPED = "ok", "note", "fail", "skipped"
# Recent whole days the probes read: inside even the Free plan's 7-day window.
PROBE_DAYS = 6

_PERIOD = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)(?P<fraction>\.\d+)?(?P<zone>Z|[+-]\d{2}:?\d{2})?)?"
)


@dataclass(frozen=True)
class Finding:
    """What one probe found about one open point of one upstream."""

    api: str
    point: str
    outcome: str  # ok, note (a variant the dashboard handles), fail, skipped
    found: str
    latency_ms: int | None = None


@dataclass
class Report:
    """Every finding of one check, in the order the probes ran."""

    findings: list[Finding] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Tell whether any probe failed."""
        return any(f.outcome == FAIL for f in self.findings)

    def as_json(self) -> dict:
        """Return the report as one JSON-ready document."""
        return {"ok": not self.failed, "findings": [asdict(f) for f in self.findings]}


def _timed(call: Callable[[], T]) -> tuple[T, int]:
    started = time.perf_counter()
    value = call()
    return value, round((time.perf_counter() - started) * 1000)


def period_shape(text: str) -> str:
    """Describe how a `period` is written: a month, a date, or a date-time and its zone."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return "month (YYYY-MM)"
    match = _PERIOD.fullmatch(text)
    if match is None:
        return "unrecognised"
    if match["time"] is None:
        return "date (YYYY-MM-DD)"
    zone = match["zone"]
    if zone is None:
        where = "without zone (read as UTC)"
    elif zone in ("Z", "+00:00", "+0000", "-00:00"):
        where = "in UTC"
    else:
        where = f"at offset {zone} (converted to UTC)"
    fraction = f", {len(match['fraction']) - 1}-digit fraction" if match["fraction"] else ""
    return f"date-time {where}{fraction}"


class UpstreamCheck:
    """Runs the probes of one check with the app's clients."""

    def __init__(self, sources: Upstreams, today: date, secrets: list[str]) -> None:
        self.sources = sources
        self.http = sources.http
        self.today = today
        self.report = Report()
        self.secrets = [s for s in secrets if s]  # hidden from anything printed

    def add(self, api: str, point: str, outcome: str, found: str, latency_ms=None) -> None:
        """Record one finding; its text may quote an upstream, so it is made safe here."""
        found = readable(found, MESSAGE_LIMIT, self.secrets)
        self.report.findings.append(Finding(api, point, outcome, found, latency_ms))

    def said(self, text: object, limit: int = NAME_LIMIT) -> str:
        """Return upstream text fit to print."""
        return readable(text, limit, self.secrets)

    def run(self, scope: TenantScope | None, evovoice_auth: str) -> Report:
        """Probe isnotai (with the tenant's key, if any) and EvoVoice; return the findings."""
        if scope is not None and scope.isnotai_key:
            self.secrets.append(scope.isnotai_key)
        self.check_isnotai(scope)
        self.check_evovoice(scope, evovoice_auth)
        return self.report

    # -- isnotai ---------------------------------------------------------------------------

    def _isnotai_get(self, region: str, path: str, params=None, key: str | None = None):
        api = f"isnotai ({region})"

        def decode(response: requests.Response):
            if not 200 <= response.status_code < 300:
                raise error_for(response, region)
            return success_body(response, api, "isnotai")

        request = UpstreamRequest(
            api=api,
            namespace="check",
            method="GET",
            base_url=self.sources.isnotai.base_urls()[region],
            path=path,
            scope="",
            ttl=timedelta(),
            params=params,
            headers={"Authorization": f"Bearer {key}"} if key else {},
        )
        (_, body), ms = _timed(lambda: self.http.send(request, decode))
        return body, ms

    def check_isnotai(self, scope: TenantScope | None) -> None:
        """Check each region's health, then the tenant's usage in its region."""
        for region in REGIONS:
            api = f"isnotai ({region})"
            try:
                body, ms = self._isnotai_get(region, "/health")
            except UpstreamError as exc:
                self.add(api, "reachable", FAIL, f"GET /health failed: {exc.message}")
                continue
            status = body.get("status") if isinstance(body, dict) else None
            version = body.get("version") if isinstance(body, dict) else None
            outcome = OK if status == "healthy" else NOTE
            self.add(
                api,
                "reachable",
                outcome,
                f"GET /health answered status {self.said(status) or '(none)'}, "
                f"version {self.said(version) or '(none)'}",
                ms,
            )
        if scope is None:
            self.add("isnotai", "usage", SKIPPED, "no --tenant: isnotai keys are per tenant")
        elif scope.problem:
            self.add(
                "isnotai", "usage", FAIL, f"the key of {scope.name} is unusable: {scope.problem}"
            )
        elif not (scope.isnotai_key and scope.isnotai_region in REGIONS):
            self.add("isnotai", "usage", SKIPPED, f"{scope.name} has no isnotai integration")
        else:
            self.check_isnotai_usage(scope.isnotai_key, scope.isnotai_region)

    def check_isnotai_usage(self, key: str, region: str) -> None:
        """Read recent days as the dashboard does, then raw, and report what each showed."""
        api = f"isnotai ({region})"
        client = self.sources.isnotai
        end = self.today - timedelta(days=1)
        start = end - timedelta(days=PROBE_DAYS - 1)
        try:
            fetched, ms = _timed(lambda: client.usage(key, region, start, end, refresh=True))
        except UpstreamError as exc:
            self.add(api, "auth mode" if exc.status in (401, 403) else "usage", FAIL, exc.message)
            return
        usage = fetched.value
        self.add(api, "auth mode", OK, "Bearer key accepted")
        self.add(api, "latency", OK, f"{PROBE_DAYS} days of /v1/usage read", ms)
        self.add(
            api,
            "tier header",
            OK if usage.tier else NOTE,
            f"x-isnotai-tier: {usage.tier}"
            if usage.tier
            else "no x-isnotai-tier header: the plan's history window is unknown",
        )
        self.add(api, "endDate semantics", *self._isnotai_end_date(usage, region, end))
        self.add(
            api,
            "granularity",
            OK if usage.granularity == "day" else NOTE,
            "per day"
            if usage.granularity == "day"
            else "per month: daily ranges are shown per month, with a notice",
        )
        unknown = usage.unknown_metrics
        self.add(
            api,
            "unknown metrics",
            NOTE if unknown else OK,
            "shown under 'Other metrics': " + ", ".join(self.said(m) for m in unknown)
            if unknown
            else "none",
        )
        self.check_isnotai_raw(api, key, region, start, end, client.sends_datetimes(region))
        self.check_history_window(api, key, region, usage.tier, client.sends_datetimes(region))

    def _isnotai_end_date(self, usage, region: str, end: date) -> tuple[str, str]:
        if self.sources.isnotai.sends_datetimes(region):
            return NOTE, (
                "bare dates refused, or endDate read as an instant: date-times covering "
                "whole UTC days are sent"
            )
        days = {p.period for p in usage.points}
        if not days or usage.granularity != "day":
            return NOTE, "bare dates accepted; no daily usage to tell whether endDate is inclusive"
        if end not in days:
            return NOTE, f"bare dates accepted, but {end}, the last day asked, did not come back"
        return OK, "bare YYYY-MM-DD dates accepted; the last day asked came back (inclusive)"

    def check_isnotai_raw(self, api, key, region, start, end, as_datetimes) -> None:
        """Report how `period` and `metricType` are written in a raw answer."""
        try:
            body, ms = self._isnotai_get(
                region, "/v1/usage", date_params(start, end, as_datetimes), key
            )
        except UpstreamError as exc:
            self.add(api, "period format", FAIL, exc.message)
            return
        records = [r for r in (body.get("data") or []) if isinstance(r, dict)]
        if not records:
            self.add(api, "period format", NOTE, "no usage in the last days: nothing to read")
            return
        shapes: dict[str, str] = {}
        for record in records:
            text = str(record.get("period", ""))
            shapes.setdefault(period_shape(text), self.said(text))
        self.add(
            api,
            "period format",
            OK,
            "; ".join(f"{shape}, e.g. {sample}" for shape, sample in shapes.items()),
            ms,
        )
        spellings = sorted({str(r.get("metricType", "")) for r in records})
        odd = [s for s in spellings if canonical_metric(s) and s not in METRICS]
        self.add(
            api,
            "metric spellings",
            NOTE if odd else OK,
            "canonical"
            if not odd
            else "matched on a normalised name: "
            + ", ".join(f"{self.said(s)} → {canonical_metric(s)}" for s in odd),
        )

    def check_history_window(self, api, key, region, tier, as_datetimes) -> None:
        """Ask from the day before the plan's window and say what a too-early start does."""
        first = history_start(tier, self.today)
        if first is None:
            self.add(api, "history window", NOTE, "unknown: the plan tier is not known")
            return
        days = TIER_HISTORY_DAYS[tier]
        end = self.today - timedelta(days=1)
        try:
            body, ms = self._isnotai_get(
                region,
                "/v1/usage",
                date_params(first - timedelta(days=1), end, as_datetimes),
                key,
            )
        except InvalidRequest as exc:
            found = f"{days} days ({tier}); a start before it is refused: {exc.message}"
            self.add(api, "history window", NOTE, found)
            return
        except UpstreamError as exc:
            self.add(api, "history window", FAIL, exc.message)
            return
        emptied = not body.get("data")
        found = (
            "a start before it empties the whole answer: the dashboard sends a clamped start"
            if emptied
            else "a start before it still returns the days inside it"
        )
        self.add(api, "history window", OK, f"{days} days ({tier}); {found}", ms)

    # -- EvoVoice --------------------------------------------------------------------------

    def check_evovoice(self, scope: TenantScope | None, configured_auth: str) -> None:
        """Read a recent day as the dashboard does; report sign-in mode, verb and endDate."""
        api = "EvoVoice"
        client = self.sources.evovoice
        if client is None:
            self.add(api, "reachable", FAIL, "not configured (USAGE_EVOVOICE_USERNAME is empty)")
            return
        account = scope.account_id if scope is not None else None
        day = self.today - timedelta(days=1)
        try:
            _, ms = _timed(lambda: client.usage(day, day, account, refresh=True))
        except UpstreamError as exc:
            self.add(api, "reachable", FAIL, exc.message)
            return
        whose = f"account {self.said(account)}" if account else "every account"
        self.add(api, "reachable", OK, f"/ai/usage answered for {whose}")
        self.add(api, "latency", OK, "one day of /ai/usage read", ms)
        if client.auth == configured_auth:
            self.add(api, "auth mode", OK, f"{client.auth} (as configured)")
        else:
            self.add(
                api,
                "auth mode",
                NOTE,
                f"{client.auth}: /auth/credentials answered 404, HTTP Basic is used instead",
            )
        verb = client.verb
        self.add(
            api,
            "verb",
            NOTE if verb == "POST" else OK,
            f"{verb} (configured)"
            if client.method != "auto"
            else "POST with a JSON body: GET answered 404/405"
            if verb == "POST"
            else "GET with query parameters",
        )
        self.check_end_date(api, client, account)

    def check_end_date(self, api: str, client, account: str | None) -> None:
        """Detect how `endDate` is read and compare it with the setting."""
        try:
            detected, ms = _timed(lambda: client.detect_end_date(account))
        except UpstreamError as exc:
            self.add(api, "endDate semantics", FAIL, exc.message)
            return
        if detected is None:
            found = "undetermined: no usage in the last days to tell by"
            self.add(api, "endDate semantics", NOTE, f"{found}; read as {client.end_date_rule()}")
        elif client.end_date not in ("auto", detected):
            found = f"{detected}, but USAGE_EVOVOICE_END_DATE={client.end_date}: numbers are wrong"
            self.add(api, "endDate semantics", FAIL, found, ms)
        else:
            how = "the day it names is included" if detected == "inclusive" else "it is left out"
            self.add(api, "endDate semantics", OK, f"{detected}: {how}", ms)
