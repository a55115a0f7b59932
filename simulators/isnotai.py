"""Serve one simulated isnotai region: `GET /v1/usage` and `GET /health`.

Choices for what FACTS.md leaves open (default first; switch them on SimulatorState):

- `period`: one record per UTC day per metric, written `2026-06-10T00:00:00.0000000+00:00`
  (`isnotai_period_format`: dotnet, date, zulu, naive, fractional). With
  `isnotai_granularity="month"` flows are summed per calendar month, StorageBytes is the
  month's last served day, and the period is `2026-06` (`isnotai_month_label="first-day"`:
  the month's first day in the period format). With `"hour"` each day is 24 records whose
  flows add up to the day's value exactly and whose level is the day's level.
  `isnotai_period_zone` (utc, +02:00, -08:00) writes the same instants at that offset
  (days and hours; a month label stays UTC).
- `metricType`: canonical spelling (`isnotai_metric_case`: canonical, lower, upper, snake
  `api_calls`, upper_snake `API_CALLS`, kebab `api-calls`, words `Api Calls`);
  `isnotai_extra_metric` adds records of an unknown type, WebhookDeliveries.
- `value`: a JSON integer (`isnotai_values`: number; big = 2^53 more, beyond a float's
  exact range; string = a JSON string of digits; big-string = both).
- StorageBytes: a level (`isnotai_storage="flow"`: bytes written per day, summed like the
  flows in months and totals).
- `totals`: camelCase keys over the metrics returned; flows summed over the served days,
  storageBytes the last served day's level, 0 when no day is served
  (`isnotai_totals`: camel, canonical, none = `{}`, unknown = `{"total": n}`).
- `startDate`/`endDate` parameters: any ISO-8601 date or date-time, read as its UTC date
  (`isnotai_date_params`: lenient; strict = a bare date is a 400 naming the field;
  strict-unnamed = the same 400 without `details`;
  instant = a bare date is its 00:00 UTC instant, and a period is served when its start
  lies in [startDate, endDate], so hourly answers stop at 00:00 of the last day;
  instant-exclusive = the same with the endDate instant left out, so the last day is missing).
- A start before the tier's window serves the days inside it (`isnotai_window="empty"`:
  the literal reading, no data at all when startDate is before the window).
- Response `startDate`/`endDate` echo the requested range after defaults (not clamped to
  the tier window or today), .NET style: `2026-06-10T00:00:00.0000000+00:00`.
- An empty `startDate`, `endDate` or `metric` parameter counts as absent.
- Order of checks: fault, 401, rate limit (Bearer callers only), 400 validation. A fault
  fires whatever the key; like every response to a valid key it carries x-isnotai-tier.
- A `400` fault answers VALIDATION_ERROR with the fault's `message` and, when it has one,
  `details.field`.
- 5xx faults all use the code INTERNAL_ERROR (other code strings are not public); 429 and
  503 faults send Retry-After only when the fault has `retry_after`.
- Unknown paths under the region prefix, and other verbs on /v1/usage, get the 404 envelope.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

from flask import Blueprint, Response, g, request

from simulators.data import (
    EXTRA_METRIC,
    ISNOTAI_INTEGRATIONS,
    LEVEL_METRICS,
    METRICS,
    TIER_RATE_PER_MINUTE,
    TIER_WINDOW_DAYS,
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
_WORDS = re.compile(r"(?<!^)(?=[A-Z])")
_METRIC_CASES = {
    "canonical": str,
    "lower": str.lower,
    "upper": str.upper,
    "snake": lambda m: _WORDS.sub("_", m).lower(),
    "upper_snake": lambda m: _WORDS.sub("_", m).upper(),
    "kebab": lambda m: _WORDS.sub("-", m).lower(),
    "words": lambda m: _WORDS.sub(" ", m),
}
_ZONES = {
    "utc": UTC,
    "+02:00": timezone(timedelta(hours=2)),
    "-08:00": timezone(-timedelta(hours=8)),
}
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
    # The instants the range covers: whole UTC days unless isnotai_date_params says otherwise.
    start_at: datetime
    end_at: datetime


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
    if fault.kind == "400":
        details = {"field": fault.field} if fault.field is not None else None
        return error_response(400, "VALIDATION_ERROR", fault.message or "Invalid request.", details)
    headers = retry_after_header(fault.kind, fault.retry_after)
    code, message = _FAULT_ERRORS[fault.kind]
    return error_response(int(fault.kind), code, message, headers=headers)


def _parse_date(args, field: str, reading: str) -> datetime | None:
    """Parse one date parameter into the instant it names; raise ValueError naming the field."""
    text = args.get(field, "")
    if not text:
        return None
    bare = "T" not in text.upper()
    if reading in ("strict", "strict-unnamed") and bare:
        raise ValueError(field, f"'{text}' is not a valid date-time for {field}.")
    try:
        if reading == "lenient" or bare:
            day = parse_day(text)
            late = field == "endDate" and reading == "lenient"
            moment = datetime.combine(day, time.max if late else time(), UTC)
            if field == "endDate" and reading == "instant-exclusive":
                moment -= timedelta(microseconds=1)  # up to, not including, 00:00
            return moment
        moment = datetime.fromisoformat(text.strip())
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise ValueError(field, f"'{text}' is not a valid ISO-8601 date for {field}.") from None


def parse_query(args, today: date, reading: str = "lenient") -> UsageQuery:
    """Validate startDate, endDate and metric; raise ValueError(field, message)."""
    start_at = _parse_date(args, "startDate", reading)
    end_at = _parse_date(args, "endDate", reading) or datetime.combine(today, time.max, UTC)
    if start_at is None:
        try:
            start_at = datetime.combine(
                end_at.date() - timedelta(days=DEFAULT_RANGE_DAYS), time(), UTC
            )
        except OverflowError:
            start_at = datetime.combine(date.min, time(), UTC)
    if start_at > end_at:
        raise ValueError("startDate", "startDate must not be after endDate.")
    # Days whose start lies in the range (a lenient range holds whole days).
    start = start_at.date() if start_at.time() == time() else start_at.date() + timedelta(days=1)
    end = end_at.date()
    bounds = {"start": start, "end": end, "start_at": start_at, "end_at": end_at}
    metric = args.get("metric", "")
    if not metric:
        return UsageQuery(metrics=METRICS, filtered=False, **bounds)
    try:
        canonical = canonical_metric(metric)
    except KeyError:
        canonical = None
    if canonical not in METRICS:
        raise ValueError("metric", f"'{metric}' is not one of {', '.join(METRICS)}.")
    return UsageQuery(metrics=(canonical,), filtered=True, **bounds)


def _levels(state: SimulatorState) -> frozenset[str]:
    return LEVEL_METRICS if state.isnotai_storage == "level" else frozenset()


def _written(value: int, state: SimulatorState) -> int | str:
    return str(value) if state.isnotai_values in ("string", "big-string") else value


def _stamp(moment: datetime, state: SimulatorState) -> str:
    """Write a period's start instant in the configured format and zone."""
    zone = _ZONES[state.isnotai_period_zone]
    if zone is not UTC:
        return moment.astimezone(zone).isoformat(timespec="seconds")
    written = _PERIOD_FORMATS[state.isnotai_period_format].format(moment.date().isoformat())
    if moment.time() == time():
        return written
    if "T" not in written:  # an hour cannot be written as a bare date
        return moment.isoformat(timespec="seconds")
    return written.replace("T00:00:00", moment.strftime("T%H:%M:%S"))


def _hours(value: int, level: bool) -> list[int]:
    """Split a day's value into 24 hourly values that add up to it exactly (a level repeats)."""
    if level:
        return [value] * 24
    return [value * (hour + 1) // 24 - value * hour // 24 for hour in range(24)]


def _served(
    series: dict[str, dict[date, int]], query: UsageQuery, state: SimulatorState
) -> dict[str, dict[date, int]]:
    """Return what the records hold per day: hours outside the range are not served."""
    if state.isnotai_granularity != "hour":
        return series
    levels = _levels(state)
    served: dict[str, dict[date, int]] = {}
    for metric, by_day in series.items():
        served[metric] = {}
        for day, value in by_day.items():
            parts = [p for _, p in _labelled(day, value, metric in levels, query, state)]
            if parts:
                served[metric][day] = parts[-1] if metric in levels else sum(parts)
    return served


def _labelled(day: date, value: int, level: bool, query: UsageQuery, state: SimulatorState):
    """Yield (label, value) for one served day at the configured granularity."""
    if state.isnotai_granularity == "month":
        first = day.replace(day=1)
        if state.isnotai_month_label == "month":
            yield first.strftime("%Y-%m"), value
        else:
            yield _PERIOD_FORMATS[state.isnotai_period_format].format(first.isoformat()), value
        return
    midnight = datetime.combine(day, time(), UTC)
    if state.isnotai_granularity == "day":
        yield _stamp(midnight, state), value
        return
    for hour, part in enumerate(_hours(value, level)):
        moment = midnight + timedelta(hours=hour)
        if query.start_at <= moment <= query.end_at:
            yield _stamp(moment, state), part


def _records(
    series: dict[str, dict[date, int]], query: UsageQuery, state: SimulatorState
) -> list[dict]:
    """Lay the served series out as data records, ordered by period then metric."""
    spell = _METRIC_CASES[state.isnotai_metric_case]
    levels = _levels(state)
    buckets: dict[str, dict[str, int]] = {}
    for metric, by_day in series.items():
        level = metric in levels
        for day, value in by_day.items():  # days ascend, so a level's last day wins
            for label, part in _labelled(day, value, level, query, state):
                bucket = buckets.setdefault(label, {})
                bucket[metric] = part if level else bucket.get(metric, 0) + part
    return [
        {"period": label, "metricType": spell(metric), "value": _written(bucket[metric], state)}
        for label, bucket in buckets.items()
        for metric in series
        if metric in bucket
    ]


def _totals(series: dict[str, dict[date, int]], state: SimulatorState) -> dict:
    """Summarise the served series in the configured totals style."""
    style, levels = state.isnotai_totals, _levels(state)
    if style == "none":
        return {}
    if style == "unknown":
        flows = (by_day for metric, by_day in series.items() if metric not in levels)
        return {"total": _written(sum(sum(by_day.values()) for by_day in flows), state)}
    totals = {}
    for metric, by_day in series.items():
        last = by_day[max(by_day)] if by_day else 0
        value = last if metric in levels else sum(by_day.values())
        key = metric[0].lower() + metric[1:] if style == "camel" else metric
        totals[key] = _written(value, state)
    return totals


def usage_body(integration: DemoIntegration, query: UsageQuery, state: SimulatorState) -> dict:
    """Build the 200 body of /v1/usage."""
    metrics = query.metrics
    if state.isnotai_extra_metric and not query.filtered:
        metrics = (*metrics, EXTRA_METRIC)
    today = state.current_day()
    first_kept = today - timedelta(days=TIER_WINDOW_DAYS[integration.tier] - 1)
    end = query.end
    if state.isnotai_window == "empty" and query.start < first_kept:
        end = query.start - timedelta(days=1)  # serves no day at all
    series = isnotai_expected(
        integration.name,
        query.start,
        end,
        today=today,
        metrics=metrics,
        big=state.isnotai_values in ("big", "big-string"),
    )
    return {
        "startDate": dotnet_date(query.start),
        "endDate": dotnet_date(query.end),
        "data": _records(series, query, state),
        "totals": _totals(_served(series, query, state), state),
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
            query = parse_query(request.args, state.current_day(), state.isnotai_date_params)
        except ValueError as exc:
            field, message = exc.args
            # `details` is optional in the docs: the unnamed reading leaves it out.
            named = state.isnotai_date_params != "strict-unnamed"
            details = {"field": field} if named else None
            return error_response(400, "VALIDATION_ERROR", message, details=details)
        return json_response(usage_body(integration, query, state))

    @blueprint.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown(rest: str) -> Response:
        return error_response(404, *_FAULT_ERRORS["404"])

    return blueprint
