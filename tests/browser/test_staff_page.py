"""The staff page in Chromium: charts drawn, the account filter swapped through htmx."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

NORTHWIND = "acct-northwind"
HOSTILE = "acct-</script><script>alert(1)</script>"


@pytest.fixture
def staff_page(server, page, login):
    """Return a page signed in as staff on /staff; skip while /staff is not registered."""
    answer = requests.get(f"{server.base}/staff", allow_redirects=False, timeout=10)
    if answer.status_code == 404:
        pytest.skip("GET /staff answers 404: the staff blueprint is not registered yet")
    login(page, "staff")
    if urlsplit(page.url).path != "/staff":
        page.goto("/staff")
    return page


def test_staff_page_draws_every_chart(staff_page, charts, shoot, browser_log):
    page = staff_page

    drawn = charts.check(page)

    assert [c.id for c in drawn] == ["staff-total-data", "staff-accounts-data"]
    bars = drawn[1].traces[-1]
    # One bar per row of the chart's table of numbers: the top accounts and "other", if any.
    numbers = page.locator("figure[aria-labelledby='staff-accounts-title'] details tbody tr")
    assert bars.drawn == numbers.count() > 0
    assert page.locator("#staff-accounts tbody tr").count() > 0, "the table of accounts"
    shoot(page, "staff")
    browser_log.assert_clean()


@pytest.mark.parametrize("account", [NORTHWIND, HOSTILE], ids=["northwind", "hostile-id"])
def test_account_filter_swaps_the_results_through_htmx(
    staff_page, charts, shoot, browser_log, account
):
    page = staff_page
    everyone = charts.check(page)
    every_url = page.url
    page.evaluate("window.__marker = 1")

    charts.mark_stale(page)
    with page.expect_response(
        lambda r: urlsplit(r.url).path == "/staff" and "account=" in r.url
    ) as answer:
        page.fill("#account-picker", account)
        page.press("#account-picker", "Tab")  # leaving the field is a change, as for a user
    response = answer.value
    assert response.status == 200
    assert response.request.headers.get("hx-request") == "true"
    drawn = charts.check(page)

    assert page.evaluate("window.__marker") == 1, "the page was reloaded instead of swapped"
    assert dict(parse_qsl(urlsplit(page.url).query)).get("account") == account
    assert page.locator("#staff-title code").first.inner_text() == account  # shown as text
    assert [c.id for c in drawn] == ["staff-series-data", "staff-customers-data"]
    assert page.input_value("#account-picker") == account
    shoot(page, f"staff-account-{'hostile' if account == HOSTILE else 'northwind'}")

    charts.mark_stale(page)  # Back restores every account, with its chart
    with page.expect_response(
        lambda r: r.request.headers.get("hx-history-restore-request") == "true"
    ):
        page.go_back()
    assert [c.id for c in charts.check(page)] == [c.id for c in everyone]
    assert page.url == every_url
    assert page.evaluate("window.__marker") == 1
    browser_log.assert_clean()  # no console errors, no CSP violations, no dialog


def test_account_picker_searches_as_you_type(staff_page, browser_log):
    page = staff_page
    sent = []
    page.on(
        "request",
        lambda r: sent.append(r.url) if urlsplit(r.url).path == "/staff/accounts/options" else None,
    )
    page.locator("#account-picker").press_sequentially("north", delay=20)
    deadline = time.monotonic() + 5
    while not sent and time.monotonic() < deadline:  # after the 300 ms debounce
        page.wait_for_timeout(100)
    assert sent, (
        "typing in the account picker asked for no options; the browser reported "
        f"{browser_log.page_errors + browser_log.csp_violations}"
    )
    assert dict(parse_qsl(urlsplit(sent[-1]).query)).get("q") == "north"
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#account-options option'))"
        f".map((o) => o.value).join() === {NORTHWIND!r}"
    )
    browser_log.assert_clean()
