"""Browser tests: a real demo server in a subprocess, driven by Chromium through Playwright.

Without the playwright package or Chromium they skip with the reason, except in CI
(`CI=true`), where they fail instead. Every test's pages are watched for console errors,
uncaught exceptions, dialogs and CSP violations (from every frame); a test that passes
still fails if any appeared that it did not expect. Screenshots go to
`test-output/screenshots/`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from devtools import IN_CI
from devtools.chromium import CHROMIUM, CHROMIUM_ARGS
from devtools.servers import Server, ServerFailed, demo_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Frame, Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
DEMO_LOGINS = {
    "staff": ("staff@demo.invalid", "demo-staff"),
    "acme": ("acme@demo.invalid", "demo-acme"),
    "globex": ("globex@demo.invalid", "demo-globex"),
    "initech": ("initech@demo.invalid", "demo-initech"),
}
TIMEOUT_MS = 15_000


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "browser: drives Chromium against a real demo server")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark this folder's tests `browser`, so `-m "not browser"` leaves them out."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the item, so teardown knows whether the test passed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# -- availability -------------------------------------------------------------------------


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright==1.65.2)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt install chromium, or set USAGE_TEST_CHROMIUM)"
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Return Chromium's path; skip locally (never in CI) when it or Playwright is missing."""
    reason = _missing()
    if reason:
        if IN_CI:
            pytest.fail(f"CI must run the browser tests, but {reason}")
        pytest.skip(reason)
    return CHROMIUM


# -- the demo server ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def server(chromium_path, tmp_path_factory) -> Iterator[Server]:
    """Serve the app in demo mode with `flask run` once for the session, with its own
    database and cache; widgets on 127.0.0.1, the demo embed host on localhost."""
    try:
        with demo_server(tmp_path_factory.mktemp("browser-server")) as running:
            assert "acme@demo.invalid" in running.flask("users", "list")
            yield running
    except ServerFailed as exc:
        pytest.fail(str(exc))


# -- the browser, pages, and what they report ---------------------------------------------


@pytest.fixture(scope="session")
def browser(chromium_path) -> Iterator[Browser]:
    """Launch headless Chromium once for the session."""
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


# Runs in every frame before its own scripts: CSP violations go into a window array and,
# through a binding, to the test (the array does not survive a navigation; the binding does).
WATCH_CSP = """
(() => {
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation", (event) => {
    const violation = {
      directive: event.effectiveDirective || event.violatedDirective,
      blocked: event.blockedURI,
      source: event.sourceFile ? `${event.sourceFile}:${event.lineNumber}` : "",
      sample: event.sample,
      element: event.target instanceof Element ? event.target.outerHTML.slice(0, 200) : "",
      document: location.href,
    };
    window.__cspViolations.push(violation);
    if (window.__reportCspViolation) window.__reportCspViolation(violation);
  }, true);
})();
"""


@dataclass
class BrowserLog:
    """What the pages of one test reported: console errors, exceptions, dialogs, CSP."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    csp_violations: list[dict] = field(default_factory=list)
    allowed: list[re.Pattern] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        """Record what this page (and its frames) report."""
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("dialog", self._dialog)

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.console_errors.append(f"{message.text} (at {where})" if where else message.text)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def allow(self, pattern: str) -> None:
        """Expect console errors matching this regex (e.g. a deliberate 401's load error)."""
        self.allowed.append(re.compile(pattern))

    def unexpected_console_errors(self) -> list[str]:
        return [e for e in self.console_errors if not any(p.search(e) for p in self.allowed)]

    def assert_clean(self) -> None:
        """Fail on any console error not allowed, uncaught exception, dialog or CSP violation."""
        problems = {
            "console errors": self.unexpected_console_errors(),
            "uncaught exceptions": self.page_errors,
            "dialogs (a script ran that should not have)": self.dialogs,
            "CSP violations": [json.dumps(v, ensure_ascii=False) for v in self.csp_violations],
        }
        found = {kind: items for kind, items in problems.items() if items}
        assert not found, "the browser reported problems:\n" + "\n".join(
            f"  {kind}:\n" + "\n".join(f"    - {item}" for item in items)
            for kind, items in found.items()
        )


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def open_page(browser, server, browser_log, request) -> Iterator[Callable[..., Page]]:
    """Return a factory of watched pages, each in a new context (no cookies, empty cache)."""
    contexts = []

    def open_(color_scheme: str = "light", **options: Any) -> Page:
        options = {"viewport": {"width": 1280, "height": 900}, **options}
        context = browser.new_context(base_url=server.base, color_scheme=color_scheme, **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.expose_binding(
            "__reportCspViolation", lambda _source, v: browser_log.csp_violations.append(v)
        )
        context.add_init_script(script=WATCH_CSP)
        contexts.append(context)
        page = context.new_page()
        browser_log.watch(page)
        return page

    yield open_
    call = getattr(request.node, "report_call", None)
    try:
        if call is not None and call.failed:
            for number, context in enumerate(contexts):
                for index, page in enumerate(context.pages):
                    screenshot(page, f"FAILED-{request.node.name}-{number}-{index}")
    finally:
        for context in contexts:
            context.close()
    if call is not None and call.passed:
        browser_log.assert_clean()  # anything that arrived after the test's own checks


@pytest.fixture
def page(open_page) -> Page:
    """A watched page in a new light-scheme context."""
    return open_page()


# Every sign-in from one address counts against its limit (20 per 15 minutes) and the whole
# browser suite signs in from 127.0.0.1: each login signs in through the form once per
# server, and later pages of the session reuse its cookies (no browser test signs out).
_SIGNED_IN: dict[tuple[str, str], list] = {}


def sign_in(page: Page, who: str) -> None:
    """Sign in as a demo login (staff, acme, globex or initech)."""
    email, password = DEMO_LOGINS[who]
    page.goto("/login")
    origin = urlsplit(page.url)
    known = _SIGNED_IN.get((origin.netloc, who))
    if known is not None:
        page.context.add_cookies(known)
        page.goto("/")
        if "/login" not in page.url:
            return
    page.fill("main input[name=email]", email)
    page.fill("main input[name=password]", password)
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    _SIGNED_IN[(origin.netloc, who)] = page.context.cookies()


@pytest.fixture
def login() -> Callable[[Page, str], None]:
    return sign_in


def screenshot(target: Page, name: str, *, fit: bool = False) -> Path:
    """Save a PNG of the page; `fit` grows the viewport to the page so iframes paint too.

    The caret is left alone: hiding it makes Playwright leave `style=""` on every input,
    which htmx then copies when it settles a swap, and the page's CSP rightly refuses.
    """
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    if not fit:
        target.screenshot(path=path, full_page=True, caret="initial")
        return path
    size = target.viewport_size
    height = target.evaluate("document.documentElement.scrollHeight")
    target.set_viewport_size({"width": size["width"], "height": min(max(height, 200), 8000)})
    try:
        target.wait_for_timeout(300)  # let out-of-process frames paint at the new size
        target.screenshot(path=path, caret="initial")
    finally:
        target.set_viewport_size(size)
    return path


@pytest.fixture
def shoot() -> Callable[..., Path]:
    return screenshot


# -- charts -------------------------------------------------------------------------------

# Every chart of a document: its figure JSON and what Plotly drew for each trace.
READ_CHARTS = """
() => ({
  plots: document.querySelectorAll(".js-plotly-plot").length,
  blocks: document.querySelectorAll('script[type="application/json"]').length,
  charts: Array.from(document.querySelectorAll("[data-chart]")).map((element) => {
    const id = element.getAttribute("data-chart");
    const source = document.getElementById(id);
    const figure = source ? JSON.parse(source.textContent) : { data: [] };
    return {
      id,
      drawn: element.classList.contains("js-plotly-plot"),
      traces: figure.data.map((trace) => ({
        type: trace.type || "scatter",
        horizontal: trace.orientation === "h",
        x: trace.x,
        values: trace.orientation === "h" ? trace.x : trace.y,
      })),
      bars: Array.from(element.querySelectorAll(".barlayer .trace.bars")).map((trace) =>
        Array.from(trace.querySelectorAll("g.point path")).map((path) => {
          const box = path.getBBox();
          return [box.width, box.height];
        })
      ),
      markers: Array.from(element.querySelectorAll(".scatterlayer .trace.scatter")).map(
        (trace) => trace.querySelectorAll(".points path").length
      ),
    };
  }),
})
"""

# True once every chart placeholder is a drawn Plotly plot and none is left from before.
CHARTS_DRAWN = """
() => {
  const charts = Array.from(document.querySelectorAll("[data-chart]"));
  return charts.length > 0 && !document.querySelector("[data-stale-chart]") &&
    charts.every((el) => el.classList.contains("js-plotly-plot") && el.querySelector(".main-svg")
      && el.querySelector(".barlayer .trace, .scatterlayer .trace"));
}
"""

MARK_STALE = """
() => document.querySelectorAll("[data-chart]").forEach(
  (el) => el.setAttribute("data-stale-chart", "")
)
"""


@dataclass(frozen=True)
class Trace:
    """One trace: its values in the figure JSON and what was drawn for it."""

    type: str
    x: list
    values: list
    drawn: int  # bar elements (one per bucket, zero-sized when null) or line markers
    sized: int | None  # bars with a non-zero size; None for lines

    @property
    def present(self) -> int:
        """Return how many values are not null."""
        return sum(v is not None for v in self.values)


@dataclass(frozen=True)
class Chart:
    """One chart placeholder of a page."""

    id: str
    drawn: bool
    traces: list[Trace]

    @property
    def points(self) -> int:
        """Return the number of buckets of the chart's own (last) trace."""
        return len(self.traces[-1].values)


class Charts:
    """Read what Plotly drew and compare it with the figures' data."""

    @staticmethod
    def mark_stale(target: Page | Frame) -> None:
        """Tag the charts on screen, so `wait` waits for their replacements."""
        target.evaluate(MARK_STALE)

    @staticmethod
    def wait(target: Page | Frame) -> None:
        """Wait until every chart of the document is drawn (and none is a stale one)."""
        target.wait_for_function(CHARTS_DRAWN, timeout=TIMEOUT_MS)

    @staticmethod
    def read(target: Page | Frame) -> tuple[int, int, list[Chart]]:
        """Return (plots, figure blocks, charts) of the document."""
        raw = target.evaluate(READ_CHARTS)
        charts = []
        for chart in raw["charts"]:
            bars, markers = iter(chart["bars"]), iter(chart["markers"])
            traces = []
            for trace in chart["traces"]:
                values = trace["values"]
                assert isinstance(values, list), f"{chart['id']}: values are not a JSON list"
                if trace["type"] == "bar":
                    sizes = next(bars, [])
                    axis = 0 if trace["horizontal"] else 1
                    sized = sum(1 for s in sizes if s[axis] > 0)
                    traces.append(Trace("bar", trace["x"], values, len(sizes), sized))
                else:
                    traces.append(Trace(trace["type"], trace["x"], values, next(markers, 0), None))
            charts.append(Chart(chart["id"], chart["drawn"], traces))
        return raw["plots"], raw["blocks"], charts

    @classmethod
    def check(cls, target: Page | Frame) -> list[Chart]:
        """Wait for the charts, assert each is drawn with its data's points; return them."""
        cls.wait(target)
        plots, blocks, charts = cls.read(target)
        assert plots == blocks == len(charts), (plots, blocks, [c.id for c in charts])
        for chart in charts:
            assert chart.drawn, f"{chart.id} was not drawn"
            assert chart.traces, f"{chart.id} has no traces"
            for number, trace in enumerate(chart.traces):
                where = f"{chart.id} trace {number} ({trace.type})"
                if trace.type == "bar":
                    # Plotly draws one bar per bucket; a null or zero one has no size.
                    assert trace.drawn == len(trace.values), (where, trace.drawn, trace.values)
                    nonzero = sum(1 for v in trace.values if v not in (None, 0))
                    assert trace.sized == nonzero, (where, trace.sized, trace.values)
                else:
                    assert trace.drawn == trace.present, (where, trace.drawn, trace.values)
        return charts


@pytest.fixture
def charts() -> type[Charts]:
    return Charts


def iso_weeks(start: date, end: date) -> int:
    """Return how many ISO weeks (Monday first) the inclusive range touches."""
    first_monday = start - timedelta(days=start.weekday())
    return (end - first_monday).days // 7 + 1


@pytest.fixture
def weeks() -> Callable[[date, date], int]:
    return iso_weeks
