"""Serve one simulated isnotai region: `GET /v1/usage` and `GET /health`.

Choices for what FACTS.md leaves open (default first; switch them on SimulatorState):

- `period`: one record per UTC day per metric, written `2026-06-10T00:00:00.0000000+00:00`
  (`isnotai_period_format`: dotnet, date, zulu, naive, fractional). With
  `isnotai_granularity="month"` flows are summed per calendar month, StorageBytes is the
  month's last served day, and the period is `2026-06` whatever the period format.
- `metricType`: canonical spelling (`isnotai_metric_case`: canonical, lower, upper);
  `isnotai_extra_metric` adds records of an unknown type, WebhookDeliveries.
- `totals`: camelCase keys over the metrics returned; flows summed over the served days,
  storageBytes the last served day's level, 0 when no day is served
  (`isnotai_totals`: camel, canonical, none = `{}`, unknown = `{"total": n}`).
- Response `startDate`/`endDate` echo the requested range after defaults (not clamped to
  the tier window or today), .NET style: `2026-06-10T00:00:00.0000000+00:00`.
- An empty `startDate`, `endDate` or `metric` parameter counts as absent.
- Order of checks: fault, 401, rate limit (Bearer callers only), 400 validation. A fault
  fires whatever the key; like every response to a valid key it carries x-isnotai-tier.
- 5xx faults all use the code INTERNAL_ERROR (other code strings are not public); 429 and
  503 faults send Retry-After only when the fault has `retry_after`.
- Unknown paths under the region prefix, and other verbs on /v1/usage, get the 404 envelope.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask import Blueprint, Response, g, request

from simulators.data import (
    EXTRA_METRIC,
    ISNOTAI_INTEGRATIONS,
    LEVEL_METRICS,
    METRICS,
    TIER_RATE_PER_MINUTE,
    DemoIntegration,
    canonical_metric,
    isnotai_expected,
    parse_day,
)
from simulators.fault_bodies import retry_after_header, shared_fault
from simulators.state import Fault, SimulatorState

KEY_PATTERN = re.compile(r"aik_v1_[A-Za-z0-9_-]{40}")
TIER_HEADER = "x-isnotai-tier"
JSON_TYPE = "application/json; charset=utf-8"
DEFAULT_RANGE_DAYS = 30

_PERIOD_FORMATS = {
    "dotnet": "{}T00:00:00.0000000+00:00",
    "date": "{}",
    "zulu": "{}T00:00:00Z",
    "naive": "{}T00:00:00",
    "fractional": "{}T00:00:00.123Z",
}
_METRIC_CASES = {"canonical": str, "lower": str.lower, "upper": str.upper}
_FAULT_ERRORS = {
    "500": ("INTERNAL_ERROR", "An unexpected error occurred."),
    "502": ("INTERNAL_ERROR", "The upstream service failed to respond."),
    "503": ("INTERNAL_ERROR", "The service is temporarily unavailable."),
    "429": ("RATE_LIMITED", "Too many requests."),
    "403": ("FORBIDDEN", "This key may not access that resource."),
    "404": ("NOT_FOUND", "The requested resource does not exist."),
    "401": ("INVALID_API_KEY", "The API key is missing, malformed or not valid here."),
}
# What a fault of kind "malformed" sends.
TRUNCATED_BODY = '{"startDate":"2026-06-01T00:00:00.0000000+00:00","data":[{"period":"2026-06-0'


@dataclass(frozen=True)
class UsageQuery:
    """Hold the validated parameters of one /v1/usage request."""

    start: date
    end: date
    metrics: tuple[str, ...]
    filtered: bool


def json_response(body: object, status: int = 200, headers: dict | None = None) -> Response:
    """Serialise body as compact UTF-8 JSON."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status=status, headers=headers, content_type=JSON_TYPE)


def error_response(
    status: int, code: str, message: str, details: dict | None = None, headers: dict | None = None
) -> Response:
    """Answer isnotai's error envelope."""
    error: dict = {"code": code, "message": message}
    if details:
        error["details"] = details
    return json_response({"error": error}, status, headers)


def dotnet_date(day: date) -> str:
    """Write a date as a .NET round-trip timestamp at UTC midnight."""
    return _PERIOD_FORMATS["dotnet"].format(day.isoformat())


def presented_key() -> tuple[str | None, bool]:
    """Return the key the caller sent and whether it came as Bearer (Bearer wins)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return token.strip(), True
    return request.headers.get("x-api-key"), False


def fault_response(fault: Fault) -> Response | None:
    """Answer a fault after its hang, or return None to answer normally (timeout)."""
    if fault.kind == "timeout":
        return None
    shared = shared_fault(fault.kind, TRUNCATED_BODY, proxy="cloudflare")
    if shared is not None:
        return shared
    headers = retry_after_header(fault.kind, fault.retry_after)
    code, message = _FAULT_ERRORS[fault.kind]
    return error_response(int(fault.kind), code, message, headers=headers)


def _parse_date(args, field: str) -> date | None:
    """Parse one date parameter; raise ValueError naming the field."""
    text = args.get(field, "")
    if not text:
        return None
    try:
        return parse_day(text)
    except ValueError:
        raise ValueError(field, f"'{text}' is not a valid ISO-8601 date for {field}.") from None


def parse_query(args, today: date) -> UsageQuery:
    """Validate startDate, endDate and metric; raise ValueError(field, message)."""
    start = _parse_date(args, "startDate")
    end = _parse_date(args, "endDate") or today
    if start is None:
        try:
            start = end - timedelta(days=DEFAULT_RANGE_DAYS)
        except OverflowError:
            start = date.min
    if start > end:
        raise ValueError("startDate", "startDate must not be after endDate.")
    metric = args.get("metric", "")
    if not metric:
        return UsageQuery(start, end, METRICS, filtered=False)
    try:
        canonical = canonical_metric(metric)
    except KeyError:
        canonical = None
    if canonical not in METRICS:
        raise ValueError("metric", f"'{metric}' is not one of {', '.join(METRICS)}.")
    return UsageQuery(start, end, (canonical,), filtered=True)


def _records(series: dict[str, dict[date, int]], state: SimulatorState) -> list[dict]:
    """Lay the served series out as data records, ordered by period then metric."""
    monthly = state.isnotai_granularity == "month"
    period_format = _PERIOD_FORMATS[state.isnotai_period_format]
    spell = _METRIC_CASES[state.isnotai_metric_case]
    buckets: dict[str, dict[str, int]] = {}
    for metric, by_day in series.items():
        for day, value in by_day.items():  # days ascend, so a level's last day wins
            label = day.strftime("%Y-%m") if monthly else period_format.format(day.isoformat())
            bucket = buckets.setdefault(label, {})
            if metric in LEVEL_METRICS:
                bucket[metric] = value
            else:
                bucket[metric] = bucket.get(metric, 0) + value
    return [
        {"period": label, "metricType": spell(metric), "value": bucket[metric]}
        for label, bucket in buckets.items()
        for metric in series
        if metric in bucket
    ]


def _totals(series: dict[str, dict[date, int]], style: str) -> dict:
    """Summarise the served series in the configured totals style."""
    if style == "none":
        return {}
    if style == "unknown":
        flows = (by_day for metric, by_day in series.items() if metric not in LEVEL_METRICS)
        return {"total": sum(sum(by_day.values()) for by_day in flows)}
    totals = {}
    for metric, by_day in series.items():
        if metric in LEVEL_METRICS:
            value = by_day[max(by_day)] if by_day else 0
        else:
            value = sum(by_day.values())
        totals[metric[0].lower() + metric[1:] if style == "camel" else metric] = value
    return totals


def usage_body(integration: DemoIntegration, query: UsageQuery, state: SimulatorState) -> dict:
    """Build the 200 body of /v1/usage."""
    metrics = query.metrics
    if state.isnotai_extra_metric and not query.filtered:
        metrics = (*metrics, EXTRA_METRIC)
    series = isnotai_expected(
        integration.name, query.start, query.end, today=state.current_day(), metrics=metrics
    )
    return {
        "startDate": dotnet_date(query.start),
        "endDate": dotnet_date(query.end),
        "data": _records(series, state),
        "totals": _totals(series, state.isnotai_totals),
    }


def create_isnotai_blueprint(
    region: str, state: SimulatorState, url_prefix: str | None = None
) -> Blueprint:
    """Build the blueprint of one isnotai region; only that region's keys authenticate."""
    target = f"isnotai-{region}"
    prefix = url_prefix or f"/isnotai/{region}"
    keys = {item.key: item for item in ISNOTAI_INTEGRATIONS if item.region == region}
    blueprint = Blueprint(f"isnotai_{region}", __name__, url_prefix=prefix)

    @blueprint.before_request
    def delay() -> None:
        g.sim_integration = None
        state.pause(state.latency_ms / 1000)

    @blueprint.after_request
    def record(response: Response) -> Response:
        integration = g.get("sim_integration")
        if integration is not None:
            response.headers[TIER_HEADER] = integration.tier
        state.log_call(
            {
                "target": target,
                "method": request.method,
                "path": request.path.removeprefix(prefix) or "/",
                "query": request.args.to_dict(),
                "status": response.status_code,
                "identity": integration.name if integration else None,
                "body": None,
                "request_id": request.headers.get("X-Request-ID"),
            }
        )
        return response

    @blueprint.get("/health")
    def health() -> Response:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0+00:00"
        return json_response({"status": "healthy", "version": "sim-1", "timestamp": now})

    @blueprint.get("/v1/usage")
    def usage() -> Response:
        key, bearer = presented_key()
        integration = keys.get(key) if key and KEY_PATTERN.fullmatch(key) else None
        g.sim_integration = integration
        fault = state.take_fault(target)
        if fault is not None:
            state.pause(fault.hang_for())
            response = fault_response(fault)
            if response is not None:
                return response
        if integration is None:
            return error_response(401, *_FAULT_ERRORS["401"])
        if bearer and state.rate_limits:
            retry_after = state.admit(integration.key, TIER_RATE_PER_MINUTE[integration.tier])
            if retry_after is not None:
                code, message = _FAULT_ERRORS["429"]
                return error_response(429, code, message, headers={"Retry-After": str(retry_after)})
        try:
            query = parse_query(request.args, state.current_day())
        except ValueError as exc:
            field, message = exc.args
            return error_response(400, "VALIDATION_ERROR", message, details={"field": field})
        return json_response(usage_body(integration, query, state))

    @blueprint.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(rest: str) -> Response:
        return error_response(404, *_FAULT_ERRORS["404"])

    return blueprint
