"""The isnotai client against the simulator: parsing, regions, tiers and every error path."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pytest

from clients.errors import (
    AuthenticationFailed,
    BadResponse,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from clients.isnotai import METRICS, history_start, parse_period, parse_usage
from simulators.data import isnotai_expected, isnotai_integration

ACME = isnotai_integration("acme")  # us, pro
GLOBEX = isnotai_integration("globex")  # eu, enterprise
INITECH = isnotai_integration("initech")  # us, free


def today() -> date:
    return datetime.now(UTC).date()


def usage_calls(sims) -> list[dict]:
    return [c for c in sims.state.calls() if c["path"].endswith("/v1/usage")]


# -- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-10", datetime(2026, 6, 10, tzinfo=UTC)),
        ("2026-06-10T00:00:00.0000000+00:00", datetime(2026, 6, 10, tzinfo=UTC)),
        ("2026-06-10T00:00:00Z", datetime(2026, 6, 10, tzinfo=UTC)),
        ("2026-06-10T00:00:00", datetime(2026, 6, 10, tzinfo=UTC)),
        ("2026-06-10T00:00:00.123Z", datetime(2026, 6, 10, 0, 0, 0, 123000, tzinfo=UTC)),
        # A stamped period is its UTC instant, whatever date it was written with.
        ("2026-06-10T23:00:00.123456789-07:00", datetime(2026, 6, 11, 6, 0, 0, 123456, UTC)),
        ("2026-06-10T01:00:00+02:00", datetime(2026, 6, 9, 23, tzinfo=UTC)),
        ("2026-06", datetime(2026, 6, 1, tzinfo=UTC)),
    ],
)
def test_period_formats_are_read_as_utc_instants(text, expected):
    assert parse_period(text)[0] == expected


# How the response writes its dates is left open; that it writes them is not.
DATES = {"startDate": "2026-06-10T00:00:00.0000000+00:00", "endDate": "2026-06-11"}


def test_parse_normalises_metric_case_and_keeps_unknown_types():
    body = {
        **DATES,
        "data": [
            {"period": "2026-06-10", "metricType": "apicalls", "value": 5},
            {"period": "2026-06-10", "metricType": "STORAGEBYTES", "value": 100},
            {"period": "2026-06-10", "metricType": "WebhookDeliveries", "value": 7},
            {"period": "2026-06-11", "metricType": "ApiCalls", "value": 6},
            {"period": "2026-06-11", "metricType": "storageBytes", "value": 150},
        ],
        "totals": {},
    }
    usage = parse_usage(body, "us", "pro", date(2026, 6, 10), date(2026, 6, 11))
    assert [p.value for p in usage.series("ApiCalls")] == [5, 6]
    assert usage.unknown_metrics == ("WebhookDeliveries",)
    assert usage.totals["ApiCalls"] == 11
    # A level: the last reading, never the sum.
    assert usage.totals["StorageBytes"] == 150


def test_parse_reads_totals_case_insensitively_but_never_for_a_level():
    body = {
        **DATES,
        "data": [
            {"period": "2026-06-10", "metricType": "Events", "value": 1},
            {"period": "2026-06-10", "metricType": "StorageBytes", "value": 10},
            {"period": "2026-06-11", "metricType": "StorageBytes", "value": 12},
        ],
        "totals": {"EVENTS": 999, "storagebytes": 22, "total": 5},
    }
    usage = parse_usage(body, "eu", None, date(2026, 6, 10), date(2026, 6, 11))
    assert usage.totals["Events"] == 999  # the upstream's own total wins for a flow
    assert usage.totals["StorageBytes"] == 12


def test_hourly_periods_fold_into_days():
    body = {  # without totals, as the documentation allows
        **DATES,
        "data": [
            {"period": "2026-06-10T01:00:00Z", "metricType": "Sessions", "value": 2},
            {"period": "2026-06-10T02:00:00Z", "metricType": "Sessions", "value": 3},
            {"period": "2026-06-10T01:00:00Z", "metricType": "StorageBytes", "value": 50},
            {"period": "2026-06-10T02:00:00Z", "metricType": "StorageBytes", "value": 40},
        ],
    }
    usage = parse_usage(body, "us", "pro", date(2026, 6, 10), date(2026, 6, 10))
    assert [p.value for p in usage.series("Sessions")] == [5]
    assert [p.value for p in usage.series("StorageBytes")] == [40]


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"items": []},
        # The oversized fault's body: empty data, but none of the documented dates.
        {"data": [], "padding": "x" * 100},
        {"startDate": "2026-06-10", "data": []},
        {"startDate": "2026-06-10", "endDate": None, "data": []},
        {**DATES, "data": [{"period": "yesterday", "metricType": "Events", "value": 1}]},
        {**DATES, "data": [{"period": "2026-06-10", "metricType": "Events", "value": "many"}]},
        {**DATES, "data": [{"period": "2026-06-10", "metricType": "Events", "value": 1.5}]},
        {**DATES, "data": [{"period": "2026-06-10", "value": 1}]},
        {**DATES, "data": [], "totals": []},
    ],
)
def test_wrong_shapes_are_bad_responses(body):
    with pytest.raises(BadResponse):
        parse_usage(body, "us", "pro", date(2026, 6, 10), date(2026, 6, 10))


def test_history_windows_per_tier():
    day = date(2026, 11, 21)
    assert history_start("free", day) == date(2026, 11, 15)
    assert history_start("PRO", day) == day - timedelta(days=29)
    assert history_start("enterprise", day) < date(2019, 12, 1)
    assert history_start("platinum", day) is None


# -- over HTTP -------------------------------------------------------------------------


@pytest.mark.parametrize("integration", [ACME, GLOBEX], ids=["us", "eu"])
def test_both_regions_return_the_simulators_numbers(isnotai, integration):
    end = today() - timedelta(days=1)
    start = end - timedelta(days=9)
    result = isnotai.usage(integration.key, integration.region, start, end)
    expected = isnotai_expected(integration.name, start, end)
    assert result.source == "upstream"
    assert result.value.tier == integration.tier
    for metric in METRICS:
        got = {p.period: p.value for p in result.value.series(metric)}
        assert got == expected[metric], metric
    flows = [m for m in METRICS if m != "StorageBytes"]
    for metric in flows:
        assert result.value.totals[metric] == sum(expected[metric].values())
    assert result.value.totals["StorageBytes"] == expected["StorageBytes"][end]


def test_one_metric_is_sent_canonically(isnotai, sims):
    end = today()
    result = isnotai.usage(ACME.key, "us", end - timedelta(days=2), end, metric="botanalyses")
    assert {p.metric for p in result.value.points} == {"BotAnalyses"}
    assert usage_calls(sims)[-1]["query"]["metric"] == "BotAnalyses"


@pytest.mark.parametrize(
    ("variant", "value"),
    [
        ("isnotai_period_format", "date"),
        ("isnotai_period_format", "zulu"),
        ("isnotai_period_format", "naive"),
        ("isnotai_period_format", "fractional"),
        ("isnotai_metric_case", "lower"),
        ("isnotai_metric_case", "upper"),
        ("isnotai_totals", "canonical"),
        ("isnotai_totals", "none"),
        ("isnotai_totals", "unknown"),
    ],
)
def test_every_answer_variant_parses_to_the_same_numbers(isnotai, sims, variant, value):
    end = today() - timedelta(days=2)
    start = end - timedelta(days=5)
    sims.state.update(**{variant: value})
    result = isnotai.usage(ACME.key, "us", start, end)
    expected = isnotai_expected("acme", start, end)
    assert {p.period: p.value for p in result.value.series("Events")} == expected["Events"]
    assert result.value.totals["Events"] == sum(expected["Events"].values())
    assert result.value.totals["StorageBytes"] == expected["StorageBytes"][end]


def test_monthly_periods_and_unknown_metrics(isnotai, sims):
    sims.state.update(isnotai_granularity="month", isnotai_extra_metric=True)
    end = today()
    result = isnotai.usage(GLOBEX.key, "eu", end - timedelta(days=80), end)
    assert {p.granularity for p in result.value.points} == {"month"}
    assert "WebhookDeliveries" in result.value.unknown_metrics
    assert all(p.period.day == 1 for p in result.value.points)


def test_free_tier_window_leaves_early_days_empty(isnotai):
    end = today()
    start = end - timedelta(days=20)
    result = isnotai.usage(INITECH.key, "us", start, end)
    first_kept = result.value.history_start(end)
    assert first_kept == end - timedelta(days=6)
    periods = {p.period for p in result.value.points}
    assert periods and min(periods) >= first_kept


def test_wrong_region_key_is_refused_with_a_readable_message(isnotai):
    with pytest.raises(AuthenticationFailed) as caught:
        isnotai.usage(ACME.key, "eu", today() - timedelta(days=1), today())
    error = caught.value
    assert error.status == 401 and error.code == "INVALID_API_KEY"
    assert "other region" in error.message
    assert ACME.key not in str(error) and ACME.key[7:] not in str(error)


def test_unknown_key_is_refused(isnotai):
    bogus = "aik_v1_" + "A" * 40
    with pytest.raises(AuthenticationFailed):
        isnotai.usage(bogus, "us", today() - timedelta(days=1), today())


def test_validation_error_names_the_field(isnotai, sims):
    sims.state.add_fault("isnotai-us", "400", field="metric", message="metric is unknown")
    with pytest.raises(InvalidRequest) as caught:
        isnotai.usage(ACME.key, "us", today() - timedelta(days=3), today(), metric="Events")
    assert caught.value.field == "metric"
    assert caught.value.code == "VALIDATION_ERROR"
    assert "metric" in caught.value.message
    assert len(usage_calls(sims)) == 1  # not a date form: nothing to retry


@pytest.mark.parametrize(
    ("kind", "error", "words"),
    [
        ("403", PermissionDenied, "may not read"),
        ("404", NotFound, "no usage resource"),
        ("401", AuthenticationFailed, "refused the API key"),
    ],
)
def test_client_errors_are_typed_and_not_retried(isnotai, sims, kind, error, words):
    sims.state.add_fault("isnotai-us", kind)
    with pytest.raises(error) as caught:
        isnotai.usage(ACME.key, "us", today() - timedelta(days=1), today())
    assert words in caught.value.message
    assert len(usage_calls(sims)) == 1


def test_short_retry_after_is_honoured(isnotai, sims):
    sims.state.add_fault("isnotai-us", "429", times=1, retry_after=1)
    started = time.monotonic()
    result = isnotai.usage(ACME.key, "us", today() - timedelta(days=1), today())
    assert result.source == "upstream"
    assert [c["status"] for c in usage_calls(sims)] == [429, 200]
    assert time.monotonic() - started >= 0.9  # it waited as asked


def test_long_retry_after_is_surfaced(isnotai, sims):
    sims.state.add_fault("isnotai-us", "429", retry_after=120)
    with pytest.raises(RateLimited) as caught:
        isnotai.usage(ACME.key, "us", today() - timedelta(days=1), today())
    assert caught.value.retry_after == 120
    assert "rate limited" in caught.value.message and "retry in 120 s" in caught.value.message
    assert len(usage_calls(sims)) == 1


def test_rate_limit_without_retry_after(isnotai, sims):
    sims.state.add_fault("isnotai-us", "429")
    with pytest.raises(RateLimited) as caught:
        isnotai.usage(ACME.key, "us", today() - timedelta(days=1), today())
    assert caught.value.retry_after is None
    assert "retry in a minute" in caught.value.message


def test_real_rate_limit_of_the_free_tier(isnotai, sims):
    sims.state.update(rate_limits=True)
    end = today()
    with pytest.raises(RateLimited) as caught:
        # Distinct requests inside the 7-day window, so the cache cannot answer.
        for metric in (None, *METRICS):
            for back in range(7):
                for length in range(back + 1):
                    start = end - timedelta(days=back)
                    isnotai.usage(INITECH.key, "us", start, start + timedelta(days=length), metric)
    assert caught.value.status == 429
    assert len(usage_calls(sims)) >= 60


@pytest.mark.parametrize("kind", ["500", "502", "503", "html", "malformed"])
def test_transient_failures_are_retried(isnotai, sims, kind):
    sims.state.add_fault("isnotai-us", kind, times=2)
    result = isnotai.usage(ACME.key, "us", today() - timedelta(days=1), today())
    assert result.source == "upstream"
    assert len(usage_calls(sims)) == 3


@pytest.mark.parametrize(
    ("kind", "error"),
    [("503", UpstreamUnavailable), ("html", UpstreamUnavailable), ("malformed", BadResponse)],
)
def test_persistent_failures_end_within_the_deadline(isnotai, sims, policy, kind, error):
    sims.state.add_fault("isnotai-us", kind)
    started = time.monotonic()
    with pytest.raises(error) as caught:
        isnotai.usage(ACME.key, "us", today() - timedelta(days=1), today())
    assert time.monotonic() - started < policy.deadline + 1
    assert len(usage_calls(sims)) > 1
    assert "isnotai" in caught.value.message


def test_wrong_shape_is_not_retried(isnotai, sims):
    sims.state.add_fault("isnotai-us", "wrong-shape")
    with pytest.raises(BadResponse) as caught:
        isnotai.usage(ACME.key, "us", today() - timedelta(days=1), today())
    assert "documented usage data" in caught.value.message
    assert len(usage_calls(sims)) == 1


def test_timeout_is_bounded_by_the_deadline(isnotai, sims, policy):
    sims.state.add_fault("isnotai-us", "timeout", hang_seconds=10)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout) as caught:
        isnotai.usage(ACME.key, "us", today() - timedelta(days=1), today())
    elapsed = time.monotonic() - started
    assert elapsed < policy.deadline + 1
    assert elapsed >= policy.read_timeout * 0.9
    assert "did not answer in time" in caught.value.message


def test_unreachable_upstream(upstream):
    from clients.isnotai import IsnotaiClient

    client = IsnotaiClient(upstream, lambda: {"us": "http://127.0.0.1:9", "eu": ""}, "dead")
    with pytest.raises(UpstreamUnavailable) as caught:
        client.usage(ACME.key, "us", today() - timedelta(days=1), today())
    assert "could not connect" in caught.value.message


def test_bad_arguments_are_refused_before_any_call(isnotai, sims):
    with pytest.raises(ValueError, match="region"):
        isnotai.usage(ACME.key, "apac", today(), today())
    with pytest.raises(ValueError, match="unknown metric"):
        isnotai.usage(ACME.key, "us", today(), today(), metric="Bytes")
    with pytest.raises(ValueError, match="after"):
        isnotai.usage(ACME.key, "us", today(), today() - timedelta(days=3))
    assert usage_calls(sims) == []


# -- what the documentation leaves open ------------------------------------------------


@pytest.mark.parametrize(
    "spelled", ["api_calls", "API_CALLS", "api-calls", "Api Calls", "apicalls", " ApiCalls "]
)
def test_metric_types_match_whatever_their_spelling(spelled):
    body = {**DATES, "data": [{"period": "2026-06-10", "metricType": spelled, "value": 3}]}
    usage = parse_usage(body, "us", "pro", date(2026, 6, 10), date(2026, 6, 10))
    assert usage.series("ApiCalls")[0].value == 3 and usage.unknown_metrics == ()


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (2**53 + 1, 2**53 + 1),
        (str(2**63 - 1), 2**63 - 1),
        (" 42 ", 42),
        ("-7", -7),
        (5.0, 5),
    ],
)
def test_int64_values_stay_exact(raw, value):
    from clients.isnotai import int_value

    assert int_value(raw) == value and type(int_value(raw)) is int


@pytest.mark.parametrize("raw", ["1e3", "4.0", "", "0x10", True, float(2**53 + 2), None, [1]])
def test_values_that_are_not_exact_integers_are_refused(raw):
    from clients.isnotai import int_value

    with pytest.raises(ValueError):
        int_value(raw)


def test_big_values_and_their_totals_are_never_rounded():
    big = 2**53 + 1
    body = {
        **DATES,
        "data": [
            {"period": "2026-06-10", "metricType": "Events", "value": big},
            {"period": "2026-06-11", "metricType": "Events", "value": str(big)},
        ],
        "totals": {"events": str(2 * big)},
    }
    usage = parse_usage(body, "us", "pro", date(2026, 6, 10), date(2026, 6, 11))
    assert [p.value for p in usage.series("Events")] == [big, big]
    assert usage.totals["Events"] == 2 * big


@pytest.mark.parametrize(
    "periods",
    [
        ["2026-05", "2026-06"],
        ["2026-05-01", "2026-06-01"],
        ["2026-05-01T00:00:00Z", "2026-06-01T00:00:00.0000000+00:00"],
        ["2026-05-01T00:00:00+02:00", "2026-06-01T00:00:00-08:00"],  # the month as written
    ],
)
def test_monthly_answers_are_recognised_however_a_month_is_written(periods):
    body = {
        **DATES,
        "data": [{"period": p, "metricType": "Events", "value": 10} for p in periods],
    }
    usage = parse_usage(body, "us", "pro", date(2026, 5, 20), date(2026, 6, 10))
    assert usage.granularity == "month"
    assert [p.period for p in usage.points] == [date(2026, 5, 1), date(2026, 6, 1)]


def test_a_daily_answer_is_not_mistaken_for_a_monthly_one():
    body = {
        **DATES,
        "data": [
            {"period": f"2026-06-0{day}", "metricType": "Events", "value": 1} for day in (1, 2)
        ],
    }
    usage = parse_usage(body, "us", "pro", date(2026, 6, 1), date(2026, 6, 2))
    assert usage.granularity == "day"


def test_stamped_periods_are_bucketed_by_their_utc_day():
    body = {
        **DATES,
        "data": [
            {"period": "2026-06-09T16:00:00-08:00", "metricType": "Events", "value": 1},
            {"period": "2026-06-11T01:00:00+02:00", "metricType": "Events", "value": 2},
            {"period": "2026-06-10", "metricType": "Events", "value": 4},
        ],
    }
    usage = parse_usage(body, "us", "pro", date(2026, 6, 10), date(2026, 6, 11))
    assert [(p.period, p.value) for p in usage.series("Events")] == [(date(2026, 6, 10), 7)]


def test_storage_read_as_a_flow_is_summed(upstream, sims):
    from clients.isnotai import IsnotaiClient, level_metrics

    sims.state.isnotai_storage = "flow"  # bytes written per day
    client = IsnotaiClient(
        upstream, lambda: {"us": sims.isnotai_us_url, "eu": ""}, "flow", storage="flow"
    )
    end = today() - timedelta(days=1)
    start = end - timedelta(days=4)
    result = client.usage(ACME.key, "us", start, end, metric="StorageBytes")
    expected = isnotai_expected("acme", start, end)["StorageBytes"]
    assert result.value.totals["StorageBytes"] == sum(expected.values())
    assert result.value.levels == frozenset() and level_metrics("level") == {"StorageBytes"}
    with pytest.raises(ValueError, match="storage"):
        level_metrics("stock")


def test_strict_regions_get_date_times_after_one_400_logged_once(isnotai, sims, caplog):
    sims.state.isnotai_date_params = "strict"
    end = today() - timedelta(days=1)
    start = end - timedelta(days=4)
    first = isnotai.usage(ACME.key, "us", start, end)
    calls = usage_calls(sims)
    assert [c["status"] for c in calls] == [400, 200]
    assert calls[1]["query"]["startDate"] == f"{start}T00:00:00Z"
    assert calls[1]["query"]["endDate"] == f"{end}T23:59:59.999Z"
    assert {p.period for p in first.value.series("Events")} == set(
        isnotai_expected("acme", start, end)["Events"]
    )
    # Remembered for the region: the next read sends date-times at once.
    isnotai.usage(ACME.key, "us", start - timedelta(days=1), end)
    assert [c["status"] for c in usage_calls(sims)] == [400, 200, 200]
    assert isnotai.sends_datetimes("us") and not isnotai.sends_datetimes("eu")
    switched = [r for r in caplog.records if "as date-times" in r.getMessage()]
    assert len(switched) == 1


def test_a_400_naming_no_field_tries_date_times_and_otherwise_stands(isnotai, sims):
    end = today() - timedelta(days=1)
    start = end - timedelta(days=4)
    sims.state.isnotai_date_params = "strict-unnamed"
    isnotai.usage(ACME.key, "us", start, end)
    assert [c["status"] for c in usage_calls(sims)] == [400, 200]
    assert isnotai.sends_datetimes("us")
    # A 400 that is not about the dates stands, and the region keeps its date form.
    sims.state.add_fault("isnotai-eu", "400", message="no such integration")
    with pytest.raises(InvalidRequest, match="no such integration"):
        isnotai.usage(GLOBEX.key, "eu", start, end)
    assert not isnotai.sends_datetimes("eu")


def test_hours_stopping_at_midnight_switch_the_region_to_date_times(isnotai, sims):
    sims.state.update(isnotai_date_params="instant", isnotai_granularity="hour")
    end = today() - timedelta(days=1)
    start = end - timedelta(days=2)
    result = isnotai.usage(GLOBEX.key, "eu", start, end)
    expected = isnotai_expected("globex", start, end)
    assert {p.period: p.value for p in result.value.series("Events")} == expected["Events"]
    assert isnotai.sends_datetimes("eu") and len(usage_calls(sims)) == 2


def test_the_start_sent_is_clamped_to_the_plans_window(isnotai, sims):
    sims.state.isnotai_window = "empty"  # the literal reading: an early start empties all
    end = today()
    first_kept = end - timedelta(days=6)
    result = isnotai.usage(INITECH.key, "us", end - timedelta(days=20), end)
    assert result.value.available_from == first_kept
    assert result.value.start == end - timedelta(days=20)
    assert min(p.period for p in result.value.points) == first_kept
    assert usage_calls(sims)[-1]["query"]["startDate"] == first_kept.isoformat()
    # The tier is known now: the next read is clamped before it is sent, and a range
    # wholly before the window costs no call at all.
    before = len(usage_calls(sims))
    isnotai.usage(INITECH.key, "us", end - timedelta(days=10), end - timedelta(days=1))
    assert [c["query"]["startDate"] for c in usage_calls(sims)[before:]] == [str(first_kept)]
    early = isnotai.usage(INITECH.key, "us", end - timedelta(days=30), end - timedelta(days=10))
    assert early.value.points == () and early.value.totals == {}
    assert len(usage_calls(sims)) == before + 1


def test_int64_values_survive_the_cache_store(isnotai, sims, cache_url, policy, clock, test_secret):
    from clients.cached_http import CachedUpstream
    from clients.isnotai import IsnotaiClient

    sims.state.isnotai_values = "big"
    end = today() - timedelta(days=1)
    start = end - timedelta(days=2)
    isnotai.usage(ACME.key, "us", start, end)
    http = CachedUpstream(cache_url, test_secret, policy, clock=clock)  # no shared memory
    try:
        urls = {"us": sims.isnotai_us_url, "eu": sims.isnotai_eu_url}
        again = IsnotaiClient(http, lambda: urls, "test:isnotai").usage(ACME.key, "us", start, end)
    finally:
        http.close()
    assert again.source == "cache"
    expected = isnotai_expected("acme", start, end, big=True)["Events"]
    assert {p.period: p.value for p in again.value.series("Events")} == expected
    assert again.value.totals["Events"] == sum(expected.values())
