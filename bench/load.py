"""Load: signed-in customers and staff against gunicorn and the simulators, on loopback.

    .venv/bin/python -m bench.load [--seconds 20] [--max-requests 2000] [--users 16]
                                   [--workers 4] [--latency-ms 50] [--write]

Starts the simulators in this process (with added latency), a multi-worker gunicorn
serving the app against them, signs in customers of three tenants and a staff member, and
drives pages, htmx fragments and CSV exports for a bounded time and count. Reports
throughput, latency percentiles, errors (must be zero) and upstream calls per dashboard
request; `--write` records the table in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import requests

from bench.results import write_section
from devtools.servers import BIN, free_port, run_flask, serving

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "load-test-password"
CUSTOMERS = {
    "acme": ("acme", "acct-northwind", None),
    "globex": ("globex", "zürich-東京-Ωmega", "kunde-müller"),
    "initech": ("initech", "acct-quiet", None),
}
CUSTOMER_PATHS = [
    ("page", "/usage?preset={preset}&granularity={granularity}", {}),
    ("fragment", "/usage?preset={preset}&granularity={granularity}", {"HX-Request": "true"}),
    ("fragment", "/usage?preset={preset}&metric=events&compare=previous", {"HX-Request": "true"}),
    ("export", "/usage/metrics.csv?preset={preset}&granularity={granularity}", {}),
    ("export", "/usage/ai-minutes.csv?preset={preset}&granularity={granularity}", {}),
]
STAFF_PATHS = [
    ("page", "/staff?preset={preset}", {}),
    ("fragment", "/staff?preset={preset}&sort=-minutes", {"HX-Request": "true"}),
    ("fragment", "/staff?preset={preset}&account=acct-northwind", {"HX-Request": "true"}),
    ("export", "/staff/accounts.csv?preset={preset}", {}),
]


def prepare(env: dict) -> None:
    """Create the schema, three tenants and their users, and a staff member."""
    from simulators.data import isnotai_integration

    run_flask(env, "setup")
    for name, (integration, account, customer) in CUSTOMERS.items():
        demo = isnotai_integration(integration)
        extra = ["--evovoice-customer", customer] if customer else []
        run_flask(env, "tenants", "add", name, "--isnotai-key", demo.key, "--region", demo.region,
            "--evovoice-account", account, *extra)  # fmt: skip
        run_flask(env, "users", "add", f"{name}@load.test", "--role", "customer", "--tenant", name,
            "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    run_flask(env, "users", "add", "staff@load.test", "--role", "staff", "--password-stdin",
        stdin=PASSWORD + "\n")  # fmt: skip


def sign_in(base: str, email: str) -> requests.Session:
    session = requests.Session()
    # The app marks cookies Secure outside demo mode and this benchmark talks plain http on
    # loopback, where requests would not send them: carry them by hand.
    jar: dict[str, str] = {}

    def keep_cookies(response, *args, **kwargs):
        jar.update({c.name: c.value for c in response.cookies})
        session.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())

    session.hooks["response"].append(keep_cookies)
    form = session.get(f"{base}/login", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    answer = session.post(
        f"{base}/login", data={"email": email, "password": PASSWORD, "csrf_token": token},
        timeout=30, allow_redirects=False,
    )  # fmt: skip
    if answer.status_code != 302:
        raise SystemExit(f"could not sign in {email}: HTTP {answer.status_code}")
    return session


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--max-requests", type=int, default=2000)
    parser.add_argument("--users", type=int, default=16, help="concurrent virtual users")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--write", action="store_true", help="record in bench/RESULTS.md")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from simulators import SimulatorState, start_simulators
    from simulators.data import EVOVOICE_SERVICE_USER

    sims = start_simulators(
        port=0, state=SimulatorState(latency_ms=args.latency_ms, rate_limits=False)
    )
    workdir = Path(tempfile.mkdtemp(prefix="usage-load-"))
    env = {
        **os.environ,
        "USAGE_DEMO": "off",
        "USAGE_SECRET_KEY": "load-test-secret-key-0123456789abcdefghijkl",
        "USAGE_DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite'}",
        "USAGE_CACHE_URL": os.environ.get("USAGE_CACHE_URL", f"sqlite:///{workdir / 'c.sqlite'}"),
        "USAGE_ISNOTAI_US_URL": sims.isnotai_us_url,
        "USAGE_ISNOTAI_EU_URL": sims.isnotai_eu_url,
        "USAGE_EVOVOICE_URL": sims.evovoice_url,
        "USAGE_EVOVOICE_USERNAME": EVOVOICE_SERVICE_USER[0],
        "USAGE_EVOVOICE_PASSWORD": EVOVOICE_SERVICE_USER[1],
    }
    prepare(env)
    port = free_port()
    # The production server as configured in deploy/gunicorn.conf.py.
    server_env = {**env, "USAGE_BIND": f"127.0.0.1:{port}", "USAGE_WORKERS": str(args.workers)}
    command = [BIN / "gunicorn", "-c", "deploy/gunicorn.conf.py", "app:create_app()"]
    base = f"http://127.0.0.1:{port}"
    with serving(command, server_env, port, workdir / "server.log"):
        staff_enabled = requests.get(f"{base}/staff", timeout=5, allow_redirects=False)
        sessions = [(sign_in(base, f"{n}@load.test"), CUSTOMER_PATHS) for n in CUSTOMERS]
        if staff_enabled.status_code != 404:
            sessions.append((sign_in(base, "staff@load.test"), STAFF_PATHS))
        sims.state.clear_calls()
        results: list[tuple[str, int, float]] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds
        rng = random.Random(7)

        def user(index: int) -> None:
            session, paths = sessions[index % len(sessions)]
            while time.monotonic() < stop_at:
                with lock:
                    if len(results) >= args.max_requests:
                        return
                    kind, template, headers = rng.choice(paths)
                    preset = rng.choice(["7d", "30d", "mtd"])
                    granularity = rng.choice(["day", "week"])
                url = base + template.format(preset=preset, granularity=granularity)
                started = time.perf_counter()
                try:
                    status = session.get(url, headers=headers, timeout=60).status_code
                except requests.RequestException:
                    status = 0
                with lock:
                    results.append((kind, status, time.perf_counter() - started))

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.users) as pool:
            list(pool.map(user, range(args.users)))
        elapsed = time.monotonic() - started
        upstream = len([c for c in sims.state.calls() if c["path"] in ("/v1/usage", "/ai/usage")])
    sims.stop()

    latencies = [r[2] * 1000 for r in results]
    errors = [r for r in results if not 200 <= r[1] < 300]
    by_kind = {
        k: [r[2] * 1000 for r in results if r[0] == k] for k in ("page", "fragment", "export")
    }
    lines = [
        f"Command: `.venv/bin/python -m bench.load --seconds {args.seconds:g} --max-requests "
        f"{args.max_requests} --users {args.users} --workers {args.workers} --latency-ms "
        f"{args.latency_ms}`",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.platform()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}; gunicorn with "
        f"deploy/gunicorn.conf.py, {args.workers} workers x 4 threads; simulator latency {args.latency_ms} ms; "
        f"cache {env['USAGE_CACHE_URL'].split(':')[0]}.",
        "",
        "| requests | seconds | req/s | p50 ms | p90 ms | p99 ms | errors | upstream calls per request |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {len(results)} | {elapsed:.1f} | {len(results) / elapsed:.1f} | "
        f"{percentile(latencies, 0.5):.0f} | {percentile(latencies, 0.9):.0f} | "
        f"{percentile(latencies, 0.99):.0f} | {len(errors)} | {upstream / max(1, len(results)):.2f} |",
        "",
        "| kind | requests | median ms |",
        "|---|---:|---:|",
        *(
            f"| {kind} | {len(values)} | {statistics.median(values):.0f} |"
            for kind, values in by_kind.items()
            if values
        ),
    ]
    report = "\n".join(lines)
    print(report)
    if errors:
        print(f"\nERRORS: {sorted({s for _, s, _ in errors})}", file=sys.stderr)
    if args.write:
        write_section("Load (bench/load.py)", report)
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
