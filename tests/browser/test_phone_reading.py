"""Read on a phone (390 px): the staff tables show every column without scrolling sideways,
and no ISO date is broken across two lines (2026-11- / 23 reads as two figures)."""

from __future__ import annotations

import pytest

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

# Every visible ISO date in a text node whose characters sit on more than one line.
BROKEN_DATES = r"""() => {
  const broken = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.checkVisibility()) continue;
    for (const m of node.data.matchAll(/\d{4}-\d\d-\d\d/g)) {
      const range = document.createRange();
      range.setStart(node, m.index);
      range.setEnd(node, m.index + m[0].length);
      const lines = new Set(Array.from(range.getClientRects())
        .filter(r => r.width > 0).map(r => Math.round(r.bottom)));
      if (lines.size > 1) broken.push(`${m[0]} in "${node.parentElement.textContent.trim()}"`);
    }
  }
  return broken;
}"""

# Cells of the staff tables that reach past the screen, or past their card.
OFF_SCREEN = """() => Array.from(document.querySelectorAll('table.stacks th, table.stacks td'))
  .filter(c => c.checkVisibility())
  .filter(c => { const r = c.getBoundingClientRect(); return r.left < 0 || r.right > innerWidth; })
  .map(c => c.textContent.trim())"""


@pytest.fixture
def on_phone(open_page, login, charts):
    """Return a way to open a page as one of the demo's people on the phone, charts drawn."""

    def show(who: str, path: str):
        page = open_page(**PHONE)
        login(page, who)
        page.goto(path)
        charts.wait(page)
        return page

    return show


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("staff", "/staff?preset=30d"),
        ("staff", "/staff?preset=30d&account=acct-northwind"),
        ("acme", "/usage?preset=30d&compare=previous"),
        ("globex", "/usage?preset=7d&compare=previous"),
    ],
)
def test_no_date_breaks_across_lines(on_phone, who, path):
    page = on_phone(who, path)
    assert page.locator("text=/\\d{4}-\\d\\d-\\d\\d – /").count() > 0, "the page names date spans"
    assert page.evaluate(BROKEN_DATES) == []


def test_staff_tables_show_every_column_on_a_phone(on_phone, shoot):
    page = on_phone("staff", "/staff?preset=30d")

    accounts = page.locator("#staff-accounts")
    rows = accounts.locator("tbody tr").count()
    assert rows >= 3
    assert page.evaluate(OFF_SCREEN) == []
    wide = page.locator(".staff-table, .table-scroll").evaluate_all(
        "boxes => boxes.filter(b => b.scrollWidth > b.clientWidth + 1).length"
    )
    assert wide == 0, "no table needs scrolling sideways"
    # Each figure is labelled where it is shown; the change reads as the column says.
    first = accounts.locator("tbody tr").first
    labels = first.locator("td").evaluate_all(
        "cells => cells.map(c => getComputedStyle(c, '::before').content)"
    )
    assert labels == ['"AI minutes" / ""', '"Share" / ""', '"Trend" / ""', '"Change" / ""']
    assert first.locator("td").last.is_visible()
    # Still a table to a screen reader: its headers and cells keep their roles.
    assert accounts.get_by_role("columnheader", name="Change").count() == 1
    assert accounts.get_by_role("cell").count() == rows * 4
    # The sort links stay, above the rows.
    assert accounts.get_by_role("link", name="Sort by AI minutes").is_visible()
    shoot(page, "staff-phone-tables")


def test_the_staff_filters_fold_into_the_range_chip_on_a_phone(on_phone, charts):
    page = on_phone("staff", "/staff?preset=7d")
    assert page.locator("[data-range-chip]").inner_text() == "Last 7 days"
    assert not page.locator("#filters").is_visible()
    page.locator(".range-chip summary").click()
    assert page.locator("#filters input[name=account]").is_visible()
    with page.expect_response(lambda r: "preset=30d" in r.url):
        page.select_option("#filters select[name=preset]", "30d")
    charts.wait(page)
    page.wait_for_function(
        "() => document.querySelector('[data-range-chip]').textContent === 'Last 30 days'"
    )


# Every visible control a finger can take (links, buttons, fields, summaries, focusable text)
# under 44 px tall, by its words. A checkbox is taken through its label, which is measured.
SMALL_TARGETS = """() => Array.from(document.querySelectorAll(
    'main a[href], main button, main select, main input:not([type=hidden]):not([type=checkbox]),'
    + ' main label:has(input[type=checkbox]), main summary, main [tabindex="0"], header a[href],'
    + ' nav a[href]'))
  .filter(e => e.checkVisibility() && !e.matches('.staff-table, .table-scroll, .plot *'))
  .filter(e => e.getBoundingClientRect().height < 44)
  .map(e => `${e.tagName} ${e.textContent.trim().slice(0, 30)}`)"""


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("staff", "/staff?preset=30d&account=acct-northwind"),
        ("acme", "/usage?preset=30d&compare=previous"),
    ],
)
def test_every_control_is_a_44_px_tap_target_on_a_phone(on_phone, who, path):
    page = on_phone(who, path)
    page.locator(".range-chip summary").click()  # the filters' controls too
    page.evaluate("document.querySelectorAll('details.numbers').forEach(d => { d.open = true; })")
    assert page.evaluate(SMALL_TARGETS) == []
