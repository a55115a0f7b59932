"""Reading a usage chart in Chromium: ticks on bucket starts, partial periods, the month's
pace on hover and focus, change arrows, dated legends, and the numbers without JavaScript."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

# The demo server runs on the real clock: its today is the machine's (UTC).
TODAY = datetime.now(UTC).date()
SHORT_DATE = re.compile(r"^[A-Z][a-z]{2} \d{1,2}$")  # "Nov 3"
ISO_SPAN = r"\d{4}-\d\d-\d\d – \d{4}-\d\d-\d\d"


def sign_in(page, login, who: str) -> None:
    """Sign in; the landing page of a cold demo server reads every upstream, so its load
    gets a roomy deadline on a loaded machine (a bound on waiting, not on the app)."""
    page.set_default_navigation_timeout(60_000)
    login(page, who)


def chart(page, metric: str):
    return page.locator(f"figure[aria-labelledby='chart-{metric}-title']")


def test_week_ticks_fall_on_bucket_starts_with_short_dates(page, login, charts):
    sign_in(page, login, "acme")
    start, end = TODAY - timedelta(days=69), TODAY
    page.goto(f"/usage?start={start}&end={end}&granularity=week&metric=events")
    charts.check(page)
    events = chart(page, "Events")
    labels = events.locator(".xtick text").all_text_contents()
    # Ten or eleven weeks: thinned to at most eight labelled ticks, each a short date.
    assert 0 < len(labels) <= 8
    assert all(SHORT_DATE.match(label) for label in labels), labels
    figure = page.evaluate("() => JSON.parse(document.getElementById('chart-Events-data').text)")
    ticks = [date.fromisoformat(v) for v in figure["layout"]["xaxis"]["tickvals"]]
    bucket_starts = {date.fromisoformat(x) for x in figure["data"][-1]["x"]}
    assert set(ticks) <= bucket_starts
    # Every bucket but a first one the range cuts starts on a Monday.
    assert all(d.weekday() == 0 for d in ticks if d != start)
    assert labels == [f"{d:%b} {d.day}" for d in ticks]


def test_the_running_week_is_marked_in_the_table_and_the_hover(page, login, charts, shoot):
    sign_in(page, login, "acme")
    start = TODAY - timedelta(days=20)
    page.goto(f"/usage?start={start}&end={TODAY}&granularity=week&metric=events")
    charts.check(page)
    events = chart(page, "Events")
    events.locator("summary", has_text="Table of numbers").click()
    last = events.locator("details.numbers tbody tr").last.locator("th")
    assert last.text_content().endswith("(so far)")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d( – \d{4}-\d\d-\d\d)? \(so far\)", last.inner_text())
    if start.weekday() != 0:  # the range starts inside a week: its first week is partial
        first = events.locator("details.numbers tbody tr").first.locator("th")
        assert first.inner_text().endswith("(partial)")
    # Hovering the last bar says it is the week so far, with its ISO dates (the hover's
    # heading too: only the axis has short dates).
    bar = events.locator(".barlayer .trace.bars g.point path").last
    box = bar.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + max(box["height"] - 2, 1))
    hover = events.locator(".hoverlayer")
    hover.get_by_text(re.compile(r"so far: \d{4}-\d\d-\d\d")).wait_for()
    assert re.search(r"\d+ of 7 days", hover.text_content())
    heading = hover.locator(".legend text").first.text_content()
    assert last.inner_text().startswith(heading) and re.fullmatch(r"\d{4}-\d\d-\d\d", heading)
    shoot(page, "usage-week-so-far")


def test_the_month_s_pace_is_explained_on_hover_and_on_keyboard_focus(page, login, charts, shoot):
    sign_in(page, login, "acme")
    page.goto("/usage?preset=mtd&metric=events")
    charts.check(page)
    events = chart(page, "Events")
    figures = events.locator(".pace-figures")
    assert re.fullmatch(r"month to date [\d,]+ · on pace for [\d,]+", figures.inner_text())
    why = events.locator(".pace-why")
    assert why.is_hidden()
    # Keyboard: the figures take focus and describe themselves with the explanation.
    page.locator("h3#chart-Events-title").click()
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('pace-figures')"):
            break
    assert page.evaluate("() => document.activeElement.closest('figure').id || "
                         "document.activeElement.closest('figure').getAttribute('aria-labelledby')"
                         ) == "chart-Events-title"  # fmt: skip
    why.wait_for(state="visible")
    described = figures.get_attribute("aria-describedby")
    assert page.locator(f"#{described}").inner_text().startswith("Projection of events")
    assert "to the end of the month" in why.inner_text()
    page.keyboard.press("Tab")
    why.wait_for(state="hidden")
    figures.hover()
    why.wait_for(state="visible")
    shoot(page, "usage-pace-explained")


def test_compare_names_both_ranges_and_the_change_has_an_arrow_and_words(page, login, charts):
    sign_in(page, login, "globex")  # Enterprise: the previous range is within its history
    start, end = TODAY - timedelta(days=40), TODAY - timedelta(days=11)
    page.goto(f"/usage?start={start}&end={end}&compare=previous&metric=events")
    charts.check(page)
    events = chart(page, "Events")
    legend = events.locator(".legendtext").all_text_contents()
    # 30 days by day: the previous range is the same weekdays five whole weeks back.
    before_start, before_end = start - timedelta(days=35), end - timedelta(days=35)
    assert legend == [f"previous: {before_start} – {before_end}", f"{start} – {end}"]
    change = events.locator(".change")
    text = change.inner_text()
    assert re.search(rf"vs {before_start} – {before_end}$", text), text
    assert "−0.0" not in text and "±" not in text
    if "no change" not in text:
        arrow = change.locator(".arrow")
        assert arrow.get_attribute("aria-label") in ("up", "down")
        assert arrow.inner_text() == ("▲" if arrow.get_attribute("aria-label") == "up" else "▼")
        assert text.startswith(arrow.inner_text())
    # The table's previous column is named by its dates too.
    assert events.locator("thead th").last.text_content() == (
        f"Previous: {before_start} – {before_end}"
    )


def test_storage_rows_share_one_unit_and_days_before_the_plan_name_it(page, login, charts):
    sign_in(page, login, "initech")  # Free plan: 7 days of history
    page.goto("/usage?preset=30d&metric=StorageBytes")
    charts.check(page)
    storage = chart(page, "StorageBytes")
    storage.locator("summary", has_text="Table of numbers").click()
    cells = storage.locator("details.numbers tbody td").all_inner_texts()
    assert "not available on the Free plan" in cells
    values = [c for c in cells if c not in ("not available on the Free plan", "–")]
    assert values
    units = {c.split()[-1] for c in values}
    assert len(units) == 1, cells
    # Four significant digits for the largest: a level's slow growth shows from row to row.
    assert all(re.fullmatch(r"[\d,]+(\.\d+)? [KMGTP]?B", c) for c in values), values


def test_without_javascript_the_table_of_numbers_is_open(open_page, login, charts):
    page = open_page(java_script_enabled=False)
    sign_in(page, login, "acme")
    page.goto("/usage?preset=7d&metric=events")
    events = chart(page, "Events")
    table = events.locator("details.numbers table")
    assert table.is_visible()
    assert events.locator("details.numbers tbody tr").count() == 7
    assert events.locator(".js-plotly-plot").count() == 0  # no chart without JavaScript
    # With JavaScript the chart is drawn and the table folds away until asked for.
    scripted = open_page()
    sign_in(scripted, login, "acme")
    scripted.goto("/usage?preset=7d&metric=events")
    charts.check(scripted)
    folded = chart(scripted, "Events").locator("details.numbers")
    assert folded.get_attribute("open") is None
    assert not folded.locator("table").is_visible()
    folded.locator("summary").click()
    assert folded.locator("table").is_visible()
