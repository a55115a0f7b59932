"""The customer usage page in Chromium: charts drawn, htmx filters, history, exports, scheme."""

from __future__ import annotations

import csv
import io
from datetime import date
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest

METRICS = ("ApiCalls", "Events", "Sessions", "StorageBytes", "BotAnalyses")
CHART_IDS = [*(f"chart-{m}-data" for m in METRICS), "chart-ai-minutes-data"]


def shown_range(page) -> tuple[date, date]:
    """Return the inclusive range the filter form shows."""
    start = page.input_value("#filters input[name=start]")
    end = page.input_value("#filters input[name=end]")
    return date.fromisoformat(start), date.fromisoformat(end)


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def choose_granularity(page, charts, value: str):
    """Pick a granularity as a user would; return the htmx response and the redrawn charts."""
    charts.mark_stale(page)
    with page.expect_response(lambda r: f"granularity={value}" in r.url) as answer:
        page.select_option("#filters select[name=granularity]", value)
    response = answer.value
    assert response.status == 200
    assert response.request.resource_type in ("xhr", "fetch"), "not a background request"
    assert response.request.headers.get("hx-request") == "true"
    return response, charts.check(page)


@pytest.mark.parametrize("tenant", ["globex", "acme", "initech"])
def test_every_chart_is_drawn_with_the_points_of_its_data(
    page, login, charts, shoot, browser_log, tenant
):
    login(page, tenant)
    assert urlsplit(page.url).path == "/usage"

    every = charts.check(page)  # every chart drawn, bars and markers matching the JSON
    # acme and initech cover a whole EvoVoice account: their customers are ranked too.
    by_customer = [c for c in every if c.id == "chart-ai-minutes-customers-data"]
    assert len(by_customer) == (tenant != "globex")
    drawn = [c for c in every if c not in by_customer]

    assert [c.id for c in drawn] == CHART_IDS
    start, end = shown_range(page)
    assert [c.points for c in drawn] == [(end - start).days + 1] * len(CHART_IDS)
    kinds = {c.id: c.traces[-1].type for c in drawn}
    assert kinds.pop("chart-StorageBytes-data") == "scatter", "storage is a level: a line"
    assert set(kinds.values()) == {"bar"}
    if tenant == "initech":  # Free plan: the default range is the 7 days its plan keeps
        assert (end - start).days + 1 == 7
        assert all(t.present == len(t.values) for c in drawn[:-1] for t in c.traces)
    shoot(page, f"usage-{tenant}")
    browser_log.assert_clean()


def test_filter_change_swaps_the_results_through_htmx(
    page, login, charts, weeks, shoot, browser_log
):
    login(page, "globex")
    charts.check(page)
    page.evaluate("window.__marker = 1")

    _, drawn = choose_granularity(page, charts, "week")

    assert page.evaluate("window.__marker") == 1, "the page was reloaded instead of swapped"
    assert query_of(page.url)["granularity"] == "week", "the URL follows the filters"
    start, end = shown_range(page)
    assert [c.points for c in drawn] == [weeks(start, end)] * len(CHART_IDS)
    periods = [date.fromisoformat(x) for x in drawn[0].traces[-1].x]
    assert periods[0] == start, "the first bucket starts with the range"
    assert all(p.weekday() == 0 for p in periods[1:]), "the other buckets start on Mondays"
    assert page.input_value("#filters select[name=granularity]") == "week"
    shoot(page, "usage-globex-week")
    browser_log.assert_clean()


def test_back_and_forward_restore_the_earlier_views(page, login, charts, weeks, shoot, browser_log):
    login(page, "globex")
    by_day = charts.check(page)
    day_url = page.url
    page.evaluate("window.__marker = 1")
    _, by_week = choose_granularity(page, charts, "week")
    week_url = page.url
    assert week_url != day_url

    def travel(step) -> list:
        charts.mark_stale(page)
        with page.expect_response(
            lambda r: r.request.headers.get("hx-history-restore-request") == "true"
        ) as restore:
            step()
        assert restore.value.status == 200
        return charts.check(page)

    back = travel(page.go_back)
    assert page.url == day_url
    assert [c.points for c in back] == [c.points for c in by_day]
    assert page.input_value("#filters select[name=granularity]") == "day"
    shoot(page, "usage-globex-back")

    forward = travel(page.go_forward)
    assert page.url == week_url
    assert [c.points for c in forward] == [c.points for c in by_week]
    assert page.input_value("#filters select[name=granularity]") == "week"
    shoot(page, "usage-globex-forward")

    assert page.evaluate("window.__marker") == 1, "history was restored by htmx, not a reload"
    browser_log.assert_clean()


def test_export_links_carry_the_page_query_and_answer_its_numbers(page, login, charts, browser_log):
    login(page, "globex")
    _, drawn = choose_granularity(page, charts, "week")
    page_query = query_of(page.url)
    links = {
        name: urljoin(page.url, page.get_attribute(f"#results .exports a[href*='{name}']", "href"))
        for name in ("metrics.csv", "ai-minutes.csv")
    }
    for link in links.values():
        export_query = query_of(link)
        assert export_query["granularity"] == "week"
        assert {k: page_query.get(k) for k in export_query} == export_query, (link, page.url)

    metrics = page.request.get(links["metrics.csv"])  # with the page's session cookie
    assert metrics.status == 200
    assert metrics.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(metrics.body().decode("utf-8-sig"))))
    assert rows[0] == ["period", "metric", "value"]
    exported: dict[str, list] = {}
    for period, metric, value in rows[1:]:
        exported.setdefault(metric, []).append((period, float(value)))
    on_screen = {
        chart.id.removeprefix("chart-").removesuffix("-data"): [
            (x, float(v))
            for x, v in zip(chart.traces[-1].x, chart.traces[-1].values, strict=True)
            if v is not None
        ]
        for chart in drawn[:-1]
    }
    assert exported == on_screen

    minutes = page.request.get(links["ai-minutes.csv"])
    assert minutes.status == 200
    rows = list(csv.reader(io.StringIO(minutes.body().decode("utf-8-sig"))))
    assert rows[0] == ["period", "account_id", "customer_id", "ai_minutes"]
    account, customer = page.locator("#results .scope code").all_inner_texts()
    series = drawn[-1].traces[-1]
    assert [(p, a, c, float(m)) for p, a, c, m in rows[1:]] == [
        (x, account, customer, float(v)) for x, v in zip(series.x, series.values, strict=True)
    ]

    with page.expect_download() as download:  # the link itself downloads in the browser
        page.click("#results .exports a[href*='ai-minutes.csv']")
    assert download.value.suggested_filename.startswith("globex-ai-minutes-")
    assert download.value.failure() is None
    browser_log.assert_clean()


# The page's foreground colour, resolved, and the fill of a chart's tick labels.
COLOURS = """
() => {
  const probe = document.createElement("span");
  probe.style.color = "var(--fg)";
  document.body.append(probe);
  const fg = getComputedStyle(probe).color;
  probe.remove();
  return { fg, tick: getComputedStyle(document.querySelector(".js-plotly-plot .xtick text")).fill };
}
"""


def test_charts_follow_the_colour_scheme(open_page, login, charts, shoot, browser_log):
    page = open_page(color_scheme="dark")
    login(page, "globex")
    charts.check(page)
    dark = page.evaluate(COLOURS)
    assert dark["tick"] == dark["fg"], "dark: chart text uses the page's foreground"
    shoot(page, "usage-globex-dark")

    page.emulate_media(color_scheme="light")  # the system scheme changes: charts redraw
    page.wait_for_function(
        "(before) => getComputedStyle(document.querySelector('.js-plotly-plot .xtick text'))"
        ".fill !== before",
        arg=dark["tick"],
    )
    light = page.evaluate(COLOURS)
    assert light["tick"] == light["fg"], "light: chart text uses the page's foreground"
    assert light["fg"] != dark["fg"]
    browser_log.assert_clean()
