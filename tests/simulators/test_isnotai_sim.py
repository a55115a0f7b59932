"""Test the isnotai simulator over real HTTP on loopback."""

from __future__ import annotations

import re
import threading
import time
from datetime import date, datetime, timedelta

import pytest
import requests

from simulators import start_simulators
from simulators.data import (
    ISNOTAI_INTEGRATIONS,
    METRICS,
    TIER_WINDOW_DAYS,
    demo_key,
    isnotai_daily,
    isnotai_expected,
    isnotai_integration,
)

TODAY = date(2026, 6, 10)  # frozen so window and default-range tests never straddle midnight
ACME = isnotai_integration("acme")  # us, pro
GLOBEX = isnotai_integration("globex")  # eu, enterprise
INITECH = isnotai_integration("initech")  # us, free
TIMEOUT = 10


def base_url(sims, region: str) -> str:
    return sims.isnotai_us_url if region == "us" else sims.isnotai_eu_url


def get_usage(http, sims, integration, *, region=None, via="bearer", headers=None, **params):
    """Call /v1/usage with an integration's key (region defaults to the key's own)."""
    sent = dict(headers or {})
    if via == "bearer":
        sent["Authorization"] = f"Bearer {integration.key}"
    elif via == "x-api-key":
        sent["x-api-key"] = integration.key
    url = base_url(sims, region or integration.region) + "/v1/usage"
    return http.get(url, headers=sent, params=params, timeout=TIMEOUT)


def dotnet(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.0000000+00:00"


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str)
    return error


# --- keys, regions, auth -----------------------------------------------------------


def test_demo_keys_are_47_char_base64url_and_deterministic():
    assert {item.name for item in ISNOTAI_INTEGRATIONS} >= {"acme", "globex", "initech"}
    for item in ISNOTAI_INTEGRATIONS:
        assert re.fullmatch(r"aik_v1_[A-Za-z0-9_-]{40}", item.key)
        assert len(item.key) == 47
        assert item.key == demo_key(item.name)
    assert len({item.key for item in ISNOTAI_INTEGRATIONS}) == len(ISNOTAI_INTEGRATIONS)
    assert (ACME.region, ACME.tier) == ("us", "pro")
    assert (GLOBEX.region, GLOBEX.tier) == ("eu", "enterprise")
    assert (INITECH.region, INITECH.tier) == ("us", "free")


@pytest.mark.parametrize("region", ["us", "eu"])
def test_health_needs_no_auth(http, sims, region):
    response = http.get(base_url(sims, region) + "/health", timeout=TIMEOUT)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"] == "sim-1"
    assert datetime.fromisoformat(body["timestamp"]).tzinfo is not None
    assert "x-isnotai-tier" not in response.headers


@pytest.mark.parametrize("integration", ISNOTAI_INTEGRATIONS, ids=lambda item: item.name)
def test_each_key_works_in_its_own_region(http, sims, integration):
    response = get_usage(http, sims, integration)
    assert response.status_code == 200
    assert response.headers["x-isnotai-tier"] == integration.tier


@pytest.mark.parametrize(("integration", "region"), [(ACME, "eu"), (INITECH, "eu"), (GLOBEX, "us")])
def test_key_from_other_region_is_401(http, sims, integration, region):
    response = get_usage(http, sims, integration, region=region)
    assert_envelope(response, 401, "INVALID_API_KEY")
    assert "x-isnotai-tier" not in response.headers


def test_x_api_key_is_accepted(http, sims):
    response = get_usage(http, sims, ACME, via="x-api-key")
    assert response.status_code == 200
    assert response.headers["x-isnotai-tier"] == "pro"


def test_bearer_wins_over_x_api_key(http, sims):
    both_valid = get_usage(http, sims, INITECH, headers={"x-api-key": ACME.key})
    assert both_valid.headers["x-isnotai-tier"] == "free"  # initech's Bearer, not acme's header
    bad_bearer = get_usage(
        http, sims, ACME, via=None, headers={"Authorization": "Bearer nope", "x-api-key": ACME.key}
    )
    assert_envelope(bad_bearer, 401, "INVALID_API_KEY")


def test_non_bearer_authorization_falls_back_to_x_api_key(http, sims):
    headers = {"Authorization": "Basic dXNlcjpwYXNz", "x-api-key": ACME.key}
    assert get_usage(http, sims, ACME, via=None, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer aik_v1_short"},
        {"Authorization": f"Bearer {ACME.key[:-1]}"},
        {"Authorization": f"Bearer {ACME.key}A"},
        {"Authorization": f"Bearer aik_v2_{ACME.key[7:]}"},
        {"Authorization": f"Bearer {ACME.key[:-1]}+"},
        {"Authorization": "Bearer aik_v1_" + "A" * 40},  # well formed, unknown
        {"x-api-key": "aik_v1_" + "B" * 40},
        {"Authorization": f"Basic {ACME.key}"},
    ],
    ids=lambda headers: repr(headers)[:40],
)
def test_missing_malformed_or_unknown_key_is_401(http, sims, headers):
    response = get_usage(http, sims, ACME, via=None, headers=headers)
    assert_envelope(response, 401, "INVALID_API_KEY")
    assert "x-isnotai-tier" not in response.headers


# --- data ----------------------------------------------------------------------------


def test_body_matches_the_oracle_in_order(http, sims):
    start, end = date(2026, 6, 1), date(2026, 6, 10)
    body = get_usage(http, sims, ACME, startDate=start, endDate=end).json()
    assert body["startDate"] == dotnet(start)
    assert body["endDate"] == dotnet(end)
    expected = isnotai_expected("acme", start, end, today=TODAY)
    records = [
        {"period": dotnet(day), "metricType": metric, "value": expected[metric][day]}
        for day in sorted(expected["ApiCalls"])
        for metric in METRICS
    ]
    assert body["data"] == records
    assert len(records) == 10 * 5
    assert body["totals"] == {
        "apiCalls": sum(expected["ApiCalls"].values()),
        "events": sum(expected["Events"].values()),
        "sessions": sum(expected["Sessions"].values()),
        "storageBytes": expected["StorageBytes"][end],
        "botAnalyses": sum(expected["BotAnalyses"].values()),
    }


def test_values_are_plausible_and_deterministic():
    day = date(2026, 6, 10)
    assert isnotai_daily("acme", "ApiCalls", day) == isnotai_daily("acme", "apicalls", day)
    assert 1_000 <= isnotai_daily("acme", "ApiCalls", day) < 100_000
    assert 50 <= isnotai_daily("acme", "Events", day) < 2_000
    assert 10 <= isnotai_daily("acme", "Sessions", day) < 1_000
    assert 1 <= isnotai_daily("acme", "BotAnalyses", day) < 200
    assert 100 * 2**20 <= isnotai_daily("acme", "StorageBytes", day) < 20 * 2**30
    week = [isnotai_daily("globex", "ApiCalls", day - timedelta(days=n)) for n in range(7)]
    assert len(set(week)) == 7


def test_defaults_are_thirty_days_back_from_today(http, sims):
    body = get_usage(http, sims, ACME, metric="ApiCalls").json()
    assert body["startDate"] == dotnet(TODAY - timedelta(days=30))
    assert body["endDate"] == dotnet(TODAY)
    periods = [record["period"] for record in body["data"]]
    assert periods[-1] == dotnet(TODAY)
    assert len(periods) == 30  # pro keeps 30 days: the 31st day back is outside the window


@pytest.mark.parametrize("integration", ISNOTAI_INTEGRATIONS, ids=lambda item: item.name)
def test_history_window_per_tier(http, sims, integration):
    window = TIER_WINDOW_DAYS[integration.tier]
    start = TODAY - timedelta(days=3_000)
    body = get_usage(
        http, sims, integration, startDate=start, endDate=TODAY, metric="ApiCalls"
    ).json()
    periods = [record["period"] for record in body["data"]]
    assert len(periods) == window
    assert periods[0] == dotnet(TODAY - timedelta(days=window - 1))
    assert body["startDate"] == dotnet(start)  # echoes the request, not the window


def test_window_sizes():
    assert TIER_WINDOW_DAYS == {"free": 7, "pro": 30, "enterprise": 2557}


def test_range_before_the_window_is_empty_not_an_error(http, sims):
    response = get_usage(
        http, sims, INITECH, startDate=TODAY - timedelta(days=60), endDate=TODAY - timedelta(days=8)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == []
    assert body["totals"] == {
        "apiCalls": 0,
        "events": 0,
        "sessions": 0,
        "storageBytes": 0,
        "botAnalyses": 0,
    }


def test_days_after_today_have_no_data(http, sims):
    body = get_usage(
        http, sims, ACME, startDate=TODAY - timedelta(days=1), endDate=TODAY + timedelta(days=5)
    ).json()
    assert {record["period"] for record in body["data"]} == {
        dotnet(TODAY - timedelta(days=1)),
        dotnet(TODAY),
    }
    assert body["endDate"] == dotnet(TODAY + timedelta(days=5))


def test_date_time_parameters_count_as_their_utc_date(http, sims):
    body = get_usage(
        http,
        sims,
        ACME,
        startDate="2026-06-08T23:30:00-05:00",  # 2026-06-09 04:30 UTC
        endDate="2026-06-09T00:00:00.0000000+00:00",
        metric="Sessions",
    ).json()
    assert body["startDate"] == dotnet(date(2026, 6, 9))
    assert [record["period"] for record in body["data"]] == [dotnet(date(2026, 6, 9))]


def test_metric_filter_is_case_insensitive(http, sims):
    body = get_usage(
        http, sims, ACME, startDate="2026-06-01", endDate="2026-06-03", metric="sToRaGeByTeS"
    ).json()
    assert {record["metricType"] for record in body["data"]} == {"StorageBytes"}
    level = isnotai_daily("acme", "StorageBytes", date(2026, 6, 3))
    assert body["totals"] == {"storageBytes": level}  # a level: the last day, never a sum


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"startDate": "yesterday"}, "startDate"),
        ({"startDate": "2026-02-30"}, "startDate"),
        ({"endDate": "2026-13-01"}, "endDate"),
        ({"startDate": "2026-06-05", "endDate": "2026-06-04"}, "startDate"),
        ({"metric": "Bogus"}, "metric"),
        ({"metric": "WebhookDeliveries"}, "metric"),
    ],
)
def test_validation_errors_name_the_field(http, sims, params, field):
    response = get_usage(http, sims, ACME, **params)
    error = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert error["details"] == {"field": field}
    assert response.headers["x-isnotai-tier"] == "pro"  # errors to a valid key carry the tier


def test_empty_parameters_count_as_absent(http, sims):
    body = get_usage(http, sims, ACME, startDate="", endDate="", metric="").json()
    assert body["endDate"] == dotnet(TODAY)


# --- variants ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "period"),
    [
        ("dotnet", "2026-06-10T00:00:00.0000000+00:00"),
        ("date", "2026-06-10"),
        ("zulu", "2026-06-10T00:00:00Z"),
        ("naive", "2026-06-10T00:00:00"),
        ("fractional", "2026-06-10T00:00:00.123Z"),
    ],
)
def test_period_formats(http, sims, variant, period):
    sims.state.isnotai_period_format = variant
    body = get_usage(http, sims, ACME, startDate=TODAY, endDate=TODAY).json()
    assert {record["period"] for record in body["data"]} == {period}
    assert body["startDate"] == dotnet(TODAY)  # the envelope dates stay .NET style


@pytest.mark.parametrize(
    ("variant", "spelled"),
    [
        ("canonical", list(METRICS)),
        ("lower", [m.lower() for m in METRICS]),
        ("upper", [m.upper() for m in METRICS]),
    ],
)
def test_metric_case(http, sims, variant, spelled):
    sims.state.isnotai_metric_case = variant
    body = get_usage(http, sims, ACME, startDate=TODAY, endDate=TODAY).json()
    assert [record["metricType"] for record in body["data"]] == spelled


def test_totals_variants(http, sims):
    start = TODAY - timedelta(days=2)
    expected = isnotai_expected("acme", start, TODAY, today=TODAY)
    flows = {m: sum(v.values()) for m, v in expected.items() if m != "StorageBytes"}
    level = expected["StorageBytes"][TODAY]
    answers = {}
    for variant in ("camel", "canonical", "none", "unknown"):
        sims.state.isnotai_totals = variant
        answers[variant] = get_usage(http, sims, ACME, startDate=start, endDate=TODAY).json()
    assert answers["canonical"]["totals"] == {**flows, "StorageBytes": level}
    assert answers["camel"]["totals"]["apiCalls"] == flows["ApiCalls"]
    assert answers["none"]["totals"] == {}
    assert answers["unknown"]["totals"] == {"total": sum(flows.values())}
    assert {a["data"] == answers["camel"]["data"] for a in answers.values()} == {True}


def test_extra_metric_adds_unknown_records(http, sims):
    sims.state.isnotai_extra_metric = True
    body = get_usage(http, sims, ACME, startDate=TODAY, endDate=TODAY).json()
    types = [record["metricType"] for record in body["data"]]
    assert types == [*METRICS, "WebhookDeliveries"]
    assert body["totals"]["webhookDeliveries"] == isnotai_daily("acme", "WebhookDeliveries", TODAY)
    filtered = get_usage(http, sims, ACME, startDate=TODAY, endDate=TODAY, metric="Events").json()
    assert [record["metricType"] for record in filtered["data"]] == ["Events"]


def test_month_granularity_sums_flows_and_keeps_last_level(http, sims):
    sims.state.isnotai_granularity = "month"
    sims.state.isnotai_period_format = "zulu"  # ignored for months
    start, end = date(2026, 4, 20), date(2026, 6, 10)
    body = get_usage(http, sims, GLOBEX, startDate=start, endDate=end).json()
    expected = isnotai_expected("globex", start, end, today=TODAY)
    periods = ["2026-04", "2026-05", "2026-06"]
    assert [record["period"] for record in body["data"]] == [p for p in periods for _ in METRICS]
    values = {(record["period"], record["metricType"]): record["value"] for record in body["data"]}
    for period in periods:
        month_days = [day for day in expected["ApiCalls"] if day.strftime("%Y-%m") == period]
        assert values[period, "ApiCalls"] == sum(expected["ApiCalls"][d] for d in month_days)
        assert values[period, "StorageBytes"] == expected["StorageBytes"][max(month_days)]


@pytest.mark.parametrize(
    ("variant", "spelled"),
    [
        ("snake", "api_calls"),
        ("upper_snake", "API_CALLS"),
        ("kebab", "api-calls"),
        ("words", "Api Calls"),
    ],
)
def test_metric_spellings(http, sims, variant, spelled):
    sims.state.isnotai_metric_case = variant
    body = get_usage(http, sims, ACME, startDate=TODAY, endDate=TODAY).json()
    assert body["data"][0]["metricType"] == spelled


@pytest.mark.parametrize("label", ["month", "first-day"])
def test_month_labels(http, sims, label):
    sims.state.update(isnotai_granularity="month", isnotai_month_label=label)
    sims.state.isnotai_period_format = "date"
    body = get_usage(http, sims, GLOBEX, startDate="2026-05-20", endDate=TODAY).json()
    periods = sorted({record["period"] for record in body["data"]})
    assert periods == (["2026-05", "2026-06"] if label == "month" else ["2026-05-01", "2026-06-01"])


@pytest.mark.parametrize(
    ("zone", "period"),
    [("+02:00", "2026-06-10T02:00:00+02:00"), ("-08:00", "2026-06-09T16:00:00-08:00")],
)
def test_period_zones_write_the_utc_day_start_at_an_offset(http, sims, zone, period):
    sims.state.isnotai_period_zone = zone
    body = get_usage(http, sims, ACME, startDate=TODAY, endDate=TODAY).json()
    assert {record["period"] for record in body["data"]} == {period}


def test_hours_add_up_to_the_day_and_a_level_repeats(http, sims):
    sims.state.update(isnotai_granularity="hour", isnotai_period_format="zulu")
    body = get_usage(http, sims, ACME, startDate=TODAY, endDate=TODAY).json()
    events = [r for r in body["data"] if r["metricType"] == "Events"]
    assert [r["period"] for r in events] == [f"2026-06-10T{h:02}:00:00Z" for h in range(24)]
    assert sum(r["value"] for r in events) == isnotai_daily("acme", "Events", TODAY)
    storage = {r["value"] for r in body["data"] if r["metricType"] == "StorageBytes"}
    assert storage == {isnotai_daily("acme", "StorageBytes", TODAY)}


def test_strict_date_params_refuse_bare_dates_and_name_the_field(http, sims):
    sims.state.isnotai_date_params = "strict"
    refused = get_usage(http, sims, ACME, startDate="2026-06-09T00:00:00Z", endDate=TODAY)
    assert assert_envelope(refused, 400, "VALIDATION_ERROR")["details"] == {"field": "endDate"}
    whole = get_usage(
        http, sims, ACME, startDate="2026-06-09T00:00:00Z", endDate="2026-06-10T23:59:59.999Z"
    )
    assert len(whole.json()["data"]) == 2 * len(METRICS)


def test_instant_date_params_stop_hours_at_midnight_of_the_last_day(http, sims):
    sims.state.update(isnotai_date_params="instant", isnotai_granularity="hour")
    sims.state.isnotai_period_format = "zulu"
    body = get_usage(http, sims, ACME, startDate="2026-06-09", endDate=TODAY).json()
    periods = sorted({record["period"] for record in body["data"]})
    assert periods[-1] == "2026-06-10T00:00:00Z" and len(periods) == 25
    served = [r["value"] for r in body["data"] if r["metricType"] == "Events"]
    assert body["totals"]["events"] == sum(served)  # totals cover what was served
    whole = get_usage(
        http, sims, ACME, startDate="2026-06-09T00:00:00Z", endDate="2026-06-10T23:59:59.999Z"
    ).json()
    assert len({record["period"] for record in whole["data"]}) == 48


def test_empty_window_reading_serves_nothing_for_an_early_start(http, sims):
    sims.state.isnotai_window = "empty"
    first_kept = TODAY - timedelta(days=TIER_WINDOW_DAYS["free"] - 1)
    early = get_usage(http, sims, INITECH, startDate=first_kept - timedelta(days=1), endDate=TODAY)
    assert early.json()["data"] == []
    inside = get_usage(http, sims, INITECH, startDate=first_kept, endDate=TODAY)
    assert len(inside.json()["data"]) == 7 * len(METRICS)


@pytest.mark.parametrize("values", ["big", "string", "big-string"])
def test_int64_values(http, sims, values):
    sims.state.isnotai_values = values
    body = get_usage(http, sims, ACME, startDate=TODAY, endDate=TODAY, metric="Events").json()
    want = isnotai_daily("acme", "Events", TODAY, big=values != "string")
    raw = body["data"][0]["value"]
    assert raw == (want if values == "big" else str(want))
    assert body["totals"]["events"] == raw
    assert want > 2**53 or values == "string"


def test_storage_as_a_flow_is_summed(http, sims):
    sims.state.update(isnotai_storage="flow", isnotai_granularity="month")
    start = date(2026, 6, 1)
    body = get_usage(http, sims, ACME, startDate=start, endDate=TODAY, metric="StorageBytes")
    days = isnotai_expected("acme", start, TODAY, today=TODAY)["StorageBytes"]
    assert body.json()["data"][0]["value"] == sum(days.values())
    assert body.json()["totals"]["storageBytes"] == sum(days.values())


NEW_SWITCHES = {
    "isnotai_granularity": "hour",
    "isnotai_month_label": "first-day",
    "isnotai_period_zone": "-08:00",
    "isnotai_date_params": "strict",
    "isnotai_window": "empty",
    "isnotai_values": "big-string",
    "isnotai_storage": "flow",
    "isnotai_metric_case": "words",
}


def test_every_answer_switch_is_set_over_http_and_reset(http, sims):
    control = sims.base_url + "/_sim"
    changed = http.put(control + "/settings", json=NEW_SWITCHES, timeout=TIMEOUT)
    assert changed.status_code == 200
    assert {name: changed.json()[name] for name in NEW_SWITCHES} == NEW_SWITCHES
    bad = http.put(control + "/settings", json={"isnotai_values": "float"}, timeout=TIMEOUT)
    assert bad.status_code == 400
    assert http.post(control + "/reset", timeout=TIMEOUT).status_code == 204
    defaults = http.get(control + "/settings", timeout=TIMEOUT).json()
    assert {name: defaults[name] for name in NEW_SWITCHES} == {
        "isnotai_granularity": "day",
        "isnotai_month_label": "month",
        "isnotai_period_zone": "utc",
        "isnotai_date_params": "lenient",
        "isnotai_window": "trim",
        "isnotai_values": "number",
        "isnotai_storage": "level",
        "isnotai_metric_case": "canonical",
    }


def test_settings_reject_unknown_values(sims):
    with pytest.raises(ValueError, match="isnotai_totals"):
        sims.state.isnotai_totals = "bogus"
    with pytest.raises(ValueError, match="unknown settings"):
        sims.state.update(nope=1)


# --- faults --------------------------------------------------------------------------

FAULT_EXPECTATIONS = {  # kind: (status, content type prefix, envelope code or None)
    "500": (500, "application/json", "INTERNAL_ERROR"),
    "502": (502, "application/json", "INTERNAL_ERROR"),
    "503": (503, "application/json", "INTERNAL_ERROR"),
    "429": (429, "application/json", "RATE_LIMITED"),
    "403": (403, "application/json", "FORBIDDEN"),
    "404": (404, "application/json", "NOT_FOUND"),
    "401": (401, "application/json", "INVALID_API_KEY"),
    "html": (502, "text/html", None),
    "malformed": (200, "application/json", None),
    "wrong-shape": (200, "application/json", None),
}


@pytest.mark.parametrize("kind", sorted(FAULT_EXPECTATIONS))
def test_fault_kinds(http, sims, kind):
    status, content_type, code = FAULT_EXPECTATIONS[kind]
    sims.state.add_fault("isnotai-us", kind, times=1)
    response = get_usage(http, sims, ACME)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith(content_type)
    assert response.headers["x-isnotai-tier"] == "pro"
    assert "Retry-After" not in response.headers
    if code:
        assert_envelope(response, status, code)
    if kind == "malformed":
        with pytest.raises(ValueError):
            response.json()
    if kind == "wrong-shape":
        assert response.json() == {"items": []}
    if kind == "html":
        assert "<html>" in response.text
    assert get_usage(http, sims, ACME).status_code == 200  # times=1: gone after one


@pytest.mark.parametrize("kind", ["429", "503"])
def test_fault_retry_after_header_only_when_given(http, sims, kind):
    sims.state.add_fault("isnotai-eu", kind, times=1, retry_after=7)
    response = get_usage(http, sims, GLOBEX)
    assert response.status_code == int(kind)
    assert response.headers["Retry-After"] == "7"


def test_fault_times_counts_requests_then_disappears(http, sims):
    sims.state.add_fault("isnotai-us", "503", times=2)
    statuses = [get_usage(http, sims, ACME).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert [c["status"] for c in sims.state.calls(target="isnotai-us")] == statuses


def test_fault_without_times_lasts_until_cleared(http, sims):
    sims.state.add_fault("isnotai-us", "500")
    assert [get_usage(http, sims, ACME).status_code for _ in range(3)] == [500, 500, 500]
    sims.state.clear_faults()
    assert get_usage(http, sims, ACME).status_code == 200


def test_faults_queue_in_order(http, sims):
    sims.state.add_fault("isnotai-us", "500", times=1)
    sims.state.add_fault("isnotai-us", "404", times=1)
    assert [get_usage(http, sims, ACME).status_code for _ in range(3)] == [500, 404, 200]


def test_fault_targets_are_isolated_and_isnotai_means_both(http, sims):
    sims.state.add_fault("isnotai-eu", "500")
    assert get_usage(http, sims, ACME).status_code == 200
    assert get_usage(http, sims, GLOBEX).status_code == 500
    sims.state.clear_faults()
    sims.state.add_fault("isnotai", "502", times=2)  # one counter shared by both regions
    assert get_usage(http, sims, ACME).status_code == 502
    assert get_usage(http, sims, GLOBEX).status_code == 502
    assert get_usage(http, sims, GLOBEX).status_code == 200


def test_faults_skip_health(http, sims):
    sims.state.add_fault("isnotai", "500")
    assert http.get(sims.isnotai_us_url + "/health", timeout=TIMEOUT).status_code == 200


def test_fault_fires_for_bad_keys_too_without_tier(http, sims):
    sims.state.add_fault("isnotai-us", "503", times=1)
    response = get_usage(http, sims, ACME, via=None)
    assert response.status_code == 503
    assert "x-isnotai-tier" not in response.headers


def test_timeout_fault_delays_then_answers_normally(http, sims):
    sims.state.add_fault("isnotai-us", "timeout", times=1, hang_seconds=0.3)
    started = time.monotonic()
    response = get_usage(http, sims, ACME)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 200


def test_clearing_faults_releases_a_hanging_request(http, sims):
    sims.state.add_fault("isnotai-us", "timeout")  # default hang: 30 s
    outcome = {}

    def call() -> None:
        with requests.Session() as session:
            outcome["status"] = get_usage(session, sims, ACME).status_code

    worker = threading.Thread(target=call)
    started = time.monotonic()
    worker.start()
    time.sleep(0.3)
    sims.state.clear_faults()
    worker.join(timeout=10)
    assert outcome == {"status": 200}
    assert time.monotonic() - started < 10


def test_client_timeout_against_hanging_request(http, sims):
    sims.state.add_fault("isnotai-us", "timeout", times=1, hang_seconds=5)
    url = sims.isnotai_us_url + "/v1/usage"
    with pytest.raises(requests.Timeout):
        http.get(url, headers={"Authorization": f"Bearer {ACME.key}"}, timeout=0.3)


def test_add_fault_validates(sims):
    with pytest.raises(ValueError, match="target"):
        sims.state.add_fault("isnotai-ap", "500")
    with pytest.raises(ValueError, match="kind"):
        sims.state.add_fault("isnotai", "418")
    with pytest.raises(ValueError, match="times"):
        sims.state.add_fault("isnotai", "500", times=0)


# --- rate limits, latency, log -------------------------------------------------------


def test_rate_limit_is_per_key_for_bearer_callers(http, sims):
    statuses = [get_usage(http, sims, INITECH, metric="ApiCalls").status_code for _ in range(60)]
    assert set(statuses) == {200}
    limited = get_usage(http, sims, INITECH, metric="ApiCalls")
    error = assert_envelope(limited, 429, "RATE_LIMITED")
    assert "details" not in error or isinstance(error["details"], dict)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["x-isnotai-tier"] == "free"
    assert not any(name.lower().startswith("x-ratelimit") for name in limited.headers)
    assert get_usage(http, sims, INITECH, via="x-api-key").status_code == 200  # not limited
    assert get_usage(http, sims, ACME).status_code == 200  # another key's window
    sims.state.rate_limits = False
    assert get_usage(http, sims, INITECH).status_code == 200


def test_latency_delays_api_requests_only(http, sims):
    sims.state.latency_ms = 300
    started = time.monotonic()
    assert http.get(sims.base_url + "/_sim/calls", timeout=TIMEOUT).status_code == 200
    assert time.monotonic() - started < 0.3
    started = time.monotonic()
    assert get_usage(http, sims, ACME).status_code == 200
    assert time.monotonic() - started >= 0.3


def test_call_log_records_api_requests_only(http, sims):
    get_usage(http, sims, ACME, startDate="2026-06-01")
    http.get(sims.isnotai_eu_url + "/health", timeout=TIMEOUT)
    http.get(sims.base_url + "/_sim/calls", timeout=TIMEOUT)
    calls = sims.state.calls()
    assert [(c["target"], c["method"], c["path"], c["status"]) for c in calls] == [
        ("isnotai-us", "GET", "/v1/usage", 200),
        ("isnotai-eu", "GET", "/health", 200),
    ]
    assert calls[0]["query"] == {"startDate": "2026-06-01"}
    assert calls[0]["identity"] == "acme"
    assert sims.state.calls(path="/health") == [calls[1]]
    sims.state.clear_calls()
    assert sims.state.calls() == []


def test_unknown_path_is_404_envelope(http, sims):
    response = http.get(sims.isnotai_us_url + "/v2/usage", timeout=TIMEOUT)
    assert_envelope(response, 404, "NOT_FOUND")


# --- control endpoints ---------------------------------------------------------------


def test_control_endpoints_over_http(http, sims):
    control = sims.base_url + "/_sim"
    fault = {"target": "isnotai", "kind": "429", "times": 1, "retry_after": 3}
    assert http.post(control + "/faults", json=fault, timeout=TIMEOUT).status_code == 201
    assert len(http.get(control + "/faults", timeout=TIMEOUT).json()) == 1
    limited = get_usage(http, sims, ACME)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")

    http.post(control + "/faults", json={"target": "isnotai-us", "kind": "500"}, timeout=TIMEOUT)
    assert http.delete(control + "/faults", timeout=TIMEOUT).status_code == 204
    assert get_usage(http, sims, ACME).status_code == 200

    bad = http.post(control + "/faults", json={"target": "x", "kind": "500"}, timeout=TIMEOUT)
    assert bad.status_code == 400
    assert "target" in bad.json()["error"]

    calls = http.get(control + "/calls", params={"target": "isnotai-us"}, timeout=TIMEOUT).json()
    assert [c["status"] for c in calls] == [429, 200]
    assert http.delete(control + "/calls", timeout=TIMEOUT).status_code == 204
    assert http.get(control + "/calls", timeout=TIMEOUT).json() == []

    changed = http.put(
        control + "/settings",
        json={"isnotai_period_format": "date", "latency_ms": 0, "extra_customers": 5},
        timeout=TIMEOUT,
    )
    assert changed.status_code == 200
    assert changed.json()["isnotai_period_format"] == "date"
    assert sims.state.extra_customers == 5
    rejected = http.put(control + "/settings", json={"isnotai_totals": "x"}, timeout=TIMEOUT)
    assert rejected.status_code == 400
    assert http.put(control + "/settings", json=[1], timeout=TIMEOUT).status_code == 400

    http.post(control + "/faults", json={"target": "isnotai-us", "kind": "500"}, timeout=TIMEOUT)
    assert http.post(control + "/reset", timeout=TIMEOUT).status_code == 204
    assert sims.state.isnotai_period_format == "dotnet"
    assert sims.state.extra_customers == 0
    assert sims.state.today == TODAY  # reset restores the values the state was created with
    assert get_usage(http, sims, ACME).status_code == 200


def test_stop_shuts_the_server_down():
    running = start_simulators(port=0)
    url = running.isnotai_us_url + "/health"
    assert requests.get(url, timeout=TIMEOUT).status_code == 200
    running.stop()
    assert not running.thread.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=TIMEOUT)
