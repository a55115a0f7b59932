"""A gunicorn worker's first plotly.js: after the server starts and after each recycle.

    .venv/bin/python -m bench.static_first_request [--recycles 5] [--before DIR] [--no-write]

Serves the demo under gunicorn (deploy/gunicorn.conf.py, one worker), asks for plotly.js
with `Accept-Encoding: br` (timed until its body has arrived as sent), then ends the
worker (SIGTERM, as a `max_requests` recycle ends it), waits for the master's new worker
to answer /healthz and times its first plotly.js again.

`--before DIR` also times the same in DIR, an export of an earlier commit
(`git archive COMMIT | tar -x -C DIR`, with .venv and node_modules linked in), by running
this file there with `--json`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.results import machine, write_section
from devtools.servers import demo_server

ROOT = Path(__file__).resolve().parent.parent
PLOTLY_PACKAGE = ROOT / "node_modules/plotly.js-basic-dist-min/package.json"


def timed_get(url: str) -> float:
    """Return the milliseconds until the whole body (brotli, as sent) has arrived."""
    started = time.perf_counter()
    response = requests.get(url, headers={"Accept-Encoding": "br"}, stream=True, timeout=120)
    response.raw.read(decode_content=False)
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


def workers(master: int) -> set[int]:
    """Return the pids of the gunicorn master's workers."""
    return {int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()}


def replace_worker(master: int) -> None:
    """End the only worker and return once the master has forked its successor."""
    (old,) = workers(master)
    os.kill(old, signal.SIGTERM)
    deadline = time.monotonic() + 120
    while workers(master) in ({old}, set()):
        if time.monotonic() > deadline:
            raise SystemExit("gunicorn did not replace its worker")
        time.sleep(0.05)


def measure(recycles: int) -> dict:
    """Time a worker's first plotly.js right after start and after each recycle."""
    version = json.loads(PLOTLY_PACKAGE.read_text())["version"]
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        with demo_server(Path(folder), "gunicorn", workers=1) as server:
            ready = time.perf_counter() - started
            url = f"{server.base}/assets/vendor/{version}/plotly.js"
            firsts = [timed_get(url)]
            for _ in range(recycles):
                replace_worker(server.process.pid)
                requests.get(f"{server.base}/healthz", timeout=120)  # the worker has booted
                firsts.append(timed_get(url))
    return {"ready_s": ready, "after_start_ms": firsts[0], "after_recycle_ms": firsts[1:]}


def row(label: str, result: dict) -> str:
    recycled = result["after_recycle_ms"]
    return (
        f"| {label} | {result['ready_s']:.1f} | {result['after_start_ms']:.0f} | "
        f"{statistics.median(recycled):.0f} | {max(recycled):.0f} |"
    )


def measure_before(folder: Path, recycles: int) -> dict:
    """Run this benchmark in an export of an earlier commit and return its figures."""
    target = folder / "bench" / Path(__file__).name
    shutil.copyfile(__file__, target)
    done = subprocess.run(
        [sys.executable, "-m", "bench.static_first_request", "--json", "--recycles", str(recycles)],
        cwd=folder, capture_output=True, text=True, check=True, timeout=1800,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recycles", type=int, default=5)
    parser.add_argument("--before", type=Path, help="an export of an earlier commit")
    parser.add_argument("--json", action="store_true", help="print figures as JSON only")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.json:
        print(json.dumps(measure(args.recycles)))
        return
    rows = []
    if args.before:
        before = measure_before(args.before, args.recycles)
        rows.append(row(f"before (`{args.before.name}`)", before))
        print(rows[-1], flush=True)
    rows.append(row("now", measure(args.recycles)))
    print(rows[-1], flush=True)
    command = f"`.venv/bin/python -m bench.static_first_request --recycles {args.recycles}" + (
        f" --before {args.before}`" if args.before else "`"
    )
    body = "\n".join(
        [
            f"{command}; {machine()}.",
            "",
            "One gunicorn worker, ended (SIGTERM) and replaced by the master between reads;",
            "milliseconds until a worker's first plotly.js (1.2 MB, brotli) has arrived, right",
            f"after the server started and after each of {args.recycles} replacements; seconds",
            "from `flask setup` to gunicorn's first /healthz.",
            *(
                [f"`{args.before}` is `git archive` of the earlier commit, with .venv linked in."]
                if args.before
                else []
            ),
            "",
            "| code | start to ready (s) | after start | after recycle, median | max |",
            "|---|---:|---:|---:|---:|",
            *rows,
        ]
    )
    if not args.no_write:
        write_section("A worker's first plotly.js (bench/static_first_request.py)", body)


if __name__ == "__main__":
    main()
