"""The usage page's comparison, its exports with the previous range, AI minutes alone as a
metric, and a default range fitted to the plan's history, against the simulators."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from clients.isnotai import METRICS
from core.periods import split
from simulators.data import evovoice_expected, isnotai_expected

NORTHWIND = "acct-northwind"
BOM = b"\xef\xbb\xbf"


@pytest.fixture
def tenants(make_tenant, make_user):
    make_tenant("acme", integration="acme", account=NORTHWIND)  # isnotai Pro: 30 days kept
    make_tenant("initech", integration="initech", account=NORTHWIND)  # isnotai Free: 7 days
    make_user("acme@example.com", tenant="acme")
    make_user("initech@example.com", tenant="initech")


def today() -> date:
    return datetime.now(UTC).date()


def past(days: int) -> tuple[date, date, str]:
    end = today() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    return start, end, f"start={start}&end={end}"


def figures(html: str) -> dict[str, dict]:
    blocks = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)
    return {name: json.loads(body) for name, body in blocks}


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def calls(sims, path: str) -> list[dict]:
    return [c for c in sims.state.calls() if c["path"] == path]


def minutes_per_day(start: date, end: date) -> list[int]:
    return [
        evovoice_expected(day, day, account_id=NORTHWIND)["accountUsage"][0]["aiMinutes"]
        for day, _ in split(start, end, "day")
    ]


# -- compare: weekday over weekday ------------------------------------------------------------


def test_a_daily_comparison_puts_each_weekday_over_the_same_weekday(client, tenants, login):
    login(client, "acme@example.com")
    start, end, query = past(10)  # ten days: the previous range is two weeks back
    html = client.get(f"/usage?{query}&compare=previous&metric=events").get_data(as_text=True)
    charts = figures(html)
    previous, current = charts["chart-Events-data"]["data"]
    before = isnotai_expected("acme", start - timedelta(days=14), end - timedelta(days=14))
    assert previous["y"] == [before["Events"][d] for d in sorted(before["Events"])]
    assert len(previous["y"]) == len(current["y"]) == 10
    minutes_before, _ = charts["chart-ai-minutes-data"]["data"]
    shifted = (start - timedelta(days=14), end - timedelta(days=14))
    assert minutes_before["y"] == minutes_per_day(*shifted)


def test_a_weekly_comparison_keeps_the_range_just_before(client, tenants, login):
    login(client, "acme@example.com")
    start, _end, query = past(14)
    rows = csv_rows(client.get(f"/usage/metrics.csv?{query}&granularity=week&compare=previous"))
    previous_spans = split(start - timedelta(days=14), start - timedelta(days=1), "week")
    first_events = next(r for r in rows[1:] if r[1] == "Events")
    assert first_events[3] == previous_spans[0][0].isoformat()


# -- exports carry the comparison -------------------------------------------------------------


def test_the_metrics_csv_gains_the_previous_bucket_when_comparing(client, tenants, login):
    login(client, "acme@example.com")
    start, end, query = past(10)
    response = client.get(f"/usage/metrics.csv?{query}&compare=previous")
    assert response.status_code == 200 and response.get_data().startswith(BOM)
    rows = csv_rows(response)
    assert rows[0] == ["period", "metric", "value", "previous_period", "previous_value"]
    current = isnotai_expected("acme", start, end)
    before = isnotai_expected("acme", start - timedelta(days=14), end - timedelta(days=14))
    assert len(rows) == 1 + 10 * len(METRICS)
    for period, metric, value, previous_period, previous_value in rows[1:]:
        day, earlier = date.fromisoformat(period), date.fromisoformat(previous_period)
        assert earlier == day - timedelta(days=14) and earlier.weekday() == day.weekday()
        assert int(value) == current[metric][day]
        assert int(previous_value) == before[metric][earlier]


def test_the_ai_minutes_csv_gains_the_previous_bucket_when_comparing(client, tenants, login):
    login(client, "acme@example.com")
    start, end, query = past(8)  # eight days: two weeks back
    rows = csv_rows(client.get(f"/usage/ai-minutes.csv?{query}&compare=previous"))
    assert rows[0] == [
        "period",
        "account_id",
        "customer_id",
        "ai_minutes",
        "previous_period",
        "previous_value",
    ]
    shifted = [day - timedelta(days=14) for day, _ in split(start, end, "day")]
    assert [r[4] for r in rows[1:]] == [d.isoformat() for d in shifted]
    assert [int(r[5]) for r in rows[1:]] == minutes_per_day(shifted[0], shifted[-1])
    assert [int(r[3]) for r in rows[1:]] == minutes_per_day(start, end)


@pytest.mark.parametrize(
    ("export", "header"),
    [
        ("metrics.csv", ["period", "metric", "value"]),
        ("ai-minutes.csv", ["period", "account_id", "customer_id", "ai_minutes"]),
    ],
)
def test_without_compare_an_export_keeps_its_columns_after_a_bom(
    client, tenants, login, export, header
):
    login(client, "acme@example.com")
    _, _, query = past(5)
    response = client.get(f"/usage/{export}?{query}&compare=none")
    body = response.get_data()
    assert body.startswith(BOM + ",".join(header).encode() + b"\r\n")
    assert all(len(row) == len(header) for row in csv_rows(response))


def test_both_exports_drop_days_after_today_even_when_comparing(client, tenants, login):
    login(client, "acme@example.com")
    query = (
        f"start={today() - timedelta(days=2)}&end={today() + timedelta(days=3)}&compare=previous"
    )
    kept = {str(today() - timedelta(days=n)) for n in range(3)}
    for export in ("metrics.csv", "ai-minutes.csv"):
        rows = csv_rows(client.get(f"/usage/{export}?{query}"))
        assert {r[0] for r in rows[1:]} == kept, export


# -- the metric filter: AI minutes alone ------------------------------------------------------


def test_ai_minutes_alone_reads_and_shows_no_isnotai(client, tenants, login, sims):
    login(client, "acme@example.com")
    _, _, query = past(7)
    sims.state.clear_calls()
    response = client.get(f"/usage?{query}&metric=ai-minutes")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert set(figures(html)) == {"chart-ai-minutes-data", "chart-ai-minutes-customers-data"}
    assert 'id="metrics-title"' not in html and "metrics.csv" not in html
    assert calls(sims, "/ai/usage") and not calls(sims, "/v1/usage")
    link = unescape(re.search(r'href="([^"]*ai-minutes\.csv[^"]*)"', html).group(1))
    assert parse_qs(urlsplit(link).query)["metric"] == ["ai-minutes"]
    assert client.get(link).status_code == 200
    assert '<option value="ai-minutes" selected>AI minutes</option>' in html


def test_a_metrics_export_of_ai_minutes_alone_is_refused(client, tenants, login, sims):
    login(client, "acme@example.com")
    sims.state.clear_calls()
    response = client.get("/usage/metrics.csv?preset=7d&metric=ai-minutes")
    assert response.status_code == 400 and "ai-minutes.csv" in response.get_data(as_text=True)
    assert not calls(sims, "/v1/usage")


def test_an_unknown_metric_is_still_a_400_naming_it(client, tenants, login, sims):
    login(client, "acme@example.com")
    sims.state.clear_calls()
    response = client.get("/usage?preset=7d&metric=minutes")
    assert response.status_code == 400
    assert "metric must be all or one of" in response.get_data(as_text=True)
    assert not calls(sims, "/v1/usage") and not calls(sims, "/ai/usage")


# -- a default range within the plan's history ------------------------------------------------


def test_a_free_plan_opens_on_the_days_it_keeps(client, tenants, login):
    login(client, "initech@example.com")
    html = client.get("/usage").get_data(as_text=True)
    events = figures(html)["chart-Events-data"]["data"][-1]
    assert len(events["y"]) == 7 and None not in events["y"]
    assert "keeps history from" not in html  # no day before the window is shown
    assert '<option value="7d" selected' in html
    exported = csv_rows(client.get("/usage/metrics.csv?metric=Events"))
    assert [r[0] for r in exported[1:]] == [
        str(today() - timedelta(days=n)) for n in range(6, -1, -1)
    ]


def test_a_range_the_request_names_is_kept_past_the_plan(client, tenants, login):
    login(client, "initech@example.com")
    html = client.get("/usage?preset=30d").get_data(as_text=True)
    assert len(figures(html)["chart-Events-data"]["data"][-1]["y"]) == 30
    assert "keeps history from" in html


def test_a_pro_plan_keeps_the_thirty_day_default(client, tenants, login):
    login(client, "acme@example.com")
    html = client.get("/usage").get_data(as_text=True)
    assert len(figures(html)["chart-Events-data"]["data"][-1]["y"]) == 30
    assert '<option value="30d" selected' in html
