"""Time and bytes of one filter change on /usage, in headless Chromium.

    .venv/bin/python -m bench.filter_change [--rounds 7] [--label after] [--no-write]

Starts the app in demo mode (`flask --app app run` in a subprocess, its own database and
cache, as the browser tests do), signs in as globex and opens `/usage` for the last 30 days
per day with all metrics (five isnotai charts and AI minutes: six charts). Each round then
changes the Metric filter three times, as a mouse pick does (the select's value, then its
`change` event): all → API calls (six charts to two), API calls → Events (two to two, the AI
minutes chart kept) and Events → all (two to six). One unmeasured round first fills the
server's upstream cache, so every measured change is served from it.

Time: from the `change` event to the moment the last chart of the new results has been
drawn (each `Plotly.react` call is wrapped to note when its promise resolves, for the
element it drew). It includes the request and the server's answer; "in the browser" is what
is left after the answer's last byte (Resource Timing `responseEnd`). Bytes: the fragment's
response, headers and body as sent (compressed), from the DevTools protocol. Medians per
kind of change are printed and written to bench/RESULTS.md under
"## Filter change (Chromium): <label>".
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import sync_playwright_for
from bench.results import machine, write_section
from devtools.chromium import CHROMIUM, CHROMIUM_ARGS
from devtools.servers import demo_server

HEADING = "Filter change (Chromium)"
LOGIN = ("globex@demo.invalid", "demo-globex")
PAGE = "/usage?preset=30d&metric=all&granularity=day"
CHANGES = (("all", "ApiCalls"), ("ApiCalls", "Events"), ("Events", "all"))
TIME_LIMIT = 170  # seconds for the whole run, server start included
WAIT_MS = 15_000

# Notes, per chart element, when the Plotly.react call that last drew it finished.
WRAP_REACT = """
() => {
  const react = window.Plotly.react;
  window.__drawn = new WeakMap();
  window.Plotly.react = function (element) {
    const done = react.apply(this, arguments);
    Promise.resolve(done).then(() => window.__drawn.set(element, performance.now()));
    return done;
  };
}
"""

# Changes the metric and resolves with the timings once every new chart is drawn.
CHANGE = """
(metric) => new Promise((resolve) => {
  const form = document.getElementById("filters");
  const select = form.elements.metric;
  const start = performance.now();
  let swapped = false;
  document.addEventListener("htmx:afterSwap", function once(event) {
    if (event.detail.target.id !== "results") return;
    document.removeEventListener("htmx:afterSwap", once);
    swapped = true;
  });
  const check = () => {
    const plots = [...document.querySelectorAll("#results [data-chart]")];
    const times = plots.map((plot) => window.__drawn.get(plot) || 0);
    if (swapped && plots.length && times.every((t) => t > start)) {
      const entries = performance.getEntriesByType("resource")
        .filter((e) => e.initiatorType === "xmlhttprequest" && e.startTime >= start);
      const answer = entries.length ? entries[entries.length - 1].responseEnd : start;
      const drawn = Math.max(...times);
      resolve({ total: drawn - start, browser: drawn - answer, charts: plots.length });
    } else {
      window.setTimeout(check, 5);
    }
  };
  select.value = metric;
  select.dispatchEvent(new Event("change", { bubbles: true }));
  check();
})
"""


def sign_in(page) -> None:
    """Sign in through the form and open the page with all metrics."""
    page.goto("/login")
    page.fill("main input[name=email]", LOGIN[0])
    page.fill("main input[name=password]", LOGIN[1])
    page.click("main form button[type=submit]")
    page.wait_for_url("**/usage*")
    page.goto(PAGE)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === 6")
    page.evaluate(WRAP_REACT)


def fragment_bytes(page, action) -> dict:
    """Run `action`; return its result with the bytes of the /usage fragment it caused."""
    with page.expect_response(lambda r: "/usage?" in r.url, timeout=WAIT_MS) as answer:
        result = action()
    sizes = answer.value.request.sizes()
    result["bytes"] = sizes["responseHeadersSize"] + sizes["responseBodySize"]
    result["header_bytes"] = sizes["responseHeadersSize"]
    return result


def measure(page, rounds: int, started: float) -> dict[str, list[dict]]:
    """Return the timings of each change, by kind of change."""
    results: dict[str, list[dict]] = {f"{a} → {b}": [] for a, b in CHANGES}
    for round_ in range(rounds + 1):
        if time.monotonic() - started > TIME_LIMIT:
            raise SystemExit(f"stopped after {round_} rounds: over {TIME_LIMIT} s")
        for before, after in CHANGES:
            result = fragment_bytes(page, lambda m=after: page.evaluate(CHANGE, m))
            # htmx's settle and our own tasks end before the next change starts.
            page.wait_for_timeout(150)
            if round_:  # the first round fills the server's cache
                results[f"{before} → {after}"].append(result)
        print(
            f"  round {round_}: {[r[-1]['total'] for r in results.values() if r]}", file=sys.stderr
        )
    return results


def table(results: dict[str, list[dict]]) -> str:
    """Return the medians as a Markdown table."""
    lines = [
        "| metric change | charts after | changes | charts drawn, ms (median) | min – max, ms "
        "| of which in the browser, ms (median) | response bytes (headers) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, rows in results.items():
        total = [r["total"] for r in rows]
        lines.append(
            f"| {kind} | {rows[0]['charts']} | {len(rows)} | {statistics.median(total):,.0f} "
            f"| {min(total):,.0f} – {max(total):,.0f} "
            f"| {statistics.median(r['browser'] for r in rows):,.0f} "
            f"| {statistics.median(r['bytes'] for r in rows):,.0f} "
            f"({statistics.median(r['header_bytes'] for r in rows):,.0f}) |"
        )
    return "\n".join(lines)


def section(markdown: str, command: str, chromium: str) -> str:
    """Return the RESULTS.md section: the table and how it was made."""
    from importlib.metadata import version

    return f"""One change of the Metric filter on `/usage` (globex, the last 30 days per day), in
headless Chromium against `flask run` in demo mode on loopback, the server's upstream cache
warm: from the select's `change` event to the last chart of the new results drawn (each
`Plotly.react` noted when its promise resolved), with the part after the answer's last byte
("in the browser"), and the fragment's response bytes as sent (brotli), headers included.

{markdown}

- Command: `{command}`
- Made: {machine()}
- Browser: Chromium {chromium} (headless), Playwright {version("playwright")}
"""


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="rounds of three changes")
    parser.add_argument("--label", default="current", help="names the RESULTS.md section")
    parser.add_argument("--chromium", default=CHROMIUM, help="Chromium executable")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    sync_playwright = sync_playwright_for(args.chromium)

    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="filter-change-") as folder,
        demo_server(Path(folder)) as server,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                base_url=server.base, viewport={"width": 1280, "height": 900}
            )
            context.set_default_timeout(WAIT_MS)
            page = context.new_page()
            sign_in(page)
            results = measure(page, args.rounds, started)
            chromium = browser.version
        finally:
            browser.close()
    markdown = table(results)
    print(markdown)
    print(f"\n{time.monotonic() - started:.0f} s in all", file=sys.stderr)
    if not args.no_write:
        command = " ".join([".venv/bin/python -m bench.filter_change", shlex.join(sys.argv[1:])])
        write_section(f"{HEADING}: {args.label}", section(markdown, command.strip(), chromium))
        print("written to bench/RESULTS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
