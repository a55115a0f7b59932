"""Server time, bytes sent, and upstream calls for a long AI-minutes series.

    .venv/bin/python -m bench.server_time [--latency-ms 100] [--warm 5] [--no-write]

1. Server time per request for /usage and /staff, page and htmx fragment, cold (a new app
   with an empty cache, so every upstream read happens at the simulator's latency) and
   cached (median of the next N).
2. Bytes sent for a first visit of /usage (HTML, CSS, JS and the figure JSON inside the
   HTML, brotli-compressed as a browser would receive them) and for one filter change.
3. Upstream calls and wall time for a 90-day daily AI-minutes series: cold, warm the same
   day, and twenty identical concurrent cold requests from twenty separate workers sharing
   Redis (skipped when no Redis answers at USAGE_TEST_REDIS_URL).
"""

from __future__ import annotations

import argparse
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


def series_calls(sims) -> str:
    from clients.cached_http import CachedUpstream, HttpPolicy
    from clients.evovoice import EvovoiceClient
    from simulators.data import EVOVOICE_SERVICE_USER

    username, password = EVOVOICE_SERVICE_USER
    end = datetime.now(UTC).date()
    start = end - timedelta(days=89)
    policy = HttpPolicy(deadline=60)

    def client_on(url: str) -> tuple[CachedUpstream, EvovoiceClient]:
        http = CachedUpstream(url, SECRET, policy)
        return http, EvovoiceClient(http, lambda: sims.evovoice_url, username, password)

    def calls() -> int:
        return len([c for c in sims.state.calls() if c["path"] == "/ai/usage"])

    rows = ["| run | /ai/usage calls | wall ms |", "|---|---:|---:|"]
    with tempfile.TemporaryDirectory() as folder:
        http, client = client_on(f"sqlite:///{Path(folder) / 'c.sqlite'}")
        for label in ("cold (empty cache)", "warm, same day (same process)"):
            sims.state.clear_calls()
            started = time.perf_counter()
            client.minutes_series(start, end, "day", "acct-northwind")
            rows.append(f"| {label} | {calls()} | {(time.perf_counter() - started) * 1000:,.0f} |")
        http.close()
        other, fresh_client = client_on(f"sqlite:///{Path(folder) / 'c.sqlite'}")
        sims.state.clear_calls()
        started = time.perf_counter()
        fresh_client.minutes_series(start, end, "day", "acct-northwind")
        rows.append(
            f"| warm, same day (another process, shared cache) | {calls()} | {(time.perf_counter() - started) * 1000:,.0f} |"
        )
        other.close()

    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).flushdb()
    except redis.RedisError:
        rows.append("| 20 concurrent cold, separate workers | skipped: no Redis | |")
        return "\n".join(rows)
    workers = [client_on(REDIS_URL) for _ in range(20)]
    barrier = threading.Barrier(len(workers))
    sims.state.clear_calls()

    def run(client):
        barrier.wait()
        client.minutes_series(start, end, "day", "acct-northwind")

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c,)) for _, c in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows.append(
        f"| 20 concurrent cold, 20 separate workers sharing Redis | {calls()} | "
        f"{(time.perf_counter() - started) * 1000:,.0f} |"
    )
    for http, _ in workers:
        http.close()
    redis.Redis.from_url(REDIS_URL).flushdb()
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.server_time", description=__doc__)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from simulators import SimulatorState, start_simulators

    sims = start_simulators(
        port=0, state=SimulatorState(latency_ms=args.latency_ms, rate_limits=False)
    )
    try:
        times = server_times(sims, args.warm)
        sizes = bytes_sent(sims)
        series = series_calls(sims)
    finally:
        sims.stop()
    command = (
        f".venv/bin/python -m bench.server_time --latency-ms {args.latency_ms} --warm {args.warm}"
    )
    body = f"""Command: `{command}` — made {machine()}. Simulator latency {args.latency_ms} ms
per upstream call; the app runs in-process behind Flask's test client (no network between
client and app), so these are server times. Cold: a new app and an empty cache.

### Server time per request

{times}

### Bytes sent (brotli, as a browser receives them)

{sizes}

### A 90-day daily AI-minutes series (90 day buckets and one whole-range call)

{series}
"""
    print(body)
    if not args.no_write:
        write_section("Server time, bytes and upstream calls (bench/server_time.py)", body)


if __name__ == "__main__":
    main()
