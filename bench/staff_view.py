"""Time the staff view's htmx fragment against the EvoVoice simulator at 1k, 10k and 100k customers.

    .venv/bin/python -m bench.staff_view [--warm N] [--sizes 1000,10000,100000] [--no-write]

For each size the app starts with an empty cache (a new SQLite file, so also an empty
in-process memo), then asks for the fragment once (cold: every upstream read happens) and N
more times (warm: answers come from the memo), for every account and for one account
(acct-northwind, a fifth of the customers). Server time is the wall time of the request
through Flask's test client, which includes the simulator: it runs in this process on
loopback, as in demo mode, so a cold figure also pays for generating the upstream answers.
The table is printed and written to bench/RESULTS.md under "## Staff view".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import STAFF, make_app, signed_in
from bench.results import machine, write_section

HEADING = "Staff view"
SCENARIOS = {
    "every account": "/staff?preset=30d&granularity=day",
    "one account": "/staff?preset=30d&granularity=day&account=acct-northwind",
}


def rss_mb() -> float | None:
    """Return this process's resident memory in MB (Linux), else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def timed(client, url: str) -> tuple[float, int, float]:
    """Return the milliseconds, body bytes and process CPU milliseconds of one fragment
    request (CPU of every thread: the app's, its fan-out's and the simulator's)."""
    began, cpu = time.perf_counter(), time.process_time()
    response = client.get(url, headers={"HX-Request": "true"})
    elapsed = (time.perf_counter() - began) * 1000
    cpu_ms = (time.process_time() - cpu) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.data[:300]!r}")
    return elapsed, len(response.data), cpu_ms


def measure(sims, extra: int, warm: int) -> list[dict]:
    """Run every scenario at one size with a fresh app and cache."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    sims.state.update(extra_customers=extra)
    rows = []
    with tempfile.TemporaryDirectory(prefix="staff-bench-") as folder:
        app = make_app(sims, Path(folder))
        try:
            client = signed_in(app, STAFF)
            for name, url in SCENARIOS.items():
                sims.state.clear_calls()
                cold_ms, cold_bytes, cold_cpu = timed(client, url)
                calls = len(sims.state.calls(path="/ai/usage"))
                runs = [timed(client, url) for _ in range(warm)]
                rows.append(
                    {
                        "customers": extra,
                        "scenario": name,
                        "cold_ms": cold_ms,
                        "cold_cpu": cold_cpu,
                        "warm_ms": statistics.median(ms for ms, _, _ in runs),
                        "bytes": cold_bytes,
                        "warm_bytes": max(size for _, size, _ in runs),
                        "calls": calls,
                        "warm_calls": len(sims.state.calls(path="/ai/usage")) - calls,
                        "rss": rss_mb(),
                    }
                )
                warm_ms = rows[-1]["warm_ms"]
                print(f"  {extra:>7,} {name:<14} cold {cold_ms:6.0f} ms, warm {warm_ms:6.1f} ms")
        finally:
            app.extensions["upstreams"].http.close()
    return rows


def table(rows: list[dict], warm: int) -> str:
    """Return the results as a Markdown table."""
    lines = [
        "| extra customers | view | cold: server ms | cold: process CPU ms "
        f"| warm: server ms (median of {warm}) "
        "| fragment bytes (cold / warm) | EvoVoice calls (cold / warm) | process RSS after, MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rss = f"{r['rss']:,.0f}" if r["rss"] is not None else "–"
        lines.append(
            f"| {r['customers']:,} | {r['scenario']} | {r['cold_ms']:,.0f} "
            f"| {r['cold_cpu']:,.0f} | {r['warm_ms']:,.1f} "
            f"| {r['bytes']:,} / {r['warm_bytes']:,} | {r['calls']} / {r['warm_calls']} | {rss} |"
        )
    return "\n".join(lines)


def section(markdown: str, command: str, warm: int) -> str:
    """Return the RESULTS.md section: the table and how it was made."""
    return f"""The staff page's htmx fragment (`HX-Request: true`) for the last 30 days per day, for every
account and for one account (`acct-northwind`, a fifth of the customers), against the
in-process EvoVoice simulator with `extra_customers` synthetic customers spread over its five
accounts. Cold: a new app with an empty cache (SQLite file and in-process memo), so every
EvoVoice read happens, and the simulator (same process) builds and serialises each answer;
one account reads 30 day buckets, the whole range and the previous range, each answer
listing every customer of the account. Warm: the same request {warm} more times; the median.
Server time is the wall time through Flask's test client (no network between client and app);
process CPU is every thread's, the simulator's included (on 2 shared CPUs);
the request path no longer imports Plotly (figures are plain dicts). RSS is the whole
process, simulator included; the parsed answers it holds are bounded by the client's memo.

{markdown}

- Command: `{command}`
- Made: {machine()}
"""


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and record it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=5, help="warm requests per view (median)")
    parser.add_argument("--sizes", default="1000,10000,100000", help="extra customers to try")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from simulators import SimulatorState, start_simulators

    sims = start_simulators(host="127.0.0.1", port=0, state=SimulatorState(rate_limits=False))
    try:
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            rows.extend(measure(sims, size, args.warm))
    finally:
        sims.stop()
    markdown = table(rows, args.warm)
    print(markdown)
    if not args.no_write:
        command = " ".join([".venv/bin/python -m bench.staff_view", *sys.argv[1:]])
        write_section(HEADING, section(markdown, command.strip(), args.warm))
        print("\nwritten to bench/RESULTS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
