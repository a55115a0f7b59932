"""The customer usage page, its fragment, refresh and exports, against the simulators."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from clients.isnotai import METRICS
from core.periods import split
from presenters.formatting import signed_pct
from simulators.data import EVOVOICE_ACCOUNTS, evovoice_expected, isnotai_expected
from tests.helpers_html import text

NORTHWIND = "acct-northwind"
HOSTILE = "acct-</script><script>alert(1)</script>"
UNICODE = "zürich-東京-Ωmega"
# A whole-account tenant (acme) also sees its AI minutes by customer.
BY_CUSTOMER = "chart-ai-minutes-customers-data"


@pytest.fixture
def tenants(make_tenant, make_user):
    make_tenant("acme", integration="acme", account=NORTHWIND)
    make_tenant(
        "globex", integration="globex", account=UNICODE, customer=EVOVOICE_ACCOUNTS[UNICODE][0]
    )
    make_tenant("initech", integration="initech", account=HOSTILE)
    make_tenant("minutes-only", account=NORTHWIND, customer="cust-alpha")
    make_user("acme@example.com", tenant="acme")
    make_user("globex@example.com", tenant="globex")
    make_user("initech@example.com", tenant="initech")
    make_user("minutes@example.com", tenant="minutes-only")
    make_user("staff@example.com", role="staff")


def today() -> date:
    return datetime.now(UTC).date()


def upstream_calls(sims) -> list[dict]:
    return [c for c in sims.state.calls() if c["path"] in ("/v1/usage", "/ai/usage")]


def figures(html: str) -> dict[str, dict]:
    blocks = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)
    return {name: json.loads(body) for name, body in blocks}


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def past_query(days=10):
    end = today() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    return start, end, f"start={start}&end={end}"


# -- the page ---------------------------------------------------------------------------------


def test_a_customer_sees_all_five_metrics_and_ai_minutes(client, tenants, login):
    login(client, "acme@example.com")
    start, end, query = past_query()
    response = client.get(f"/usage?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    charts = figures(html)
    assert set(charts) == {f"chart-{m}-data" for m in METRICS} | {
        "chart-ai-minutes-data",
        BY_CUSTOMER,
    }
    expected = isnotai_expected("acme", start, end)
    api_calls = charts["chart-ApiCalls-data"]["data"][-1]
    assert api_calls["type"] == "bar"
    assert api_calls["y"] == [expected["ApiCalls"][d] for d in sorted(expected["ApiCalls"])]
    storage = charts["chart-StorageBytes-data"]["data"][-1]
    assert storage["type"] == "scatter"  # a level is a line
    assert f"{sum(expected['ApiCalls'].values()):,}" in html
    assert "Pro plan" in html
    assert "Vary" in response.headers and "HX-Request" in response.headers["Vary"]


def test_the_fragment_is_only_the_results_region(client, tenants, login):
    login(client, "acme@example.com")
    response = client.get("/usage?preset=7d", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and 'id="filters"' not in html
    assert "chart-ApiCalls-data" in html
    assert "HX-Request" in response.headers["Vary"]


def test_a_history_restore_gets_the_full_page(client, tenants, login):
    login(client, "acme@example.com")
    response = client.get(
        "/usage?preset=7d", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    html = response.get_data(as_text=True)
    assert "<html" in html and 'id="filters"' in html


def test_weekly_buckets_sum_days_and_storage_keeps_its_level(client, tenants, login):
    login(client, "globex@example.com")
    end = today() - timedelta(days=1)
    start = end - timedelta(days=40)
    html = client.get(f"/usage?start={start}&end={end}&granularity=week").get_data(as_text=True)
    charts = figures(html)
    expected = isnotai_expected("globex", start, end)
    spans = split(start, end, "week")
    events = charts["chart-Events-data"]["data"][-1]["y"]
    assert events == [
        sum(v for d, v in expected["Events"].items() if s <= d <= e) for s, e in spans
    ]
    storage = charts["chart-StorageBytes-data"]["data"][-1]["y"]
    assert storage == [expected["StorageBytes"][e] for _, e in spans]


def test_ai_minutes_per_bucket_and_the_whole_range_total(client, tenants, login):
    login(client, "acme@example.com")
    start, end, query = past_query(20)
    html = client.get(f"/usage?{query}&granularity=week").get_data(as_text=True)
    minutes = figures(html)["chart-ai-minutes-data"]["data"][-1]["y"]
    spans = split(start, end, "week")
    per_bucket = [
        evovoice_expected(s, e, account_id=NORTHWIND)["accountUsage"][0]["aiMinutes"]
        for s, e in spans
    ]
    assert minutes == per_bucket
    whole = evovoice_expected(start, end, account_id=NORTHWIND)["accountUsage"][0]["aiMinutes"]
    assert f'<span class="big">{whole:,}</span>' in html


def test_compare_overlays_the_previous_range(client, tenants, login):
    login(client, "acme@example.com")
    start, _end, query = past_query(7)
    html = client.get(f"/usage?{query}&compare=previous&metric=events").get_data(as_text=True)
    charts = figures(html)
    assert set(charts) == {"chart-Events-data", "chart-ai-minutes-data", BY_CUSTOMER}
    previous, current = charts["chart-Events-data"]["data"]
    # Both ranges are named by their ISO dates, in the legend and in the hover.
    before_start, before_end = start - timedelta(days=7), start - timedelta(days=1)
    assert previous["name"] == f"previous: {before_start} – {before_end}"
    assert current["name"] == f"{start} – {_end}"
    assert previous["opacity"] < 1
    assert previous["x"] == current["x"]  # aligned by offset
    before = isnotai_expected("acme", start - timedelta(days=7), start - timedelta(days=1))
    assert previous["y"] == [before["Events"][d] for d in sorted(before["Events"])]


def test_a_range_including_today_shows_the_month_to_date_and_its_pace(client, tenants, login):
    login(client, "acme@example.com")
    html = client.get("/usage?preset=mtd").get_data(as_text=True)
    assert re.search(r"month to date [\d,]+ · on pace for [\d,]+", html)
    assert "to the end of the month" in html and "at the run rate since the 1st" in html
    assert "Projection:" not in html


def test_the_history_window_is_explained(client, tenants, login):
    login(client, "initech@example.com")  # free tier: 7 days
    html = client.get("/usage?preset=30d").get_data(as_text=True)
    assert "The Free plan keeps history from" in html


def test_a_tenant_without_isnotai_sees_a_notice(client, tenants, login):
    login(client, "minutes@example.com")
    html = client.get("/usage?preset=7d").get_data(as_text=True)
    assert "no isnotai integration" in html
    assert "chart-ai-minutes-data" in html


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("start=2026-02-30", "start must be a date"),
        ("end=yesterday", "end must be a date"),
        ("start=2026-05-02&end=2026-05-01", "is after end"),
        ("start=2024-01-01&end=2025-06-01", "longer than 366 days"),
        ("metric=Bytes", "metric must be all or one of"),
        ("granularity=hour", "granularity must be one of"),
        ("compare=yes", "compare must be none or previous"),
        ("preset=1y", "preset must be one of"),
    ],
)
def test_bad_input_is_named_and_never_reaches_upstream(client, tenants, login, sims, query, words):
    login(client, "acme@example.com")
    sims.state.clear_calls()
    for headers in ({}, {"HX-Request": "true"}):
        response = client.get(f"/usage?{query}", headers=headers)
        assert response.status_code == 400
        assert words in response.get_data(as_text=True)
    for export in ("metrics.csv", "ai-minutes.csv"):
        response = client.get(f"/usage/{export}?{query}")
        assert response.status_code == 400
        assert words in response.get_data(as_text=True)
    assert upstream_calls(sims) == []


def test_metric_names_are_case_insensitive(client, tenants, login):
    login(client, "acme@example.com")
    html = client.get("/usage?preset=7d&metric=STORAGEBYTES").get_data(as_text=True)
    assert set(figures(html)) == {"chart-StorageBytes-data", "chart-ai-minutes-data", BY_CUSTOMER}


# -- upstream trouble -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "kind", "status", "words"),
    [
        ("isnotai-us", "403", 502, "may not read"),
        ("isnotai-us", "401", 502, "refused the API key"),
        ("isnotai-us", "429", 503, "rate limited"),
        ("evovoice", "403", 502, "lacks the SystemAdministrator role"),
        ("evovoice", "wrong-shape", 502, "without accountUsage"),
    ],
)
def test_upstream_errors_are_shown_as_messages(
    client, tenants, login, sims, target, kind, status, words
):
    login(client, "acme@example.com")
    sims.state.add_fault(target, kind)
    response = client.get("/usage?preset=7d")
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert words in html
    assert "Try again" in html
    assert "Traceback" not in html


def test_stale_data_is_shown_with_a_banner(app, client, tenants, login, sims, clock):
    app.extensions["upstreams"].http.clock = clock
    login(client, "acme@example.com")
    _, _, query = past_query()
    assert client.get(f"/usage?{query}").status_code == 200
    clock.advance(hours=7)
    sims.state.add_fault("isnotai-us", "503")
    response = client.get(f"/usage?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Showing saved data" in html and "failed on its side" in html
    assert "chart-ApiCalls-data" in html


def test_freshness_says_how_old_the_data_is(app, client, tenants, login, clock):
    app.extensions["upstreams"].http.clock = clock
    login(client, "acme@example.com")
    _, _, query = past_query()
    assert "updated <time" in client.get(f"/usage?{query}").get_data(as_text=True)


def test_refresh_bypasses_the_cache_and_is_rate_limited(client, tenants, login, sims):
    login(client, "acme@example.com")
    _, _, query = past_query()
    client.get(f"/usage?{query}")
    sims.state.clear_calls()
    client.get(f"/usage?{query}")
    assert upstream_calls(sims) == []  # cached
    response = client.post(f"/usage/refresh?{query}", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert upstream_calls(sims)  # went upstream
    plain = client.post(f"/usage/refresh?{query}")
    assert plain.status_code == 303 and plain.headers["Location"].startswith("/usage?")
    client.post(f"/usage/refresh?{query}")
    limited = client.post(f"/usage/refresh?{query}")  # tests/blueprints/test_refresh_limit.py
    assert limited.status_code == 303


# -- scope --------------------------------------------------------------------------------


def test_two_tenants_never_see_each_others_numbers(app, tenants, login):
    start, end, query = past_query(5)
    acme = login(app.test_client(), "acme@example.com")
    globex = login(app.test_client(), "globex@example.com")
    acme_charts = figures(acme.get(f"/usage?{query}").get_data(as_text=True))
    globex_charts = figures(globex.get(f"/usage?{query}").get_data(as_text=True))
    acme_events = acme_charts["chart-Events-data"]["data"][-1]["y"]
    globex_events = globex_charts["chart-Events-data"]["data"][-1]["y"]
    assert acme_events != globex_events
    expected = isnotai_expected("globex", start, end)["Events"]
    assert globex_events == [expected[d] for d in sorted(expected)]


@pytest.mark.parametrize(
    "extra", ["tenant=globex", f"account={UNICODE}", "customer=kunde-müller", "accountId=x"]
)
def test_a_customer_cannot_widen_or_move_their_scope(client, tenants, login, sims, extra):
    login(client, "acme@example.com")
    _start, _end, query = past_query(5)
    for path in ("/usage", "/usage/metrics.csv", "/usage/ai-minutes.csv"):
        assert client.get(f"{path}?{query}&{extra}").status_code == 200
    minutes = [c for c in upstream_calls(sims) if c["path"] == "/ai/usage"]
    assert minutes and all(c["query"].get("accountId") == NORTHWIND for c in minutes)
    identities = {c.get("identity") for c in upstream_calls(sims) if c["path"] == "/v1/usage"}
    assert identities == {"acme"}
    rows = csv_rows(client.get(f"/usage/ai-minutes.csv?{query}&{extra}"))
    assert {r[1] for r in rows[1:]} == {NORTHWIND}


def test_a_customer_narrowed_to_one_customer_stays_narrowed(client, tenants, login, sims):
    login(client, "globex@example.com")
    _, _, query = past_query(5)
    client.get(f"/usage?{query}&customer=kunde-x")
    minutes = [c for c in upstream_calls(sims) if c["path"] == "/ai/usage"]
    assert minutes
    assert {(c["query"].get("accountId"), c["query"].get("customerId")) for c in minutes} == {
        (UNICODE, EVOVOICE_ACCOUNTS[UNICODE][0])
    }


def test_staff_choose_any_tenant(client, tenants, login):
    login(client, "staff@example.com")
    chooser = client.get("/usage").get_data(as_text=True)
    assert "acme" in chooser and "globex" in chooser
    assert client.get("/usage?tenant=globex&preset=7d").status_code == 200
    missing = client.get("/usage?tenant=nobody")
    assert missing.status_code == 404 and "no tenant named" in missing.get_data(as_text=True)


def test_hostile_ids_render_as_text(client, tenants, login):
    login(client, "initech@example.com")
    html = client.get("/usage?preset=7d").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "acct-&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S):
        assert "<" not in block


def test_unauthenticated_requests(client, tenants):
    page = client.get("/usage?preset=7d")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    swap = client.get("/usage?preset=7d", headers={"HX-Request": "true"})
    assert swap.status_code == 401 and "/login" in swap.headers["HX-Redirect"]
    assert client.get("/usage/metrics.csv").status_code == 302


# -- exports ------------------------------------------------------------------------------


def test_metrics_csv_is_exactly_what_is_on_screen(client, tenants, login):
    login(client, "acme@example.com")
    start, end, query = past_query(14)
    response = client.get(f"/usage/metrics.csv?{query}&granularity=week&metric=all")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = csv_rows(response)
    assert rows[0] == ["period", "metric", "value"]
    expected = isnotai_expected("acme", start, end)
    spans = split(start, end, "week")
    want = []
    for metric in METRICS:
        for s, e in spans:
            values = [v for d, v in expected[metric].items() if s <= d <= e]
            value = values[-1] if metric == "StorageBytes" else sum(values)
            want.append([s.isoformat(), metric, str(value)])
    assert rows[1:] == want
    screen = figures(client.get(f"/usage?{query}&granularity=week").get_data(as_text=True))
    assert [int(r[2]) for r in rows[1:] if r[1] == "Events"] == screen["chart-Events-data"]["data"][
        -1
    ]["y"]


def test_ai_minutes_csv_has_one_row_per_bucket(client, tenants, login):
    login(client, "globex@example.com")
    start, end, query = past_query(35)
    rows = csv_rows(client.get(f"/usage/ai-minutes.csv?{query}&granularity=month"))
    assert rows[0] == ["period", "account_id", "customer_id", "ai_minutes"]
    customer = EVOVOICE_ACCOUNTS[UNICODE][0]
    want = []
    for s, e in split(start, end, "month"):
        body = evovoice_expected(s, e, account_id=UNICODE, customer_id=customer)
        minutes = sum(c["aiMinutes"] for c in body["customerUsage"])
        want.append([s.isoformat(), UNICODE, customer, str(minutes)])
    assert rows[1:] == want


def test_csv_cells_cannot_run_as_formulas(client, make_tenant, make_user, login, app):
    make_tenant("formula", account='=HYPERLINK("http://evil.example")')
    make_user("formula@example.com", tenant="formula")
    login(client, "formula@example.com")
    rows = csv_rows(client.get("/usage/ai-minutes.csv?preset=7d"))
    assert all(r[1].startswith("'=") for r in rows[1:])


def test_exports_for_a_missing_source_are_404(client, tenants, login):
    login(client, "minutes@example.com")
    response = client.get("/usage/metrics.csv?preset=7d")
    assert response.status_code == 404
    assert "no isnotai integration" in response.get_data(as_text=True)


@pytest.mark.parametrize("target", ["evovoice", "isnotai-us"])
def test_a_hanging_upstream_cannot_hold_the_page_past_the_deadline(
    client, tenants, login, sims, app_config, target
):
    import time

    login(client, "acme@example.com")
    sims.state.add_fault(target, "timeout", hang_seconds=20)
    started = time.monotonic()
    response = client.get("/usage?preset=30d&granularity=day")
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    words = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))
    # A hang is said as one: the reads ran out of time, EvoVoice could not be reached (a
    # sign-in ran out of it), or every slot for EvoVoice is held by reads still hanging
    # (earlier hung reads of this process keep theirs until their own timeout).
    said = words[words.find("AI minutes EvoVoice") :][:600]
    hang = ("did not answer in time", "could not reach EvoVoice", "EvoVoice is busy with")
    assert any(words_ in words for words_ in hang), said
    # 31 EvoVoice reads at 8 at a time would take minutes without one shared deadline.
    assert elapsed < app_config["USAGE_UPSTREAM_DEADLINE"] + 2
    sims.state.clear_faults()
    sims.state.clear_calls()
    assert client.get("/usage?preset=30d&granularity=day").status_code == 200
    assert upstream_calls(sims)  # the failure was not cached


def test_an_export_is_bounded_by_the_request_deadline(client, tenants, login, sims, app_config):
    import time

    login(client, "acme@example.com")
    sims.state.add_fault("evovoice", "timeout", hang_seconds=20)
    started = time.monotonic()
    response = client.get("/usage/ai-minutes.csv?preset=30d&granularity=day")
    assert response.status_code == 504
    # 31 bucket reads at 8 at a time: bounded only because the request shares one deadline.
    assert time.monotonic() - started < app_config["USAGE_UPSTREAM_DEADLINE"] + 2


def test_no_change_is_computed_against_a_range_the_plan_does_not_keep(client, tenants, login):
    login(client, "acme@example.com")  # Pro: 30 days of history
    inside = client.get("/usage?preset=7d&metric=ApiCalls").get_data(as_text=True)
    assert re.search(r"% vs \d{4}-\d\d-\d\d – \d{4}-\d\d-\d\d", text(inside))
    past_window = client.get("/usage?preset=30d&metric=ApiCalls").get_data(as_text=True)
    metrics = past_window[
        past_window.index('id="metrics-title"') : past_window.index('id="minutes-title"')
    ]
    assert "% vs " not in metrics
    assert "no comparison: days of the previous range are not available on the Pro plan" in metrics


def test_a_previous_range_the_plan_keeps_nothing_of_is_said_once_not_drawn(client, tenants, login):
    login(client, "acme@example.com")  # Pro: 30 days; 30 days back by whole weeks is 35
    html = client.get("/usage?preset=30d&compare=previous").get_data(as_text=True)
    shown = figures(html)
    for metric in METRICS:
        assert len(shown[f"chart-{metric}-data"]["data"]) == 1, metric  # no empty trace
    words = text(html)
    assert words.count("is not available on the Pro plan: nothing to compare.") == len(METRICS)
    first = (today() - timedelta(days=29)).isoformat()
    assert (
        f"The metrics show no change: the previous range starts before {first}, the first day "
        "the Pro plan keeps." in words
    )
    assert len(shown["chart-ai-minutes-data"]["data"]) == 2  # EvoVoice keeps it: drawn


def test_a_total_over_days_the_plan_does_not_keep_names_the_days_it_totals(client, tenants, login):
    login(client, "acme@example.com")  # Pro: 30 days of history
    first = today() - timedelta(days=29)
    start, end = today() - timedelta(days=40), today() - timedelta(days=11)
    html = client.get(f"/usage?start={start}&end={end}&metric=Events").get_data(as_text=True)
    assert f"in the range from {first}, the first day the plan keeps" in text(html)


def test_a_level_compares_its_reading_when_the_plan_keeps_that_day(client, tenants, login):
    """Storage compares two readings, not two spans: a previous range that starts before the
    plan's history still has its last day, and so a reading to compare with."""
    login(client, "acme@example.com")  # Pro: 30 days of history
    start, end, query = past_query(20)  # whole weeks back: 41 to 22 days ago
    back = end - timedelta(days=21)
    html = client.get(f"/usage?{query}&metric=StorageBytes").get_data(as_text=True)
    card = text(html[html.index('id="chart-StorageBytes-title"') :].split("</figure>")[0])
    latest = isnotai_expected("acme", start, end, metrics=("StorageBytes",))["StorageBytes"]
    earlier = isnotai_expected("acme", back, back, metrics=("StorageBytes",))["StorageBytes"]
    change = (latest[end] - earlier[back]) / earlier[back] * 100
    assert f"{signed_pct(change)} vs the reading of {back.isoformat()}" in card
    assert "no comparison" not in card
