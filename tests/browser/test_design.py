"""The usage page's layout in Chromium: the KPI strip, the one date-range control (and its
phone chip), charts that fill their rows, contrast in both schemes, tap targets, Copy link."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

METRICS = ("ApiCalls", "Events", "Sessions", "StorageBytes", "BotAnalyses")
PHONE = {"width": 390, "height": 844}
COMPARED = "/usage?preset=30d&compare=previous"


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def shown_range(page) -> tuple[date, date]:
    """Return the range the results say they show."""
    shown = page.locator("#results-range")
    return (
        date.fromisoformat(shown.get_attribute("data-range-start")),
        date.fromisoformat(shown.get_attribute("data-range-end")),
    )


def span_of(start: date, end: date) -> str:
    """Name the previous range of a daily view, as the page does: whole weeks back."""
    shift = timedelta(days=-(-((end - start).days + 1) // 7) * 7)
    return f"{(start - shift).isoformat()} – {(end - shift).isoformat()}"


def previous_of(start: date, end: date, level: bool) -> str:
    """Name what a daily view's change compares, as the page does: whole weeks back, and
    for a flow whose range holds today, its whole days only."""
    days = (end - start).days + 1
    shift = timedelta(days=-(-days // 7) * 7)  # the fewest whole weeks that clear the range
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    if level:  # one reading against the reading on the same day back
        return f"the reading of {(min(end, yesterday + timedelta(days=1)) - shift).isoformat()}"
    if end <= yesterday:
        return span_of(start, end)
    return (
        f"{(start - shift).isoformat()} – {(yesterday - shift).isoformat()} "
        f"(whole days to {yesterday.isoformat()}: today is not over)"
    )


# Every tile as the page shows it, beside the chart card it stands for.
READ_TILES = """
() => Array.from(document.querySelectorAll("#results .kpis .kpi")).map((tile) => {
  const link = tile.querySelector("a.kpi-link");
  const change = tile.querySelector(".kpi-change");
  const target = document.querySelector(link.getAttribute("href"));
  const card = target && target.closest("figure.chart");
  const block = card && card.querySelector("script[type='application/json']");
  const figure = block ? JSON.parse(block.textContent) : null;
  const values = figure ? figure.data[figure.data.length - 1].y : [];
  return {
    href: link.getAttribute("href"),
    title: tile.querySelector(".kpi-title").textContent.trim(),
    total: tile.querySelector(".kpi-total").firstChild.textContent.trim(),
    change: change ? change.textContent.replace(/\\s+/g, " ").trim() : null,
    direction: change ? change.getAttribute("data-direction") : null,
    changeClass: change ? change.className : "",
    cardTitle: target ? target.textContent.trim() : null,
    cardTotal: card ? card.querySelector(".big").textContent.trim() : null,
    cardChange: card
      ? card.querySelector(".change").textContent.replace(/\\s+/g, " ").trim() : null,
    values: values,
    points: Array.from(tile.querySelectorAll("svg.spark polyline")).reduce(
      (sum, line) => sum + line.getAttribute("points").trim().split(/\\s+/).length, 0),
    styled: tile.querySelectorAll("[style]").length,
  };
})
"""


def expected_points(values: list) -> int:
    """Return the sparkline's points: one per known value, a lone value drawn as a stroke."""
    runs = "".join("x" if v is not None else " " for v in values).split()
    return sum(2 if len(run) == 1 else len(run) for run in runs)


def test_kpi_strip_has_a_tile_per_source_metric_with_total_change_and_sparkline(
    page, login, charts, shoot, browser_log
):
    login(page, "globex")
    page.goto(COMPARED)
    charts.wait(page)
    start, end = shown_range(page)

    tiles = page.evaluate(READ_TILES)

    assert [t["href"] for t in tiles] == [
        *(f"#chart-{m}-title" for m in METRICS),
        "#chart-ai-minutes-title",
    ], "one tile per isnotai metric and one for AI minutes, each linking to its chart"
    for tile in tiles:
        assert tile["title"] == tile["cardTitle"]
        assert tile["total"] == tile["cardTotal"], "the tile repeats the card's total"
        card_change = tile["cardChange"].lstrip("▲▼ ")  # the card's arrow, then its words
        sign = card_change[:1]
        expected = {"+": "up", "\u2212": "down", "±": "flat"}.get(sign, "none")
        assert tile["direction"] == expected, tile
        assert f"kpi-{expected}" in tile["changeClass"]
        if expected == "none":  # the card says why
            assert tile["change"] == "no comparison"
        else:
            # The tile says its card's change and dates; the card alone says why whole days.
            assert tile["change"] == card_change.split(" (")[0], "the tile says its card's change"
            level = tile["href"] == "#chart-StorageBytes-title"
            previous = previous_of(start, end, level)
            assert card_change.endswith(f" vs {previous}"), "naming the previous dates"
        assert tile["points"] == expected_points(tile["values"]), tile["title"]
        assert tile["points"] > 0, f"{tile['title']}: no sparkline"
        assert tile["styled"] == 0, "no inline style (the CSP forbids it)"

    page.click("#results .kpi-link[href='#chart-Sessions-title']")
    page.wait_for_function("() => location.hash === '#chart-Sessions-title'")
    assert page.evaluate("() => document.querySelector(':target').id") == "chart-Sessions-title"
    shoot(page, "design-kpi-strip")
    browser_log.assert_clean()


def test_a_tile_without_a_change_says_so_in_words(page, login, charts, browser_log):
    login(page, "globex")
    today = datetime.now(UTC).date()
    page.goto(f"/usage?start={today}&end={today}&compare=previous")  # no day over yet
    charts.wait(page)
    tiles = page.evaluate(READ_TILES)
    flows = [t for t in tiles if t["href"] != "#chart-StorageBytes-title"]
    assert flows and all(t["direction"] == "none" for t in flows), flows
    assert all(t["change"] == "no comparison" and "kpi-none" in t["changeClass"] for t in flows)
    assert all(t["cardChange"] == "no comparison until a day of the range is over" for t in flows)
    browser_log.assert_clean()


def test_one_range_control_applies_compare_and_always_shows_the_compared_dates(
    page, login, charts, browser_log
):
    login(page, "globex")
    page.goto("/usage?preset=30d")
    charts.wait(page)
    assert page.locator("#results-range .compared").count() == 0
    assert page.locator("#results .kpi-vs").count() == 0

    toggle = page.locator("#filters .range-control input[type=checkbox][name=compare]")
    charts.mark_stale(page)
    with page.expect_response(lambda r: "compare=previous" in r.url) as answer:
        toggle.check()
    assert answer.value.request.headers.get("hx-request") == "true"
    charts.wait(page)
    start, end = shown_range(page)
    compared = page.locator("#results-range .compared")
    # The range holds today: changes set its whole days against the same days back.
    changes = previous_of(start, end, level=False).replace(" (whole days", ", whole days")[:-1]
    assert compared.inner_text().strip() == (
        f", compared with {span_of(start, end)} (changes: {changes})"
    )
    assert query_of(page.url)["compare"] == "previous"

    charts.mark_stale(page)
    with page.expect_response(lambda r: "/usage?" in r.url) as answer:
        toggle.uncheck()
    assert query_of(answer.value.url).get("compare", "none") == "none"
    charts.wait(page)
    assert page.locator("#results-range .compared").count() == 0
    assert query_of(page.url)["compare"] == "none"
    browser_log.assert_clean()


def test_on_a_phone_the_range_control_is_one_chip_that_opens_the_form(
    open_page, login, charts, shoot, browser_log
):
    page = open_page(viewport=PHONE, has_touch=True)
    login(page, "globex")
    page.goto(COMPARED)
    charts.wait(page)

    chip = page.locator(".range-chip summary")
    assert chip.is_visible()
    assert page.locator("[data-range-chip]").inner_text() == "Last 30 days · compare"
    assert chip.inner_text().endswith("▾")
    assert not page.locator("#filters").is_visible(), "the form is folded into the chip"
    assert page.locator("#results-range").is_visible(), "the dates shown stay visible"

    chip.click()
    assert page.locator("#filters").is_visible()
    with page.expect_response(lambda r: "preset=7d" in r.url):
        page.select_option("#filters select[name=preset]", "7d")
    page.wait_for_function(
        "() => document.querySelector('[data-range-chip]').textContent === 'Last 7 days · compare'"
    )
    shoot(page, "design-phone-chip")

    # Tap targets: every control of the filters, the results bar, the page head and tables.
    page.locator("#results details.numbers summary").first.click()
    small = page.evaluate(
        """() => Array.from(document.querySelectorAll(
            "#filters button, #filters select, #filters .toggle,"
            + " #filters input:not([type=hidden]):not([type=checkbox]), .range-chip summary,"
            + " .page-head a, .page-head button, .freshness button,"
            + " .freshness a, #results table a, #results .numbers summary, .kpi-link"))
          .filter((el) => el.getClientRects().length > 0)
          .map((el) => [el.outerHTML.slice(0, 80), el.getBoundingClientRect().height])
          .filter(([, height]) => height < 44)"""
    )
    assert small == [], f"tap targets under 44 px: {small}"
    browser_log.assert_clean()


def test_without_javascript_the_chip_still_opens_the_form_and_copy_link_is_hidden(
    open_page, login, browser_log
):
    page = open_page(viewport=PHONE, java_script_enabled=False)
    login(page, "globex")
    page.goto(COMPARED)
    assert not page.locator("#filters").is_visible()
    page.click(".range-chip summary")
    assert page.locator("#filters").is_visible()
    assert not page.locator("[data-copy-link]").is_visible()
    browser_log.assert_clean()


def rows_of(page, selector: str) -> list[list[dict]]:
    """Group the boxes of a grid's children by row; with the grid's own box."""
    boxes = page.evaluate(
        """(selector) => {
          const grid = document.querySelector(selector);
          const box = (el) => { const r = el.getBoundingClientRect();
            return {left: r.left, right: r.right, top: Math.round(r.top)}; };
          return [box(grid), ...Array.from(grid.children).map(box)];
        }""",
        selector,
    )
    grid, children = boxes[0], boxes[1:]
    rows: dict[int, list[dict]] = {}
    for child in children:
        rows.setdefault(child["top"], []).append(child)
    return [[grid], *(sorted(r, key=lambda b: b["left"]) for _, r in sorted(rows.items()))]


@pytest.mark.parametrize("width", [1000, 1400])
def test_charts_fill_their_rows_and_a_lone_chart_spans_its_section(
    open_page, login, charts, width, browser_log
):
    page = open_page(viewport={"width": width, "height": 900})
    login(page, "globex")
    page.goto("/usage?preset=30d")
    charts.wait(page)

    grid, *rows = rows_of(page, "#metrics-title ~ .charts")
    assert sum(len(r) for r in rows) == 5
    assert len(rows) > 1, "five charts share rows"
    for row in rows:
        assert abs(row[0]["left"] - grid[0]["left"]) < 2
        assert abs(row[-1]["right"] - grid[0]["right"]) < 2, f"a hole at the end of {row}"

    grid, *rows = rows_of(page, "#minutes-title ~ .charts")
    assert len(rows) == 1 and len(rows[0]) == 1
    assert abs(rows[0][0]["right"] - rows[0][0]["left"] - (grid[0]["right"] - grid[0]["left"])) < 2

    page.goto("/usage?preset=30d&metric=ApiCalls")
    charts.wait(page)
    grid, *rows = rows_of(page, "#metrics-title ~ .charts")
    assert len(rows) == 1 and len(rows[0]) == 1, "one metric: one chart"
    assert abs(rows[0][0]["right"] - grid[0]["right"]) < 2, "a single chart spans the section"
    browser_log.assert_clean()


# Contrast of every text in the page (not the charts' own SVG), against the colour behind
# it: WCAG 2 relative luminance, 4.5:1 (3:1 for large text).
LOW_CONTRAST = """
() => {
  const parse = (value) => {
    const m = value.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const over = (top, bottom) => ({
    r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
    b: top.b * top.a + bottom.b * (1 - top.a), a: 1});
  const behind = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const bg = parse(getComputedStyle(node).backgroundColor);
      if (bg && bg.a > 0) { layers.push(bg); if (bg.a === 1) break; }
    }
    const white = {r: 255, g: 255, b: 255, a: 1};
    return layers.reverse().reduce((acc, layer) => over(layer, acc), white);
  };
  const failures = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    const el = text.parentElement;
    if (!text.textContent.trim() || !el || el.closest("svg, .plot, script, [hidden]")) continue;
    if (el.closest(":disabled") || el.getClientRects().length === 0) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || parseFloat(style.opacity) === 0) continue;
    if (el.closest(".htmx-indicator")) continue;  // invisible unless loading
    const bg = behind(el);
    const fg = over(parse(style.color), bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && parseInt(style.fontWeight, 10) >= 700);
    if (ratio < (large ? 3 : 4.5)) {
      const words = text.textContent.trim().slice(0, 40);
      failures.push(`${ratio.toFixed(2)} ${el.tagName}.${el.className}: ${words}`);
    }
  }
  return failures;
}
"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_meets_wcag_aa_contrast_in_both_colour_schemes(
    open_page, login, charts, shoot, scheme, browser_log
):
    page = open_page(color_scheme=scheme)
    login(page, "globex")
    page.goto(COMPARED)
    charts.wait(page)
    page.locator("#results details.numbers summary").first.click()
    assert page.evaluate(LOW_CONTRAST) == []
    shoot(page, f"design-contrast-{scheme}")
    browser_log.assert_clean()


def test_copy_link_copies_the_address_of_the_view_shown(open_page, login, charts, browser_log):
    page = open_page(permissions=["clipboard-read", "clipboard-write"])
    login(page, "globex")
    page.goto("/usage?preset=30d")
    charts.wait(page)

    button = page.get_by_role("button", name="Copy link")
    button.click()
    page.wait_for_function(
        "() => document.querySelector('[data-copy-status]').textContent === 'Link copied.'"
    )
    assert page.evaluate("() => navigator.clipboard.readText()") == page.url

    # After a filter change the address is the new view's, and so is the copied link.
    charts.mark_stale(page)
    with page.expect_response(lambda r: "granularity=week" in r.url):
        page.select_option("#filters select[name=granularity]", "week")
    charts.wait(page)
    page.wait_for_function("() => location.search.includes('granularity=week')")
    assert page.locator("[data-copy-status]").inner_text() == "", "the old status is cleared"
    button.click()
    page.wait_for_function(
        "() => document.querySelector('[data-copy-status]').textContent === 'Link copied.'"
    )
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == page.url and query_of(copied)["granularity"] == "week"
    browser_log.assert_clean()


# A browser without the asynchronous Clipboard API (an insecure origin, an old browser).
NO_CLIPBOARD = "Object.defineProperty(Navigator.prototype, 'clipboard', {get: () => undefined});"


def test_copy_link_without_a_clipboard_selects_the_link_to_copy_by_hand(
    open_page, login, charts, browser_log
):
    page = open_page()
    page.context.add_init_script(script=NO_CLIPBOARD)
    login(page, "globex")
    page.goto("/usage?preset=30d")
    charts.wait(page)

    page.get_by_role("button", name="Copy link").click()
    field = page.get_by_role("textbox", name="Link to this view")
    assert field.is_visible()
    assert field.input_value() == page.url
    selected = page.evaluate(
        "() => { const f = document.activeElement; return"
        " [f.getAttribute('aria-label'), f.selectionStart, f.selectionEnd, f.value.length]; }"
    )
    assert selected == ["Link to this view", 0, len(page.url), len(page.url)]
    assert "Ctrl+C" in page.locator("[data-copy-status]").inner_text()
    browser_log.assert_clean()
