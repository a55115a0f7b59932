"""Server time, bytes sent, and upstream calls for a long AI-minutes series.

    .venv/bin/python -m bench.server_time [--latency-ms 100] [--warm 5] [--cold-runs 5]
        [--series-only] [--timeline] [--no-write]

1. Server time per request for /usage and /staff, page and htmx fragment, cold (a new app
   with an empty cache, so every upstream read happens at the simulator's latency) and
   cached (median of the next N).
2. Bytes sent for a first visit of /usage (HTML, CSS, JS and the figure JSON inside the
   HTML, brotli-compressed as a browser would receive them) and for one filter change.
3. Upstream calls and wall time for a 90-day daily AI-minutes series: cold (median of
   --cold-runs, signed in at start as a started app is, and without that sign-in), warm the
   same day, and twenty identical concurrent cold requests from twenty separate workers
   sharing Redis (skipped when no Redis answers at USAGE_TEST_REDIS_URL). --series-only runs
   and writes this part alone; --timeline prints when each call of a cold series ran.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.harness import CUSTOMER, SECRET, STAFF, make_app, signed_in
from bench.results import machine, write_section

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("USAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def timed(client, url: str, headers: dict | None = None) -> tuple[float, object]:
    started = time.perf_counter()
    response = client.get(url, headers=headers or {})
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url}: HTTP {response.status_code}")
    return elapsed, response


PAGES = [
    ("/usage", "page", CUSTOMER, "/usage?preset=30d", {}),
    (
        "/usage",
        "fragment",
        "c@bench.test",
        "/usage?preset=30d&granularity=week",
        {"HX-Request": "true"},
    ),
    ("/staff", "page", STAFF, "/staff?preset=30d", {}),
    (
        "/staff",
        "fragment",
        "s@bench.test",
        "/staff?preset=30d&account=acct-northwind",
        {"HX-Request": "true"},
    ),
]


def server_times(sims, warm: int) -> str:
    rows = [f"| route | answer | cold ms | cached ms (median of {warm}) |", "|---|---|---:|---:|"]
    for route, kind, email, url, headers in PAGES:
        with tempfile.TemporaryDirectory() as folder:
            app = make_app(sims, Path(folder))
            client = signed_in(app, email)
            cold, _ = timed(client, url, headers)
            cached = statistics.median(timed(client, url, headers)[0] for _ in range(warm))
            app.extensions["upstreams"].http.close()
        rows.append(f"| {route} | {kind} | {cold:,.0f} | {cached:,.1f} |")
    return "\n".join(rows)


def bytes_sent(sims) -> str:
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(sims, Path(folder))
        client = signed_in(app, CUSTOMER)
        br = {"Accept-Encoding": "br"}
        page = client.get("/usage?preset=30d", headers=br)
        html = client.get("/usage?preset=30d").get_data(as_text=True)
        figures = sum(
            len(b.encode())
            for b in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S)
        )
        assets = re.findall(r'(?:href|src)="(/(?:static|assets)/[^"]+)"', html)
        sizes = {}
        for url in assets:
            response = client.get(url.replace("&amp;", "&"), headers=br)
            sizes[url.split("?")[0].rsplit("/", 1)[-1]] = (
                len(response.get_data()),
                response.headers.get("Content-Encoding"),
            )
        change = client.get(
            "/usage?preset=30d&granularity=week", headers={**br, "HX-Request": "true"}
        )
        app.extensions["upstreams"].http.close()
    total = len(page.get_data()) + sum(size for size, _ in sizes.values())
    rows = [
        "| what | bytes sent | encoding |",
        "|---|---:|---|",
        f"| HTML of /usage (all five metrics and AI minutes, 30 days) | {len(page.get_data()):,} | {page.headers.get('Content-Encoding')} |",
        f"| … of which figure JSON, before compression | {figures:,} | (inside the HTML) |",
        *(f"| {name} | {size:,} | {encoding} |" for name, (size, encoding) in sizes.items()),
        f"| **first visit, total** | **{total:,}** | |",
        f"| one filter change (htmx fragment, week buckets) | {len(change.get_data()):,} | {change.headers.get('Content-Encoding')} |",
    ]
    return "\n".join(rows)


SERIES_HEADING = "### A 90-day daily AI-minutes series (90 day buckets and one whole-range call)"


def series_calls(sims, latency_ms: int, cold_runs: int = 5, timeline: bool = False) -> str:
    from clients.cached_http import CachedUpstream, HttpPolicy
    from clients.evovoice import EvovoiceClient
    from simulators.data import EVOVOICE_SERVICE_USER

    username, password = EVOVOICE_SERVICE_USER
    end = datetime.now(UTC).date()
    start = end - timedelta(days=89)
    policy = HttpPolicy(deadline=60)

    def client_on(url: str, ahead: bool = True) -> tuple[CachedUpstream, EvovoiceClient]:
        """A client as a started app holds it: signed in ahead of reads (unless not)."""
        http = CachedUpstream(url, SECRET, policy)
        client = EvovoiceClient(http, lambda: sims.evovoice_url, username, password)
        if ahead:
            client.keep_signed_in()
            if not client.wait_signed_in_ahead(10) or not client.signed_in:
                raise SystemExit("EvoVoice simulator: the sign-in ahead of reads failed")
        return http, client

    def calls() -> int:
        return len([c for c in sims.state.calls() if c["path"] == "/ai/usage"])

    def sign_ins() -> int:
        return len([c for c in sims.state.calls() if c["path"] == "/auth/credentials"])

    def cold(ahead: bool) -> tuple[str, str, str]:
        """Median (min – max) wall ms of cold series, /ai/usage calls and sign-ins per run."""
        walls, asked, signed = [], set(), set()
        for _ in range(cold_runs):
            with tempfile.TemporaryDirectory() as folder:
                http, client = client_on(f"sqlite:///{Path(folder) / 'c.sqlite'}", ahead)
                log = _timed_calls(http) if timeline and not walls and ahead else None
                sims.state.clear_calls()
                began = time.perf_counter()
                client.minutes_series(start, end, "day", "acct-northwind")
                walls.append((time.perf_counter() - began) * 1000)
                asked.add(calls())
                signed.add(sign_ins())
                client.stop_signing_in_ahead()
                http.close()
                if log is not None:
                    _print_timeline(log, began)
        spread = f"{statistics.median(walls):,.0f} ({min(walls):,.0f} – {max(walls):,.0f})"
        return spread, "/".join(map(str, sorted(asked))), "/".join(map(str, sorted(signed)))

    rows = [
        "| run | /ai/usage calls | sign-ins on the way | wall ms |",
        "|---|---:|---:|---:|",
    ]
    # Not timed: a process's first series imports modules and starts pool threads, which a
    # serving app has long done (as has the rest of this benchmark, when it runs first).
    with tempfile.TemporaryDirectory() as folder:
        http, client = client_on(f"sqlite:///{Path(folder) / 'c.sqlite'}")
        client.minutes_series(start, end, "day", "acct-northwind")
        client.stop_signing_in_ahead()
        http.close()
    wall, asked, signed = cold(ahead=True)
    rows.append(
        f"| cold (empty cache), signed in at start: median of {cold_runs} (min – max) "
        f"| {asked} | {signed} | {wall} |"
    )
    wall, asked, signed = cold(ahead=False)
    rows.append(
        f"| cold, no sign-in at start (it failed): the read signs in, median of "
        f"{cold_runs} | {asked} | {signed} | {wall} |"
    )
    with tempfile.TemporaryDirectory() as folder:
        http, client = client_on(f"sqlite:///{Path(folder) / 'c.sqlite'}")
        for label in ("(warm-up: cold)", "warm, same day (same process)"):
            sims.state.clear_calls()
            began = time.perf_counter()
            client.minutes_series(start, end, "day", "acct-northwind")
            if not label.startswith("("):
                rows.append(
                    f"| {label} | {calls()} | {sign_ins()} | "
                    f"{(time.perf_counter() - began) * 1000:,.0f} |"
                )
        client.stop_signing_in_ahead()
        http.close()
        other, fresh_client = client_on(f"sqlite:///{Path(folder) / 'c.sqlite'}")
        sims.state.clear_calls()
        began = time.perf_counter()
        fresh_client.minutes_series(start, end, "day", "acct-northwind")
        rows.append(
            f"| warm, same day (another process, shared cache) | {calls()} | {sign_ins()} | "
            f"{(time.perf_counter() - began) * 1000:,.0f} |"
        )
        fresh_client.stop_signing_in_ahead()
        other.close()
    floor = math.ceil(91 / 8) * latency_ms
    notes = (
        f"Floor at 8 calls in flight: ceil(91 / 8) × {latency_ms} ms = {floor:,} ms. "
        "Signed in at start: the client signs in as a started app does (`keep_signed_in`) "
        "and the series is timed once that sign-in has ended."
    )

    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).flushdb()
    except redis.RedisError:
        rows.append("| 20 concurrent cold, separate workers | skipped: no Redis | | |")
        return "\n".join(rows) + "\n\n" + notes
    workers = [client_on(REDIS_URL) for _ in range(20)]
    barrier = threading.Barrier(len(workers))
    sims.state.clear_calls()

    def run(client):
        barrier.wait()
        client.minutes_series(start, end, "day", "acct-northwind")

    began = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c,)) for _, c in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows.append(
        f"| 20 concurrent cold, 20 separate workers sharing Redis | {calls()} | {sign_ins()} | "
        f"{(time.perf_counter() - began) * 1000:,.0f} |"
    )
    for http, client in workers:
        client.stop_signing_in_ahead()
        http.close()
    redis.Redis.from_url(REDIS_URL).flushdb()
    return "\n".join(rows) + "\n\n" + notes


def _timed_calls(http) -> list[tuple[float, float, str]]:
    """Record when each upstream call of this session starts and ends (for --timeline)."""
    log: list[tuple[float, float, str]] = []
    send = http.session.request

    def request(method, url, *args, **kwargs):
        began = time.perf_counter()
        try:
            return send(method, url, *args, **kwargs)
        finally:
            log.append((began, time.perf_counter(), url.rsplit("/", 1)[-1]))

    http.session.request = request
    return log


def _print_timeline(log: list[tuple[float, float, str]], began: float) -> None:
    print("call start ms, end ms (from the series' start), path", file=sys.stderr)
    for start, end, path in sorted(log):
        print(f"{(start - began) * 1000:8.1f} {(end - began) * 1000:8.1f}  {path}", file=sys.stderr)


def replace_series_section(body: str) -> None:
    """Put only the series' subsection into RESULTS.md (the rest of its section stays)."""
    from bench.results import RESULTS

    old = RESULTS.read_text()
    begin = old.index(SERIES_HEADING + "\n")
    after = old.find("\n## ", begin)
    tail = old[after:] if after != -1 else "\n"
    RESULTS.write_text(old[:begin] + SERIES_HEADING + "\n\n" + body.strip() + "\n" + tail)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server_time", description=__doc__)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--cold-runs", type=int, default=5, help="cold series timed (median)")
    parser.add_argument(
        "--series-only", action="store_true", help="run (and write) only the series part"
    )
    parser.add_argument(
        "--timeline", action="store_true", help="print when each call of a cold series ran"
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from simulators import SimulatorState, start_simulators

    sims = start_simulators(
        port=0, state=SimulatorState(latency_ms=args.latency_ms, rate_limits=False)
    )
    try:
        if args.series_only:
            series = series_calls(sims, args.latency_ms, args.cold_runs, args.timeline)
        else:
            times = server_times(sims, args.warm)
            sizes = bytes_sent(sims)
            series = series_calls(sims, args.latency_ms, args.cold_runs, args.timeline)
    finally:
        sims.stop()
    if args.series_only:
        command = (
            f".venv/bin/python -m bench.server_time --series-only --latency-ms "
            f"{args.latency_ms} --cold-runs {args.cold_runs}"
        )
        body = f"Command: `{command}` — made {machine()}.\n\n{series}\n"
        print(body)
        if not args.no_write:
            replace_series_section(body)
        return
    command = (
        f".venv/bin/python -m bench.server_time --latency-ms {args.latency_ms} --warm {args.warm}"
        f" --cold-runs {args.cold_runs}"
    )
    body = f"""Command: `{command}` — made {machine()}. Simulator latency {args.latency_ms} ms
per upstream call; the app runs in-process behind Flask's test client (no network between
client and app), so these are server times. Cold: a new app and an empty cache.

### Server time per request

{times}

### Bytes sent (brotli, as a browser receives them)

{sizes}

{SERIES_HEADING}

{series}
"""
    print(body)
    if not args.no_write:
        write_section("Server time, bytes and upstream calls (bench/server_time.py)", body)


if __name__ == "__main__":
    main()
