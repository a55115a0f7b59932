"""Screenshots of the main pages, each taken once its charts are drawn.

A normal run writes them to test-output/screenshots/, so tests never change tracked files;
`USAGE_SCREENSHOTS=docs` writes them to docs/screenshots/ for the README instead:

    USAGE_SCREENSHOTS=docs CI=true .venv/bin/python -m pytest --no-cov -q \
        tests/browser/test_screenshots.py
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.browser.alert_rows import alert_rows
from tests.browser.widgets import mint_widget_paths

ROOT = Path(__file__).resolve().parents[2]
DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 900}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
WIDGET: dict[str, Any] = {"viewport": {"width": 720, "height": 480}}


# Read when the module is collected: tests/conftest.py hides every USAGE_* variable but
# USAGE_TEST_* from the session's fixtures on, so that no app the suite makes sees them.
FOLDER = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("USAGE_SCREENSHOTS", "") == "docs"
    else ROOT / "test-output" / "screenshots"
)


@dataclass(frozen=True)
class Shot:
    """One screenshot: who signs in, the page, and the browser it is seen in."""

    who: str | None
    path: str  # "{widget:KIND}" is replaced by a freshly minted widget URL
    device: dict[str, Any] = field(default_factory=lambda: DESKTOP)
    scheme: str = "light"
    charts: bool = True  # the page draws charts, and is shot once they are drawn
    rows: Callable | None = None  # adds what the page shows for the shot, removed afterwards


SHOTS = {
    "usage": Shot("acme", "/usage?preset=30d"),
    "usage-dark": Shot("acme", "/usage?preset=30d", scheme="dark"),
    "usage-phone": Shot("acme", "/usage?preset=30d", device=PHONE),
    "staff-overview": Shot("staff", "/staff?preset=30d"),
    "staff-account": Shot("staff", "/staff?preset=30d&account=acct-northwind"),
    "staff-phone": Shot("staff", "/staff?preset=30d", device=PHONE),
    "widget-ai-minutes": Shot(None, "{widget:ai-minutes}", device=WIDGET),
    "alerts": Shot("staff", "/alerts?tenant=acme", charts=False, rows=alert_rows),
    "alerts-phone": Shot("staff", "/alerts?tenant=acme", PHONE, charts=False, rows=alert_rows),
}


@pytest.fixture(scope="session")
def widget_paths(server) -> dict[str, str]:
    """Return each widget's path with an hour-long token for acme; warm the assets."""
    paths = mint_widget_paths(server)
    return paths


@pytest.mark.parametrize("name", SHOTS)
def test_screenshot_of_each_page_with_its_charts_drawn(
    name: str, server, widget_paths, open_page: Callable, login: Callable, charts, browser_log
):
    shot = SHOTS[name]
    with shot.rows(server) if shot.rows else contextlib.nullcontext():
        _take(name, shot, widget_paths, open_page, login, charts, browser_log)


def _take(name, shot, widget_paths, open_page, login, charts, browser_log) -> None:
    """Open the shot's page, wait for its charts if it has any, and save its picture."""
    page = open_page(color_scheme=shot.scheme, **shot.device)
    if shot.who is not None:
        login(page, shot.who)
    path = shot.path
    if path.startswith("{widget:"):
        path = widget_paths[path.removeprefix("{widget:").removesuffix("}")]
    answer = page.goto(path)
    assert answer is not None and answer.status == 200, (name, answer and answer.status)

    if shot.charts:
        drawn = charts.check(page)  # every chart drawn with its data's points
        plots = page.locator(".plot")
        assert plots.count() == len(drawn) > 0
        assert page.locator(".plot svg.main-svg").count() >= plots.count()

    target = FOLDER / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    # The caret is left alone: hiding it leaves style="" on inputs, which the CSP refuses
    # once htmx copies it (see conftest.screenshot).
    page.screenshot(path=target, full_page=True, caret="initial")
    assert target.stat().st_size > 10_000, f"{target} is too small to show the page"
    browser_log.assert_clean()
