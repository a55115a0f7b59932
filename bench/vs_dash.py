"""The app against a Plotly Dash build of the same customer view, side by side.

    make bench-compare                       # the Dash peer's environment once, then --write
    .venv/bin/python -m bench.vs_dash [--runs 5] [--seconds 5] [--latency-ms 100] [--write]
    .venv/bin/python -m bench.vs_dash --quick      # 2 runs, short loads: proves it works

Both servers run under gunicorn (gthread, 4 threads a worker) and read the same simulators,
started here with the given latency: the app with deploy/gunicorn.conf.py and a customer of
globex (isnotai EU, one EvoVoice customer, as in the demo), the peer (bench/peers) with
the same key, account and customer. Demo mode is not used: its simulators live inside each
worker with no latency, so the two apps could not share them.

Each measure runs interleaved, the app then Dash, `--runs` times; the table shows the
medians and the median of the per-pair ratios (app / Dash). Browser measures use Debian's
headless Chromium through Playwright. Before each pair both servers restart with empty
caches, then warm their code (not their cache) on a range 200 days back:

1. Cold upstream: a new browser context loads the page; ms from navigation start until all
   six charts have a trace drawn, and the bytes transferred until then (first visit). Then
   granularity day → week: ms from the change until all six charts show week buckets, and
   the bytes of that change (the app reads week totals upstream; the peer sums cached days).
2. Warm upstream: a new context loads the page again (server caches now full): ms to all
   charts; the same change (now cached on both), ms and bytes; then the page once more in
   the same context (warm revisit), ms.
3. Cached fragment throughput: the app's htmx fragment of `/usage` per week against the
   peer's `/_dash-update-component` for the same change, 16 clients with keep-alive for
   `--seconds` each, under 2 and then 4 workers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import date, timedelta
from pathlib import Path

import requests

from bench.harness import SECRET
from bench.load import PASSWORD, sign_in
from bench.results import machine, write_section
from devtools.chromium import CHROMIUM, CHROMIUM_ARGS
from devtools.servers import BIN, Server, clean_environment, free_port, run_flask, serving

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "bench" / "peers" / ".venv" / "bin"
HEADING = "Against Dash"
EMAIL = "globex@vs-dash.test"
# As the demo's globex: one customer of an account whose id is not ASCII.
ACCOUNT, CUSTOMER = "zürich-東京-Ωmega", "kunde-müller"
CHARTS = 6
WAIT_MS = 30_000
PAGE = {"ours": "/usage", "dash": "/"}
GRAPHS = ["ApiCalls", "Events", "Sessions", "StorageBytes", "BotAnalyses", "AiMinutes"]

# Records, in ms since navigation start, when every chart first has a drawn trace and, after
# a change is marked, when every chart shows fewer than ten points (week buckets, not days).
WATCH = f"""
(() => {{
  const bench = (window.__bench = {{}});
  const points = (el) => el.querySelectorAll(".trace .point").length;
  const check = () => {{
    const plots = Array.from(document.querySelectorAll(".js-plotly-plot"));
    if (plots.length < {CHARTS} || !plots.every((el) => points(el) > 0)) return;
    const now = performance.now();
    if (bench.drawn === undefined) bench.drawn = now;
    if (bench.changeStart !== undefined && bench.changed === undefined &&
        plots.every((el) => points(el) < 10)) bench.changed = now;
  }};
  new MutationObserver(check).observe(document, {{ childList: true, subtree: true }});
}})();
"""
FEWEST_POINTS = """
() => Math.min(...Array.from(document.querySelectorAll(".js-plotly-plot"),
  (el) => el.querySelectorAll(".trace .point").length))
"""
BYTES_SINCE = """
(since) => {
  const entries = performance.getEntriesByType("resource").filter((r) => r.startTime >= since);
  const nav = since === 0 ? performance.getEntriesByType("navigation")[0].transferSize : 0;
  return nav + entries.reduce((sum, r) => sum + r.transferSize, 0);
}
"""


class Apps:
    """The simulators, both apps' settings, and a way to (re)start both servers."""

    def __init__(self, folder: Path, latency_ms: int) -> None:
        from simulators import SimulatorState, start_simulators
        from simulators.data import EVOVOICE_SERVICE_USER, isnotai_integration

        self.folder = folder
        self.sims = start_simulators(
            port=0, state=SimulatorState(latency_ms=latency_ms, rate_limits=False)
        )
        user, password = EVOVOICE_SERVICE_USER
        globex = isnotai_integration("globex")
        self.ours_env = clean_environment(
            USAGE_DEMO="off",
            USAGE_SECRET_KEY=SECRET,
            USAGE_DATABASE_URL=f"sqlite:///{folder / 'db.sqlite'}",
            USAGE_ISNOTAI_US_URL=self.sims.isnotai_us_url,
            USAGE_ISNOTAI_EU_URL=self.sims.isnotai_eu_url,
            USAGE_EVOVOICE_URL=self.sims.evovoice_url,
            USAGE_EVOVOICE_USERNAME=user,
            USAGE_EVOVOICE_PASSWORD=password,
        )
        self.dash_env = {
            **clean_environment(),
            "DASH_PEER_ISNOTAI_URL": self.sims.isnotai_eu_url,
            "DASH_PEER_ISNOTAI_KEY": globex.key,
            "DASH_PEER_EVOVOICE_URL": self.sims.evovoice_url,
            "DASH_PEER_EVOVOICE_USER": user,
            "DASH_PEER_EVOVOICE_PASSWORD": password,
            "DASH_PEER_ACCOUNT": ACCOUNT,
            "DASH_PEER_CUSTOMER": CUSTOMER,
        }
        run_flask(self.ours_env, "setup")
        run_flask(self.ours_env, "tenants", "add", "globex", "--isnotai-key", globex.key,
            "--region", globex.region, "--evovoice-account", ACCOUNT, "--evovoice-customer", CUSTOMER)  # fmt: skip
        run_flask(self.ours_env, "users", "add", EMAIL, "--role", "customer", "--tenant",
            "globex", "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
        self.starts = 0

    @contextmanager
    def serving(self, workers: int) -> Iterator[tuple[Server, Server]]:
        """Start both servers with empty caches; stop them afterwards."""
        self.starts += 1
        run = self.folder / f"start-{self.starts}"
        run.mkdir()
        ours_port, dash_port = free_port(), free_port()
        ours_env = {
            **self.ours_env,
            "USAGE_CACHE_URL": f"sqlite:///{run / 'cache.sqlite'}",
            "USAGE_BIND": f"127.0.0.1:{ours_port}",
            "USAGE_WORKERS": str(workers),
        }
        dash_env = {
            **self.dash_env,
            "DASH_PEER_CACHE": str(run / "dash-cache"),
            "DASH_PEER_BIND": f"127.0.0.1:{dash_port}",
            "DASH_PEER_WORKERS": str(workers),
        }
        ours_cmd = [BIN / "gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"]
        dash_cmd = [PEER / "gunicorn", "-c", "bench/peers/gunicorn.conf.py",
            "bench.peers.app:server"]  # fmt: skip
        with ExitStack() as stack:
            ours = stack.enter_context(serving(ours_cmd, ours_env, ours_port, run / "ours.log"))
            dash = stack.enter_context(serving(dash_cmd, dash_env, dash_port, run / "dash.log"))
            yield ours, dash


def days(back: int) -> tuple[date, date]:
    """Return the 30 days ending `back` days before today (UTC, as both apps count)."""
    from simulators.data import utc_today

    end = utc_today() - timedelta(days=back)
    return end - timedelta(days=29), end


def dash_body(start: date, end: date, granularity: str) -> dict:
    """Return the callback request Dash's renderer sends when the filter changes."""
    outputs = [{"id": f"graph-{g}", "property": "figure"} for g in GRAPHS]
    return {
        "output": ".." + "...".join(f"graph-{g}.figure" for g in GRAPHS) + "..",
        "outputs": outputs,
        "inputs": [
            {"id": "range", "property": "start_date", "value": start.isoformat()},
            {"id": "range", "property": "end_date", "value": end.isoformat()},
            {"id": "granularity", "property": "value", "value": granularity},
        ],
        "changedPropIds": ["granularity.value"],
        "state": [],
    }


def ours_fragment(start: date | None = None, end: date | None = None) -> str:
    """Return the app's htmx fragment URL for week buckets (the last 30 days by default)."""
    if start is None or end is None:
        return "/usage?preset=30d&granularity=week"
    return f"/usage?preset=custom&start={start}&end={end}&granularity=week"


def warm_code(ours: Server, dash: Server, session: requests.Session) -> None:
    """Run each server's whole request path, static files included, on every worker, on a
    range no measure reads: a restart is what empties the caches, not what is measured.

    The app compresses its vendor files once per process (quality 11, seconds of CPU for
    plotly.js); a server that has been up a while has done so already.
    """
    start, end = days(200)
    cookie = {"Cookie": session.headers["Cookie"]}
    pages = {
        ours.base: f"/usage?preset=custom&start={start}&end={end}",
        dash.base: "/",
    }

    def hit(_: int) -> None:
        # No keep-alive: each request is a new connection, which any worker may accept.
        for base, page in pages.items():
            html = requests.get(base + page, headers=cookie, timeout=60)
            check(html)
            for path in re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css|svg)[^"]*)"', html.text):
                check(requests.get(base + path.replace("&amp;", "&"), timeout=60))
        url = ours_fragment(start, end)
        check(requests.get(ours.base + url, headers={**cookie, "HX-Request": "true"}, timeout=60))
        check(requests.post(f"{dash.base}/_dash-update-component",
            json=dash_body(start, end, "day"), timeout=60))  # fmt: skip

    hit(0)  # fills the caches, so the rest only load code
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(hit, range(8)))


def check(response: requests.Response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.method} {response.url}: HTTP {response.status_code}")


def browser_cookies(session: requests.Session, base: str) -> list[dict]:
    """Return the signed-in session's cookies for a browser context on plain http."""
    pairs = (part.split("=", 1) for part in session.headers["Cookie"].split("; "))
    return [{"name": k, "value": v, "url": base} for k, v in pairs]


class Browser:
    """Headless Chromium loading either app and timing what the measures need."""

    def __init__(self, browser) -> None:
        self.browser = browser

    def context(self, base: str, cookies: list[dict]):
        context = self.browser.new_context(base_url=base)
        context.set_default_timeout(WAIT_MS)
        context.add_init_script(script=WATCH)
        if cookies:
            context.add_cookies(cookies)
        return context

    @staticmethod
    def load(page, path: str) -> tuple[float, int]:
        """Load a page; return ms to all charts drawn and the bytes transferred until then."""
        page.goto(path, wait_until="commit")
        page.wait_for_function("() => window.__bench && window.__bench.drawn !== undefined")
        fewest = page.evaluate(FEWEST_POINTS)
        if fewest < 28:
            raise RuntimeError(f"{page.url}: a chart has {fewest} points, not 30 days")
        return page.evaluate("() => window.__bench.drawn"), page.evaluate(BYTES_SINCE, 0)

    @staticmethod
    def change(page, app: str) -> tuple[float, int]:
        """Switch to week buckets; return ms to all charts redrawn and the bytes it took."""
        since = page.evaluate("() => (window.__bench.changeStart = performance.now())")
        if app == "ours":
            page.select_option("select[name=granularity]", "week")
        else:
            page.check("#granularity input[value=week]")
        page.wait_for_function("() => window.__bench.changed !== undefined")
        page.wait_for_load_state("networkidle")
        changed = page.evaluate("() => window.__bench.changed")
        return changed - since, page.evaluate(BYTES_SINCE, since)


def browser_pair(apps: Apps, browser: Browser, results: dict[str, dict[str, list]]) -> None:
    """Restart both servers cold and take every browser measure once for each, interleaved."""
    with apps.serving(workers=2) as (ours, dash):
        session = sign_in(ours.base, EMAIL)
        warm_code(ours, dash, session)
        setup = {"ours": (ours.base, browser_cookies(session, ours.base)), "dash": (dash.base, [])}

        def each(measure: Callable[[str, object], dict[str, float]]) -> None:
            for app in ("ours", "dash"):
                base, cookies = setup[app]
                context = browser.context(base, cookies)
                try:
                    for name, value in measure(app, context.new_page()).items():
                        results[name][app].append(value)
                finally:
                    context.close()

        def cold(app: str, page) -> dict[str, float]:
            drawn, sent = browser.load(page, PAGE[app])
            change_ms, change_bytes = browser.change(page, app)
            return {"cold_ms": drawn, "first_bytes": sent,
                    "change_cold_ms": change_ms, "change_cold_bytes": change_bytes}  # fmt: skip

        def warm(app: str, page) -> dict[str, float]:
            drawn, _ = browser.load(page, PAGE[app])
            change_ms, change_bytes = browser.change(page, app)
            revisit, _ = browser.load(page, PAGE[app])
            return {"warm_ms": drawn, "change_warm_ms": change_ms,
                    "change_warm_bytes": change_bytes, "revisit_ms": revisit}  # fmt: skip

        each(cold)
        each(warm)


def throughput(send: Callable[[requests.Session], int], seconds: float, clients: int) -> float:
    """Return requests a second from `clients` threads for `seconds`; any non-200 stops it."""
    done = [0] * clients
    failures: list[int] = []
    stop_at = time.monotonic() + seconds

    def client(index: int) -> None:
        with requests.Session() as session:
            while time.monotonic() < stop_at and not failures:
                status = send(session)
                if status != 200:
                    failures.append(status)
                done[index] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise SystemExit(f"load: HTTP {failures[0]}")
    return sum(done) / (time.monotonic() - started)


def load_rounds(apps: Apps, workers: int, runs: int, seconds: float, clients: int) -> dict:
    """Measure both cached fragments interleaved, `runs` times, on `workers` workers each."""
    rates: dict[str, list[float]] = {"ours": [], "dash": []}
    with apps.serving(workers=workers) as (ours, dash):
        signed = sign_in(ours.base, EMAIL)
        cookie = signed.headers["Cookie"]
        url, body = ours.base + ours_fragment(), json.dumps(dash_body(*days(0), "week"))
        ours_headers = {"Cookie": cookie, "HX-Request": "true"}
        dash_url = f"{dash.base}/_dash-update-component"
        dash_headers = {"Content-Type": "application/json"}

        def send_ours(session: requests.Session) -> int:
            return session.get(url, headers=ours_headers, timeout=60).status_code

        def send_dash(session: requests.Session) -> int:
            return session.post(dash_url, data=body, headers=dash_headers, timeout=60).status_code

        # Fill both caches, then load each worker's code, before anything is counted.
        throughput(send_ours, 0.1, 1)
        throughput(send_dash, 0.1, 1)
        throughput(send_ours, min(seconds, 2), clients)
        throughput(send_dash, min(seconds, 2), clients)
        for _ in range(runs):
            rates["ours"].append(throughput(send_ours, seconds, clients))
            rates["dash"].append(throughput(send_dash, seconds, clients))
            print(f"  {workers} workers: {rates['ours'][-1]:.0f} vs "
                f"{rates['dash'][-1]:.0f} req/s", file=sys.stderr)  # fmt: skip
    return rates


ROWS = [
    ("first_bytes", "first visit, bytes transferred", "{:,.0f}"),
    ("cold_ms", "all charts drawn, cold upstream, ms", "{:,.0f}"),
    ("warm_ms", "all charts drawn, warm upstream cache, ms", "{:,.0f}"),
    ("change_cold_ms", "day → week, first time, ms to all charts redrawn", "{:,.0f}"),
    ("change_cold_bytes", "day → week, first time, bytes", "{:,.0f}"),
    ("change_warm_ms", "day → week, cached upstream, ms", "{:,.0f}"),
    ("change_warm_bytes", "day → week, cached upstream, bytes", "{:,.0f}"),
    ("revisit_ms", "warm revisit (same browser context), ms", "{:,.0f}"),
]


def table(results: dict[str, dict[str, list]], clients: int) -> str:
    """Return medians and median per-pair ratios as a Markdown table."""
    rows = [(key, label, fmt) for key, label, fmt in ROWS if results.get(key)]
    rows += [(key, f"cached fragment, {key.split('_')[1]} workers, {clients} clients, req/s",
        "{:,.1f}") for key in results if key.startswith("rps_")]  # fmt: skip
    lines = [
        "| measure | this app (median) | Dash (median) | this app / Dash (median of pairs) | pairs |",
        "|---|---:|---:|---:|---:|",
    ]
    for key, label, fmt in rows:
        ours, dash = results[key]["ours"], results[key]["dash"]
        ratios = [a / b for a, b in zip(ours, dash, strict=True) if b]
        ratio = f"{statistics.median(ratios):.2f}" if ratios else "–"
        lines.append(
            f"| {label} | {fmt.format(statistics.median(ours))} "
            f"| {fmt.format(statistics.median(dash))} | {ratio} | {len(ours)} |"
        )
    return "\n".join(lines)


def section(markdown: str, command: str, args: argparse.Namespace, chromium: str) -> str:
    """Return the RESULTS.md section: the table and how it was made."""
    from importlib.metadata import version

    dash_version = next((PEER.parent / "lib").glob("python*/site-packages/dash-*.dist-info"))
    return f"""The customer view (globex: five isnotai metrics and AI minutes, the last 30 days per
day) in this app against a Plotly Dash build of it (`bench/peers`: a date range, a
granularity and six `dcc.Graph`s filled by one callback reading the same simulators with
`requests` through requests-cache). Both under gunicorn (gthread, 4 threads a worker; 2
workers for the browser measures), reading one set of simulators at {args.latency_ms} ms a
call. Measures run interleaved (this app, then Dash) {args.runs} times; both servers restart
with empty caches before each browser pair. Ratios are this app over Dash for each pair, then
the median: below 1 is smaller or faster for ms and bytes, above 1 is more for req/s. How
each is taken: the docstring of `bench/vs_dash.py`. The app also draws its KPI strip and
reads the previous range for it; the peer has neither, and no sign-in.

{markdown}

- Command: `{command}`
- Made: {machine()}
- Browser: Chromium {chromium} (headless), Playwright {version("playwright")};
  {dash_version.name.removesuffix(".dist-info").replace("-", " ")}
"""


def main(argv: list[str] | None = None) -> None:
    """Run every measure, print the table and optionally record it."""
    parser = argparse.ArgumentParser(prog="python -m bench.vs_dash", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="interleaved pairs per measure")
    parser.add_argument("--seconds", type=float, default=5, help="each load run")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="2 runs, 2-second loads")
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--write", action="store_true", help="record in bench/RESULTS.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.seconds = 2, 2
    if not (PEER / "gunicorn").exists():
        raise SystemExit("the Dash peer is not installed: make bench-compare")
    if not os.access(args.chromium, os.X_OK):
        raise SystemExit(f"no Chromium at {args.chromium} (apt install chromium, or --chromium)")
    from playwright.sync_api import sync_playwright

    started = time.monotonic()
    measures = [key for key, _, _ in ROWS]
    results: dict[str, dict[str, list]] = {k: {"ours": [], "dash": []} for k in measures}
    with tempfile.TemporaryDirectory(prefix="vs-dash-") as folder, sync_playwright() as pw:
        apps = Apps(Path(folder), args.latency_ms)
        try:
            chromium = pw.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
            try:
                for run in range(args.runs):
                    browser_pair(apps, Browser(chromium), results)
                    print(f"  pair {run + 1}: cold {results['cold_ms']['ours'][-1]:.0f} vs "
                        f"{results['cold_ms']['dash'][-1]:.0f} ms", file=sys.stderr)  # fmt: skip
                version = chromium.version
            finally:
                chromium.close()
            for workers in (2, 4):
                rates = load_rounds(apps, workers, args.runs, args.seconds, args.clients)
                results[f"rps_{workers}"] = rates
        finally:
            apps.sims.stop()
    markdown = table(results, args.clients)
    print(markdown)
    print(f"\n{time.monotonic() - started:.0f} s in all", file=sys.stderr)
    if args.write:
        command = " ".join([".venv/bin/python -m bench.vs_dash", *sys.argv[1:]])
        write_section(HEADING, section(markdown, command.strip(), args, version))
        print("written to bench/RESULTS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
