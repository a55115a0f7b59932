"""Time the staff view's htmx fragment against the EvoVoice simulator at 1k, 10k and 100k customers.

    .venv/bin/python -m bench.staff_view [--warm N] [--sizes 1000,10000,100000] [--no-write]
                                         [--simulator process|thread]

For each size the app starts with an empty cache (a new SQLite file, so also an empty
in-process memo), then asks for the fragment once (cold: every upstream read happens) and N
more times (warm: answers come from the memo), for every account and for one account
(acct-northwind, a fifth of the customers). Server time is the wall time of the request
through Flask's test client, which includes waiting for the simulator on loopback.

The simulator runs in a process of its own (`python -m simulators`, driven over `/_sim/`),
so the app's CPU (this process: the request, its fan-out, parsing and cache writes) and the
simulator's (building and serialising the answers) are measured apart. `--simulator thread`
runs it inside this process instead, as demo mode does; its CPU is then counted in the
app's and the simulator column shows "–".
The table is printed and written to bench/RESULTS.md under "## Staff view".
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.harness import STAFF, make_app, signed_in
from bench.results import machine, write_section
from devtools.servers import free_port

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


class RemoteState:
    """The part of `SimulatorState` the benchmark drives, over the simulator's `/_sim/`."""

    def __init__(self, base_url: str) -> None:
        self._control = base_url + "/_sim"
        self._http = requests.Session()

    def update(self, **settings: Any) -> None:
        """Apply settings (e.g. extra_customers)."""
        self._http.put(self._control + "/settings", json=settings, timeout=30).raise_for_status()

    def clear_calls(self) -> None:
        """Forget the logged API requests."""
        self._http.delete(self._control + "/calls", timeout=30).raise_for_status()

    def calls(self, path: str | None = None) -> list[dict]:
        """Return the logged API requests to `path`."""
        answer = self._http.get(self._control + "/calls", params={"path": path}, timeout=30)
        answer.raise_for_status()
        return answer.json()


class SimulatorProcess:
    """The simulators served by `python -m simulators` in a process of their own."""

    def __init__(self) -> None:
        port = free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        self.isnotai_us_url = self.base_url + "/isnotai/us"
        self.isnotai_eu_url = self.base_url + "/isnotai/eu"
        self.evovoice_url = self.base_url + "/evovoice"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulators", "--port", str(port), "--no-rate-limits"],
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # quiet=False: a line per request otherwise
        )
        self.state = RemoteState(self.base_url)
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(self.base_url + "/_sim/settings", timeout=5).raise_for_status()
                break
            except requests.RequestException:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit("the simulator process did not come up") from None
                time.sleep(0.2)

    def cpu_ms(self) -> float | None:
        """Return the CPU milliseconds the simulator process has used so far (Linux)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        # utime and stime, fields 14 and 15 of stat(5), in clock ticks.
        return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Stop the simulator process."""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def timed(client, url: str, sims=None) -> tuple[float, int, float, float | None]:
    """Return the milliseconds, body bytes, this process's CPU milliseconds (every thread's)
    and the simulator process's CPU milliseconds (None when it runs in this process) of one
    fragment request."""
    sim_cpu = getattr(sims, "cpu_ms", lambda: None)
    sim_before = sim_cpu()
    began, cpu = time.perf_counter(), time.process_time()
    response = client.get(url, headers={"HX-Request": "true"})
    elapsed = (time.perf_counter() - began) * 1000
    cpu_ms = (time.process_time() - cpu) * 1000
    sim_after = sim_cpu()
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.data[:300]!r}")
    sim_ms = None if sim_before is None or sim_after is None else sim_after - sim_before
    return elapsed, len(response.data), cpu_ms, sim_ms


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
                cold_ms, cold_bytes, cold_cpu, sim_cpu = timed(client, url, sims)
                calls = len(sims.state.calls(path="/ai/usage"))
                runs = [timed(client, url) for _ in range(warm)]
                rows.append(
                    {
                        "customers": extra,
                        "scenario": name,
                        "cold_ms": cold_ms,
                        "cold_cpu": cold_cpu,
                        "sim_cpu": sim_cpu,
                        "warm_ms": statistics.median(run[0] for run in runs),
                        "bytes": cold_bytes,
                        "warm_bytes": max(run[1] for run in runs),
                        "calls": calls,
                        "warm_calls": len(sims.state.calls(path="/ai/usage")) - calls,
                        "rss": rss_mb(),
                    }
                )
                warm_ms = rows[-1]["warm_ms"]
                print(
                    f"  {extra:>7,} {name:<14} cold {cold_ms:6.0f} ms (app CPU {cold_cpu:5.0f} ms),"
                    f" warm {warm_ms:6.1f} ms"
                )
        finally:
            app.extensions["upstreams"].http.close()
    return rows


def table(rows: list[dict], warm: int) -> str:
    """Return the results as a Markdown table."""
    lines = [
        "| extra customers | view | cold: server ms | cold: app process CPU ms "
        "| cold: simulator process CPU ms "
        f"| warm: server ms (median of {warm}) "
        "| fragment bytes (cold / warm) | EvoVoice calls (cold / warm) | app RSS after, MB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        rss = f"{r['rss']:,.0f}" if r["rss"] is not None else "–"
        sim = f"{r['sim_cpu']:,.0f}" if r["sim_cpu"] is not None else "–"
        lines.append(
            f"| {r['customers']:,} | {r['scenario']} | {r['cold_ms']:,.0f} "
            f"| {r['cold_cpu']:,.0f} | {sim} | {r['warm_ms']:,.1f} "
            f"| {r['bytes']:,} / {r['warm_bytes']:,} | {r['calls']} / {r['warm_calls']} | {rss} |"
        )
    return "\n".join(lines)


def section(markdown: str, command: str, warm: int, simulator: str) -> str:
    """Return the RESULTS.md section: the table and how it was made."""
    where, app_cpu = (
        ("served by `python -m simulators` in a process of its own", "")
        if simulator == "process"
        else (
            "served by a thread of the app's process (as in demo mode)",
            ", the simulator's included",
        )
    )
    return f"""The staff page's htmx fragment (`HX-Request: true`) for the last 30 days per day, for every
account and for one account (`acct-northwind`, a fifth of the customers), against the
EvoVoice simulator with `extra_customers` synthetic customers spread over its five
accounts, {where}.
Cold: a new app with an empty cache (SQLite file and in-process memo), so every EvoVoice read
happens, and the simulator builds and serialises each answer; one account reads 30 day
buckets, the whole range and the previous range, each answer listing every customer of the
account. Warm: the same request {warm} more times; the median.
Server time is the wall time through Flask's test client (no network between client and
app; the simulator is on loopback). App process CPU is every thread of the app's process
(the request, its fan-out, parsing, cache writes){app_cpu}; simulator process CPU is the
simulator's own process over the same request (on 2 shared CPUs). The request path does not
import Plotly (figures are plain dicts). RSS is the app's process; the parsed answers it
holds are bounded by the client's memo.

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
    parser.add_argument(
        "--simulator",
        choices=("process", "thread"),
        default="process",
        help="serve the simulator from its own process (default) or a thread of this one",
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    from simulators import SimulatorState, start_simulators

    sims = (
        SimulatorProcess()
        if args.simulator == "process"
        else start_simulators(host="127.0.0.1", port=0, state=SimulatorState(rate_limits=False))
    )
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
        write_section(HEADING, section(markdown, command.strip(), args.warm, args.simulator))
        print("\nwritten to bench/RESULTS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
