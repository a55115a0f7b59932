"""What a filter change does to the results on /usage, in Chromium: charts in view keep their
element and are redrawn in place, the rest are drawn after them, the new results go in with
no settle delay, tables stay folded but whole, and the fragment comes without the headers
only a document obeys."""

from __future__ import annotations

import pytest
import requests

from .conftest import sign_in

DOCUMENT_ONLY = (
    "Content-Security-Policy",
    "X-Frame-Options",
    "Permissions-Policy",
    "Referrer-Policy",
)

# Per chart element: an expando that survives only if the element itself is kept.
TAG_CHARTS = """
() => {
  const inView = (el) => {
    const box = el.getBoundingClientRect();
    return box.bottom > 0 && box.top < window.innerHeight;
  };
  const found = { inView: [], outOfView: [] };
  window.__before = {};
  document.querySelectorAll("#results [data-chart]").forEach((el) => {
    const id = el.getAttribute("data-chart");
    el.__tag = id;
    window.__before[id] = el;
    (inView(el) ? found.inView : found.outOfView).push(id);
  });
  return found;
}
"""

# Notes each Plotly.react call: its chart, whether in view, whether in the swap's own task.
WATCH_DRAWS = """
() => {
  window.__draws = [];
  window.__swapTask = false;
  document.addEventListener("htmx:beforeSwap", () => {
    window.__swapTask = true;
    window.setTimeout(() => { window.__swapTask = false; }, 0);
  });
  document.addEventListener("htmx:afterSettle", () => {
    window.__settledInSwapTask = window.__swapTask;
  });
  const react = window.Plotly.react;
  window.Plotly.react = function (el) {
    const box = el.getBoundingClientRect();
    window.__draws.push({
      id: el.getAttribute("data-chart"),
      inView: box.bottom > 0 && box.top < window.innerHeight,
      inSwapTask: window.__swapTask,
    });
    return react.apply(this, arguments);
  };
}
"""


@pytest.fixture(scope="module")
def signed_in(browser, server) -> dict:
    """Sign globex in once for the module (sign-ins from one address are limited)."""
    context = browser.new_context(base_url=server.base)
    try:
        sign_in(context.new_page(), "globex")
        return context.storage_state()
    finally:
        context.close()


@pytest.fixture
def usage_page(open_page, signed_in, charts):
    """globex's /usage, the last 30 days per day, all metrics (six charts)."""
    page = open_page(storage_state=signed_in)
    page.goto("/usage?preset=30d&metric=all&granularity=day")
    assert len(charts.check(page)) == 6
    return page


def change_metric(page, charts, metric: str) -> None:
    charts.mark_stale(page)
    with page.expect_response(lambda r: f"metric={metric}" in r.url):
        page.select_option("#filters select[name=metric]", metric)
    charts.check(page)


def test_a_chart_in_view_is_redrawn_in_place_and_the_others_purged(usage_page, charts, browser_log):
    page = usage_page
    before = page.evaluate(TAG_CHARTS)
    assert "chart-ApiCalls-data" in before["inView"], before
    assert "chart-ai-minutes-data" in before["outOfView"], before

    change_metric(page, charts, "ApiCalls")

    kept = page.evaluate(
        """() => {
          const el = document.querySelector('[data-chart="chart-ApiCalls-data"]');
          const figure = JSON.parse(document.getElementById("chart-ApiCalls-data").textContent);
          return { same: el === window.__before["chart-ApiCalls-data"],
                   y: el.data[0].y, expected: figure.data[0].y,
                   stale: el.hasAttribute("data-stale-chart"),
                   label: el.getAttribute("aria-label"), classes: el.className };
        }"""
    )
    assert kept["same"], "the chart in view keeps its element"
    assert kept["y"] == kept["expected"], "and shows the new figure's data"
    assert not kept["stale"] and kept["label"].startswith("API calls chart")
    assert "js-plotly-plot" in kept["classes"] and "plot" in kept["classes"]
    # Out of view: a new element, drawn anew; the old one, and the charts the new results
    # no longer have, are purged rather than left holding their listeners.
    fresh = page.evaluate(
        "() => document.querySelector('[data-chart=\"chart-ai-minutes-data\"]') !== "
        "window.__before['chart-ai-minutes-data']"
    )
    assert fresh
    page.wait_for_function(
        """() => ["chart-ai-minutes-data", "chart-Events-data", "chart-Sessions-data"]
          .every((id) => !window.__before[id].isConnected && !window.__before[id]._fullLayout)"""
    )
    browser_log.assert_clean()


def test_charts_in_view_are_drawn_in_the_swap_and_the_rest_after_it(
    usage_page, charts, browser_log
):
    page = usage_page
    page.evaluate(WATCH_DRAWS)

    change_metric(page, charts, "ApiCalls")
    page.evaluate("() => { window.__draws = []; }")
    change_metric(page, charts, "all")

    page.wait_for_function("() => window.__draws.length === 6")
    draws = page.evaluate("() => window.__draws")
    assert sorted(d["id"] for d in draws) == sorted(
        page.evaluate(
            "() => [...document.querySelectorAll('[data-chart]')].map("
            "(el) => el.getAttribute('data-chart'))"
        )
    )
    in_view = [d for d in draws if d["inView"]]
    assert in_view and len(in_view) < len(draws), draws
    assert all(d["inSwapTask"] for d in in_view), draws
    # The rest wait for the first paint. (A chart at the fold may go either way: one drawn
    # above it can push it out while the swap draws it.)
    later = [d for d in draws if not d["inSwapTask"]]
    assert later and not any(d["inView"] for d in later), draws
    assert page.evaluate("() => window.__settledInSwapTask") is True, "no settle delay"
    browser_log.assert_clean()


def test_new_tables_are_whole_and_folded_and_an_opened_one_stays_open(
    usage_page, charts, browser_log
):
    page = usage_page
    change_metric(page, charts, "Events")
    events = page.locator(".chart", has=page.locator("#chart-Events-title"))
    table = events.locator("details.numbers")
    assert table.get_attribute("open") is None
    points = page.evaluate(
        "() => JSON.parse(document.getElementById('chart-Events-data').textContent)"
        ".data.at(-1).x.length"
    )
    assert table.locator("tbody tr").count() == points

    table.locator("summary").click()
    page.evaluate(WATCH_DRAWS)
    page.emulate_media(color_scheme="dark")  # every chart is redrawn in the new colours
    page.wait_for_function(
        "() => window.__draws.length === document.querySelectorAll('[data-chart]').length"
    )
    assert table.get_attribute("open") is not None, "a redraw leaves an opened table open"
    browser_log.assert_clean()


def session_of(signed_in: dict) -> requests.Session:
    session = requests.Session()
    for cookie in signed_in["cookies"]:
        session.cookies.set(cookie["name"], cookie["value"], domain=cookie["domain"])
    return session


def test_a_fragment_comes_without_the_headers_only_a_document_obeys(signed_in, server):
    session = session_of(signed_in)
    url = f"{server.base}/usage?preset=7d&metric=all"

    fragment = session.get(url, headers={"HX-Request": "true"}, timeout=30)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    for name in DOCUMENT_ONLY:
        assert name not in fragment.headers, (name, dict(fragment.headers))
    assert fragment.headers["X-Content-Type-Options"] == "nosniff"
    assert fragment.headers["Cache-Control"] == "private, no-store"
    assert "HX-Request" in fragment.headers["Vary"]

    refused = session.get(
        f"{server.base}/usage?preset=nope", headers={"HX-Request": "true"}, timeout=30
    )
    assert refused.status_code == 400 and "Content-Security-Policy" not in refused.headers

    # The page itself, and a history restore (which htmx sends with HX-Request), are
    # documents: they keep every header.
    for headers in ({}, {"HX-Request": "true", "HX-History-Restore-Request": "true"}):
        page = session.get(url, headers=headers, timeout=30)
        assert "<html" in page.text
        for name in ("Content-Security-Policy", "X-Frame-Options", "Referrer-Policy"):
            assert name in page.headers, (headers, name)
