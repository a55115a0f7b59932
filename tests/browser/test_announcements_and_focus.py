"""What a screen reader hears and where the keyboard stays: one status line per new set of
results (not the whole region read out), the widget's range kept focused after a switch, and
narrow tables that scroll under the keyboard; tap targets in the widget on a phone."""

from __future__ import annotations

from tests.browser.widgets import mint_widget_paths

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def test_new_results_are_announced_in_one_line(page, login, charts):
    login(page, "acme")
    page.goto("/usage?preset=30d")
    charts.wait(page)
    results = page.locator("#results")
    # The region itself is not live: each swap would read out every chart and table.
    assert results.get_attribute("aria-live") is None
    status = page.locator("#results-status")
    assert status.get_attribute("role") == "status"
    assert status.inner_text() == ""
    # Plotly's own text-measuring SVG is not announced as an image.
    assert page.locator("#js-plotly-tester").get_attribute("aria-hidden") == "true"
    # Idle, the loading word is out of the reading order.
    assert page.locator("#loading").evaluate("e => getComputedStyle(e).visibility") == "hidden"

    charts.mark_stale(page)
    page.select_option("select[name=preset]", "7d")
    charts.wait(page)
    page.wait_for_function("() => document.getElementById('results-status').textContent !== ''")
    said = status.inner_text()
    shown = page.locator("#results-range").inner_text()
    assert said.startswith("Results updated. Showing")
    assert " ".join(shown.split()) in said


def test_a_widget_keeps_the_keyboard_on_the_range_it_switched_to(open_page, server, charts):
    paths = mint_widget_paths(server)
    page = open_page()
    page.goto(paths["ai-minutes"])
    charts.wait(page)
    link = page.locator("nav.ranges a", has_text="Last 7 days")
    link.focus()
    charts.mark_stale(page)
    page.keyboard.press("Enter")
    charts.wait(page)
    page.wait_for_function(
        "() => document.activeElement"
        " && document.activeElement.matches('nav.ranges a[aria-current]')"
    )
    assert page.evaluate("document.activeElement.textContent.trim()") == "Last 7 days"
    # …and a screen reader hears which range it now shows, once.
    said = page.locator("#widget-announce")
    assert said.get_attribute("role") == "status"
    assert said.inner_text().startswith("Showing ")
    assert page.locator("#widget .freshness").inner_text().split(" ·")[0] in said.inner_text()


def test_widget_ranges_are_tap_targets_on_a_phone(open_page, server, charts):
    page = open_page(**PHONE)
    page.goto(mint_widget_paths(server)["ai-minutes"])
    charts.wait(page)
    heights = page.locator("nav.ranges a").evaluate_all(
        "links => links.map(a => a.getBoundingClientRect().height)"
    )
    assert heights and min(heights) >= 44, heights


def test_staff_tables_that_scroll_take_the_keyboard(open_page, login, charts):
    page = open_page(**PHONE)
    login(page, "staff")
    page.goto("/staff?preset=30d")
    charts.wait(page)
    boxes = page.locator(".staff-table[tabindex='0'], .table-scroll[tabindex='0']")
    assert boxes.count() >= 1
    # Every box whose table is wider than it scrolls, and can be reached by Tab.
    for index in range(boxes.count()):
        box = boxes.nth(index)
        wide = box.evaluate("b => b.scrollWidth > b.clientWidth")
        if wide:
            assert box.evaluate("b => getComputedStyle(b).overflowX") == "auto"
    # No movers' cell is cut off past what can be scrolled to.
    clipped = page.evaluate(
        """() => Array.from(document.querySelectorAll('.staff-movers td')).filter(td => {
             let box = td.closest('.table-scroll');
             let r = td.getBoundingClientRect(), b = box.getBoundingClientRect();
             return r.right > b.left + box.scrollWidth + 1;
           }).length"""
    )
    assert clipped == 0


def test_back_puts_the_keyboard_on_the_pages_heading(page, login, charts):
    login(page, "acme")
    page.goto("/usage?preset=30d")
    charts.wait(page)
    charts.mark_stale(page)
    page.select_option("select[name=preset]", "7d")
    charts.wait(page)
    page.wait_for_url("**preset=7d**")
    page.go_back()
    page.wait_for_url("**preset=30d**")
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.matches('main h1')"
    )
    assert page.evaluate("document.activeElement.textContent").startswith("Usage")
