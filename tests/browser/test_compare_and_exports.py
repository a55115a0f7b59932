"""Comparing with the previous range, its exports, AI minutes alone and a Free plan's default
range, in Chromium against the demo server."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from urllib.parse import parse_qsl, urljoin, urlsplit

BOM = b"\xef\xbb\xbf"
METRIC_IDS = [
    f"chart-{m}-data" for m in ("ApiCalls", "Events", "Sessions", "StorageBytes", "BotAnalyses")
]


def choose(page, charts, name: str, value: str):
    """Pick a filter option as a user would; return the redrawn charts."""
    charts.mark_stale(page)
    with page.expect_response(lambda r: f"{name}={value}" in r.url) as answer:
        if name == "compare":  # one switch in the range control: on is "previous"
            page.set_checked("#filters input[name=compare]", value == "previous")
        else:
            page.select_option(f"#filters select[name={name}]", value)
    assert answer.value.status == 200
    assert answer.value.request.headers.get("hx-request") == "true"
    return charts.check(page)


def export(page, name: str) -> tuple[dict[str, str], list[list[str]], bytes]:
    """Return an export link's query, and the rows and bytes it answers (with the session)."""
    href = page.get_attribute(f"#results .exports a[href*='{name}']", "href")
    link = urljoin(page.url, href)
    response = page.request.get(link)
    assert response.status == 200
    body = response.body()
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    return dict(parse_qsl(urlsplit(link).query)), rows, body


def number(text: str) -> float | None:
    return None if text == "" else float(text)


def test_a_comparison_by_day_sits_on_the_same_weekdays_and_is_exported(
    page, login, charts, shoot, browser_log
):
    login(page, "acme")  # Pro: 30 days of history, so last week's days are all kept
    charts.check(page)
    choose(page, charts, "preset", "7d")
    drawn = choose(page, charts, "compare", "previous")
    assert dict(parse_qsl(urlsplit(page.url).query))["compare"] == "previous"

    by_id = {c.id: c for c in drawn}
    events = by_id["chart-Events-data"]
    assert len(events.traces) == 2, "the previous range is overlaid"
    previous, current = events.traces
    assert previous.x == current.x and len(current.values) == 7

    query, rows, body = export(page, "metrics.csv")
    assert query["compare"] == "previous" and body.startswith(BOM)
    assert rows[0] == ["period", "metric", "value", "previous_period", "previous_value"]
    for period, metric, value, previous_period, previous_value in rows[1:]:
        day, earlier = date.fromisoformat(period), date.fromisoformat(previous_period)
        assert earlier == day - timedelta(days=7), "a whole week back: Monday under Monday"
        chart = by_id[f"chart-{metric}-data"]
        index = chart.traces[-1].x.index(period)
        assert number(value) == chart.traces[-1].values[index]
        assert number(previous_value) == chart.traces[0].values[index]

    query, rows, body = export(page, "ai-minutes.csv")
    assert body.startswith(BOM)
    assert rows[0][-2:] == ["previous_period", "previous_value"]
    minutes = by_id["chart-ai-minutes-data"]
    assert [number(r[5]) for r in rows[1:]] == minutes.traces[0].values
    assert [number(r[3]) for r in rows[1:]] == minutes.traces[-1].values
    shoot(page, "usage-acme-compare-weekdays")
    browser_log.assert_clean()


def test_ai_minutes_alone_shows_only_that_section_and_its_export(
    page, login, charts, shoot, browser_log
):
    login(page, "acme")
    charts.check(page)
    drawn = choose(page, charts, "metric", "ai-minutes")
    # acme covers a whole account: its customers' ranking comes with the AI minutes.
    assert [c.id for c in drawn] == ["chart-ai-minutes-data", "chart-ai-minutes-customers-data"]
    assert page.locator("#metrics-title").count() == 0
    assert page.input_value("#filters select[name=metric]") == "ai-minutes"
    assert page.locator("#results .exports a").count() == 1
    query, rows, _ = export(page, "ai-minutes.csv")
    assert query["metric"] == "ai-minutes"
    assert rows[0] == ["period", "account_id", "customer_id", "ai_minutes"]

    back = choose(page, charts, "metric", "all")  # and back: isnotai returns
    assert [c.id for c in back][: len(METRIC_IDS)] == METRIC_IDS
    shoot(page, "usage-acme-ai-minutes-alone")
    browser_log.assert_clean()


def test_a_free_plan_opens_on_the_seven_days_it_keeps(page, login, charts, browser_log):
    login(page, "initech")
    drawn = charts.check(page)
    assert page.input_value("#filters select[name=preset]") == "7d"
    start = date.fromisoformat(page.input_value("#filters input[name=start]"))
    end = date.fromisoformat(page.input_value("#filters input[name=end]"))
    assert (end - start).days + 1 == 7
    assert page.get_by_text("keeps history from").count() == 0
    assert all(None not in c.traces[-1].values for c in drawn if c.id in METRIC_IDS)
    browser_log.assert_clean()
