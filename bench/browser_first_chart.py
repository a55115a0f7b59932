"""Time from navigation start to the first chart drawn on /usage, in headless Chromium.

    .venv/bin/python -m bench.browser_first_chart [--runs 5] [--chromium PATH] [--no-write]

Starts the app in demo mode (`flask --app app run` in a subprocess, its own database and
cache, as the browser tests do), signs in as globex and loads `/usage` (the last 30 days
per day: five isnotai charts and AI minutes). An init script installs a MutationObserver that
records `performance.now()` (milliseconds since the navigation started) when the first
`.js-plotly-plot` has a trace drawn. Cold: a new browser context, so an empty HTTP cache
(htmx, plotly.js and the app's own files are downloaded and compiled). Warm: the same
context loading the page again (vendor files are `immutable` and come from the cache; the
app's own files are revalidated). One unmeasured load first fills the server's upstream
cache, so every measured load is served from it. Medians are printed and written to
bench/RESULTS.md under "## Time to first chart (Chromium)".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import sync_playwright_for
from bench.results import machine, write_section
from devtools.chromium import CHROMIUM, CHROMIUM_ARGS
from devtools.servers import demo_server

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HEADING = "Time to first chart (Chromium)"
LOGIN = ("globex@demo.invalid", "demo-globex")
PAGE = "/usage"
TIME_LIMIT = 110  # seconds for the whole run, server start included
WAIT_MS = 15_000

FIRST_CHART = """
(() => {
  const drawn = () => {
    const plot = document.querySelector(".js-plotly-plot");
    return plot && plot.querySelector(".barlayer .trace, .scatterlayer .trace");
  };
  const observer = new MutationObserver(() => {
    if (window.__firstChart === undefined && drawn()) {
      window.__firstChart = performance.now();
      observer.disconnect();
    }
  });
  observer.observe(document, { childList: true, subtree: true });
})();
"""

TIMINGS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  return {
    first_chart: window.__firstChart,
    response_start: nav.responseStart,
    dom_content_loaded: nav.domContentLoadedEventEnd,
    bytes: nav.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0),
  };
}
"""


def sign_in(browser, base: str) -> dict:
    """Sign in through the form once; return the storage state (the session cookie)."""
    context = browser.new_context(base_url=base)
    try:
        page = context.new_page()
        page.goto("/login")
        page.fill("main input[name=email]", LOGIN[0])
        page.fill("main input[name=password]", LOGIN[1])
        page.click("main form button[type=submit]")
        page.wait_for_url(f"**{PAGE}")
        page.wait_for_function("() => document.querySelector('.js-plotly-plot')")  # warm-up
        return context.storage_state()
    finally:
        context.close()


def load(page) -> dict:
    """Navigate to the page and return its timings (ms since navigation start)."""
    page.goto(PAGE, wait_until="load")
    page.wait_for_function("() => window.__firstChart !== undefined", timeout=WAIT_MS)
    return page.evaluate(TIMINGS)


def measure(browser, base: str, state: dict, runs: int, started: float) -> dict[str, list]:
    """Return the cold and warm timings of each run."""
    results: dict[str, list] = {"cold": [], "warm": []}
    for run in range(runs):
        if time.monotonic() - started > TIME_LIMIT:
            raise SystemExit(f"stopped after {run} runs: over {TIME_LIMIT} s")
        context = browser.new_context(base_url=base, storage_state=state)
        try:
            context.set_default_timeout(WAIT_MS)
            context.add_init_script(script=FIRST_CHART)
            page = context.new_page()
            results["cold"].append(load(page))
            results["warm"].append(load(page))
        finally:
            context.close()
        cold, warm = results["cold"][-1], results["warm"][-1]
        print(
            f"  run {run + 1}: cold {cold['first_chart']:6.0f} ms, "
            f"warm {warm['first_chart']:6.0f} ms",
            file=sys.stderr,
        )
    return results


def table(results: dict[str, list]) -> str:
    """Return the medians as a Markdown table."""
    lines = [
        "| browser cache | runs | first chart drawn, ms (median) | min – max, ms "
        "| DOMContentLoaded, ms (median) | first byte, ms (median) | bytes transferred (median) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, label in (("cold", "cold (new context)"), ("warm", "warm (same context)")):
        rows = results[name]
        first = [r["first_chart"] for r in rows]
        lines.append(
            f"| {label} | {len(rows)} | {statistics.median(first):,.0f} "
            f"| {min(first):,.0f} – {max(first):,.0f} "
            f"| {statistics.median(r['dom_content_loaded'] for r in rows):,.0f} "
            f"| {statistics.median(r['response_start'] for r in rows):,.0f} "
            f"| {statistics.median(r['bytes'] for r in rows):,.0f} |"
        )
    return "\n".join(lines)


def section(markdown: str, command: str, runs: int, chromium: str) -> str:
    """Return the RESULTS.md section: the table and how it was made."""
    from importlib.metadata import version

    return f"""Time from navigation start to the first chart drawn on `/usage` (globex, the last 30 days
per day: five isnotai charts and AI minutes), in headless Chromium against `flask run` in
demo mode on loopback. A MutationObserver installed by an init script records
`performance.now()` when the first `.js-plotly-plot` has a trace drawn. Cold: a new browser
context, so an empty HTTP cache (htmx, plotly.js and the app's files are downloaded and
compiled). Warm: the same context loading the page again (the vendor files are `immutable`
and come from the cache; the app's own files are revalidated). Each of {runs} runs is one cold
and one warm load; the server's upstream cache was filled by an unmeasured load first, so
these are browser-side figures on top of a warm server. Bytes: the page and its resources
as transferred (compressed; 0 for cache hits). The first chart and DOMContentLoaded coincide:
dashboard.js draws every chart in one DOMContentLoaded handler, so the first is painted with
the last.

{markdown}

- Command: `{command}`
- Made: {machine()}
- Browser: Chromium {chromium} (headless), Playwright {version("playwright")}
"""


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="cold and warm loads (median)")
    parser.add_argument("--chromium", default=CHROMIUM, help="Chromium executable")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    sync_playwright = sync_playwright_for(args.chromium)

    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="first-chart-") as folder,
        demo_server(Path(folder)) as server,
        sync_playwright() as playwright,
    ):
        base = server.base
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        try:
            state = sign_in(browser, base)
            results = measure(browser, base, state, args.runs, started)
            chromium = browser.version
        finally:
            browser.close()
    markdown = table(results)
    print(markdown)
    print(f"\n{time.monotonic() - started:.0f} s in all", file=sys.stderr)
    if not args.no_write:
        command = " ".join([".venv/bin/python -m bench.browser_first_chart", *sys.argv[1:]])
        write_section(HEADING, section(markdown, command.strip(), args.runs, chromium))
        print("written to bench/RESULTS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
