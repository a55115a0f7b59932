"""A 404 or 405 in Chromium leads on: to the previous page of this site, the user's start
page, or the page whose button a POST-only address belongs to."""

from __future__ import annotations

import re

NOT_FOUND = "There is no page at this address."
# Signing in lands on the usage page, whose charts can take long on a loaded machine.
ROOMY_MS = 60_000


def test_a_404_leads_back_and_to_the_dashboard(page, login, shoot, browser_log):
    browser_log.allow(r"status of 404")  # the error page's own status; Chromium logs it
    page.set_default_navigation_timeout(ROOMY_MS)
    login(page, "acme")
    page.goto("/usage?preset=7d")
    with page.expect_navigation() as arrived:
        page.evaluate("location.assign('/no-such-page')")  # a broken link followed from here
    assert arrived.value.status == 404
    assert page.get_by_role("heading", name="Page not found").is_visible()
    assert NOT_FOUND in page.locator("main").inner_text()
    way_on = page.get_by_role("navigation", name="Where to go next")
    shoot(page, "error-404-way-on")

    way_on.get_by_role("link", name="Back to the previous page").click()
    page.wait_for_url(re.compile(r"/usage\?preset=7d$"))

    page.goto("/no-such-page")  # typed: no previous page to offer
    assert way_on.get_by_role("link").all_inner_texts() == ["Go to your dashboard"]
    way_on.get_by_role("link", name="Go to your dashboard").click()
    page.wait_for_url(re.compile(r"/usage$"))
    browser_log.assert_clean()


def test_a_404_when_signed_out_leads_to_sign_in(page, browser_log):
    browser_log.allow(r"status of 404")
    response = page.goto("/no-such-page")
    assert response.status == 404
    page.get_by_role("link", name="Sign in").click()
    page.wait_for_url(re.compile(r"/login$"))
    assert page.get_by_label("Email").is_visible()
    browser_log.assert_clean()


def test_opening_refresh_as_a_page_leads_to_the_usage_page(page, login, shoot, browser_log):
    browser_log.allow(r"status of 405")
    page.set_default_navigation_timeout(ROOMY_MS)
    login(page, "acme")
    response = page.goto("/usage/refresh?preset=30d")  # a bookmark, or a reload after a POST
    assert response.status == 405
    text = page.locator("main").inner_text()
    assert "pressing Refresh on the Usage page" in text
    shoot(page, "error-405-refresh")
    page.get_by_role("link", name="Go to the Usage page").click()
    page.wait_for_url(re.compile(r"/usage\?preset=30d$"))
    assert page.get_by_role("button", name="Refresh").is_visible()
    browser_log.assert_clean()
