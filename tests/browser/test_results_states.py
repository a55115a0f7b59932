"""The results in Chromium at their edges: past the refresh limit (with and without
JavaScript), dates edited beside a preset without JavaScript, and days after today."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

REFRESH = "#results form[action*='/usage/refresh'] button"
APPLY = "#filters button[type=submit]"
PRESET = "#filters select[name=preset]"
START = "#filters input[name=start]"
LIMITED = "#results [role=status]:has-text('Refresh is limited')"


def today() -> date:
    return datetime.now(UTC).date()


def shown_range(page) -> tuple[date, date]:
    """Return the range the results say they show (#results-range)."""
    marked = page.locator("#results-range")
    start, end = marked.get_attribute("data-range-start"), marked.get_attribute("data-range-end")
    text = marked.inner_text()
    assert f"Showing {start} to {end}" in text, text
    return date.fromisoformat(start), date.fromisoformat(end)


def assert_waiting(page) -> None:
    """The Refresh button is disabled with its wait, and a status line says why."""
    button = page.locator(REFRESH)
    assert button.is_disabled()
    wait = int(button.get_attribute("data-refresh-wait"))
    assert 0 < wait <= 60
    assert re.fullmatch(r"Refresh again in \d+ s", button.inner_text().strip())
    assert page.locator(LIMITED).count() == 1


def test_past_the_refresh_limit_the_charts_stay_and_the_button_waits(
    open_page, login, charts, shoot, browser_log
):
    page = open_page()
    login(page, "initech")
    charts.check(page)
    # A second tab of the same session, opened while Refresh was still allowed.
    other = page.context.new_page()
    browser_log.watch(other)
    other.goto(page.url)
    before = charts.check(other)

    for _ in range(3):
        assert page.locator(REFRESH).is_enabled()
        charts.mark_stale(page)
        with page.expect_response(lambda r: "/usage/refresh" in r.url) as answer:
            page.click(REFRESH)
        assert answer.value.status == 200
        charts.check(page)
    assert_waiting(page)  # the third used the last one: the button says so at once

    charts.mark_stale(other)
    with other.expect_response(lambda r: "/usage/refresh" in r.url) as answer:
        other.click(REFRESH)  # one more, from the tab that still offers it

    assert answer.value.status == 200
    after = charts.check(other)  # the charts were swapped for themselves, not an error
    assert [c.id for c in after] == [c.id for c in before]
    assert [c.traces[-1].values for c in after] == [c.traces[-1].values for c in before]
    assert other.locator("#results .notice.error").count() == 0
    assert other.locator("#results .exports a").count() == 2
    assert_waiting(other)
    shoot(other, "usage-initech-refresh-limited")
    browser_log.assert_clean()


def test_without_javascript_a_refresh_past_the_limit_comes_back_to_the_page(
    open_page, login, shoot, browser_log
):
    page = open_page(java_script_enabled=False)
    login(page, "globex")
    other = page.context.new_page()
    other.goto(page.url)
    for _ in range(3):
        with page.expect_navigation():
            page.click(REFRESH)
        assert urlsplit(page.url).path == "/usage"
    assert_waiting(page)

    with other.expect_navigation():
        other.click(REFRESH)

    assert urlsplit(other.url).path == "/usage", "back on the page, not on a refusal"
    assert other.locator("#results .notice.error").count() == 0
    assert other.locator("#results details.numbers table").count() == 6  # the numbers stay
    assert_waiting(other)
    other.reload()  # every render shows the wait while it lasts, and does not extend it
    assert_waiting(other)
    shoot(other, "usage-globex-refresh-limited-nojs")
    browser_log.assert_clean()


def test_without_javascript_dates_edited_beside_a_preset_win(open_page, login, shoot, browser_log):
    page = open_page(java_script_enabled=False)
    login(page, "globex")
    now = today()

    page.select_option(PRESET, "7d")  # a preset alone: its range
    with page.expect_navigation():
        page.click(APPLY)
    assert shown_range(page) == (now - timedelta(days=6), now)
    assert page.input_value(PRESET) == "7d"

    edited = now - timedelta(days=20)  # then From edited, the preset still selected
    page.fill(START, edited.isoformat())
    with page.expect_navigation():
        page.click(APPLY)
    assert shown_range(page) == (edited, now)
    assert page.input_value(PRESET) == "custom"
    assert page.input_value(START) == edited.isoformat()
    shoot(page, "usage-globex-edited-dates-nojs")

    page.select_option(PRESET, "30d")  # a preset picked beside the dates shown: the preset
    with page.expect_navigation():
        page.click(APPLY)
    assert shown_range(page) == (now - timedelta(days=29), now)
    assert page.input_value(PRESET) == "30d"
    browser_log.assert_clean()


def test_days_after_today_are_gaps_not_zeros_and_a_future_range_is_refused(
    page, login, charts, shoot, browser_log
):
    login(page, "globex")
    now = today()
    page.goto(f"/usage?start={now - timedelta(days=3)}&end={now + timedelta(days=3)}")

    drawn = charts.check(page)

    assert len(drawn) == 6
    for chart in drawn:
        values = chart.traces[-1].values
        assert len(values) == 7
        assert values[4:] == [None, None, None], (chart.id, values)
    assert page.locator("#results details.numbers td", has_text="not yet").count() == 3 * 6
    assert page.locator("#results .total", has_text="in the range so far").count() == 5
    shoot(page, "usage-globex-days-to-come")

    browser_log.allow(r"status of 400")  # Chromium reports the refused page's status
    response = page.goto(f"/usage?start={now + timedelta(days=1)}&end={now + timedelta(days=7)}")
    assert response.status == 400
    alert = page.locator("#results [role=alert]")
    expected = f"The range starts after today ({now}): there is no usage to show yet."
    assert expected in alert.inner_text()
    assert page.locator("#results [data-chart]").count() == 0
    assert page.locator("#results", has_text="updated").count() == 0
    browser_log.assert_clean()
