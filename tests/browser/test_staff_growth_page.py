"""Who is growing, as staff see it in Chromium: the total per day, a sparkline and change per
account, top movers; a click on a bar opens its account; heading and tab title follow."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from .test_staff_page import staff_page  # noqa: F401 - the fixture, used by name

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def plotly_compressed(server):
    """Have the server compress plotly.js once before the first page needs it.

    It compresses each vendor file on its first request (seconds on a loaded machine);
    run alone, this module's first sign-in would otherwise wait on it past its timeout.
    """
    package = ROOT / "node_modules" / "plotly.js-basic-dist-min" / "package.json"
    version = json.loads(package.read_text())["version"]
    answer = requests.get(
        f"{server.base}/assets/vendor/{version}/plotly.js",
        headers={"Accept-Encoding": "br"},
        timeout=300,
    )
    assert answer.status_code == 200


EVERYONE = "Staff · AI minutes · every account and customer · Usage dashboard"


def test_the_overview_shows_who_is_growing(staff_page, charts, shoot, browser_log):  # noqa: F811
    page = staff_page
    drawn = {c.id: c for c in charts.check(page)}
    assert "staff-total-data" in drawn and "staff-accounts-data" in drawn

    rows = page.locator("#staff-accounts tbody tr")
    assert rows.count() > 0
    first = rows.first
    # A drawn sparkline (SVG polyline, sized by attributes) and a change in words.
    spark = first.locator("svg.sparkline")
    assert spark.get_attribute("aria-label").startswith("AI minutes per day: lowest ")
    box = spark.bounding_box()
    assert box is not None and box["width"] > 50 and box["height"] > 10
    assert spark.locator("polyline, circle").count() > 0
    change = first.locator("td").nth(3).inner_text()
    assert change == "new" or change == "–" or "%" in change

    movers = page.locator("section.staff-movers")
    assert movers.locator("h3").inner_text().startswith("Top movers")
    minutes = page.locator("#staff-movers-minutes tbody tr")
    assert minutes.count() > 0
    assert minutes.first.locator("td").first.inner_text().startswith("+")
    assert page.title() == EVERYONE
    shoot(page, "staff-who-is-growing")
    browser_log.assert_clean()  # no inline style reached the page: the CSP would report it


def test_a_click_on_a_bar_opens_its_account_and_titles_follow(
    staff_page,  # noqa: F811
    charts,
    shoot,
    browser_log,
):
    page = staff_page
    charts.check(page)
    page.evaluate("window.__marker = 1")
    top = page.locator("figure[aria-labelledby='staff-accounts-title'] details tbody tr").first
    account = top.locator("th").text_content().strip()
    bar = page.locator("[data-chart='staff-accounts-data'] .barlayer g.point path").first
    box = bar.bounding_box()
    assert box is not None

    charts.mark_stale(page)
    with page.expect_response(
        lambda r: urlsplit(r.url).path == "/staff" and "account=" in r.url
    ) as answer:
        # Plotly takes clicks on the plot's drag layer above the bar: click where it is.
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert answer.value.status == 200
    charts.check(page)

    assert page.evaluate("window.__marker") == 1, "the page was reloaded instead of swapped"
    page.wait_for_url(lambda url: "account=" in url)
    assert dict(parse_qsl(urlsplit(page.url).query)).get("account") == account
    assert page.locator("#staff-title code").first.inner_text() == account
    heading = page.locator("#staff-heading")
    assert heading.inner_text() == f"AI minutes · account {account}"
    page.wait_for_function(
        "(want) => document.title === want",
        arg=f"Staff · AI minutes · account {account} · Usage dashboard",
    )
    assert page.locator("h1").count() == 1
    shoot(page, "staff-bar-clicked")

    charts.mark_stale(page)  # Back: every account again, named so
    with page.expect_response(
        lambda r: r.request.headers.get("hx-history-restore-request") == "true"
    ):
        page.go_back()
    charts.check(page)
    page.wait_for_function("(want) => document.title === want", arg=EVERYONE)
    assert page.locator("#staff-heading").inner_text() == "AI minutes · every account and customer"
    browser_log.assert_clean()


def test_a_customer_bar_opens_the_customer(staff_page, charts, browser_log):  # noqa: F811
    page = staff_page
    page.goto("/staff?account=acct-northwind")
    charts.check(page)
    top = page.locator("figure[aria-labelledby='staff-customers-title'] details tbody tr").first
    customer = top.locator("th").text_content().strip()
    bar = page.locator("[data-chart='staff-customers-data'] .barlayer g.point path").first
    box = bar.bounding_box()
    assert box is not None
    charts.mark_stale(page)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(lambda url: "customer=" in url)
    charts.check(page)
    query = dict(parse_qsl(urlsplit(page.url).query))
    assert (query.get("account"), query.get("customer")) == ("acct-northwind", customer)
    page.wait_for_function(
        "(want) => document.title === want",
        arg=f"Staff · AI minutes · account acct-northwind · customer {customer} · Usage dashboard",
    )
    browser_log.assert_clean()
