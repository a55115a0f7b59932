"""Before and after a change to the fan-out: a cold 90-day daily AI-minutes series, and warm
htmx fragments, measured in turn on this checkout and on another commit.

    .venv/bin/python -m bench.fanout --against REF [--latency-ms 100] [--runs 3] [--no-write]

REF's files are exported (`git archive`) to a temporary folder; each run starts one new
process per tree, alternating, so both see the same machine load. Per process:

1. the series (90 day buckets and the whole range) for acct-northwind with an empty cache,
   by a new client that signs in first, then by one whose session is already open (a
   serving process has one): wall time and /ai/usage calls;
2. the /usage and /staff fragments of bench/server_time.py, warm: the median server time of
   the next `--warm` requests after a cold one, and the fan-out pool's submissions per warm
   request (where the tree counts them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def _series(sims) -> dict:
    from bench.harness import SECRET
    from clients.cached_http import CachedUpstream, HttpPolicy
    from clients.evovoice import EvovoiceClient
    from simulators.data import EVOVOICE_SERVICE_USER

    username, password = EVOVOICE_SERVICE_USER
    end = datetime.now(UTC).date()
    start = end - timedelta(days=89)
    found = {}
    for label, signed_in in (("signs in", False), ("session open", True)):
        with tempfile.TemporaryDirectory() as folder:
            http = CachedUpstream(f"sqlite:///{folder}/c.sqlite", SECRET, HttpPolicy(deadline=60))
            client = EvovoiceClient(http, lambda: sims.evovoice_url, username, password)
            if signed_in:
                client._auth_headers()  # a serving process has its session open already
            sims.state.clear_calls()
            started = time.perf_counter()
            client.minutes_series(start, end, "day", "acct-northwind")
            found[label] = (time.perf_counter() - started) * 1000
            found[f"{label} calls"] = len(sims.state.calls(path="/ai/usage"))
            http.close()
    return found


def _fragments(sims, warm: int) -> dict:
    from bench.harness import make_app, signed_in
    from bench.server_time import PAGES, timed
    from clients import fanout

    def handed() -> int | None:
        pools = (fanout.THREADS, fanout.PAGE_THREADS)
        counts = [getattr(pool, "submitted", None) for pool in pools]
        return None if None in counts else sum(counts)

    found = {}
    for route, kind, email, url, headers in PAGES:
        if kind != "fragment":
            continue
        with tempfile.TemporaryDirectory() as folder:
            app = make_app(sims, Path(folder))
            client = signed_in(app, email)
            timed(client, url, headers)
            before = handed()
            times = [timed(client, url, headers)[0] for _ in range(warm)]
            after = handed()
            app.extensions["upstreams"].http.close()
        found[route] = statistics.median(times)
        found[f"{route} submissions"] = None if before is None else (after - before) / warm
    return found


def child(latency_ms: int, warm: int) -> None:
    """Measure the tree in the working directory; print the figures as JSON."""
    sys.path.insert(0, os.getcwd())
    from simulators import SimulatorState, start_simulators

    sims = start_simulators(port=0, state=SimulatorState(latency_ms=latency_ms, rate_limits=False))
    try:
        print(json.dumps({**_series(sims), **_fragments(sims, warm)}))
    finally:
        sims.stop()


def export(ref: str, folder: Path) -> str:
    """Write REF's files into folder; return its short commit."""
    git = shutil.which("git")
    if git is None:
        raise SystemExit("git is needed to export the commit to compare with")
    commit = subprocess.run(
        [git, "rev-parse", "--short", ref], cwd=HERE, check=True, capture_output=True, text=True
    ).stdout.strip()
    archive = folder / "tree.tar"
    subprocess.run([git, "archive", "-o", str(archive), commit], cwd=HERE, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "tree", filter="data")
    (folder / "tree" / "node_modules").symlink_to(HERE / "node_modules")
    return commit


def measure(tree: Path, latency_ms: int, warm: int) -> dict:
    """Run one measuring process on a tree."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", str(latency_ms), str(warm)],
        cwd=tree,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def table(runs: dict[str, list[dict]]) -> str:
    """Return the medians of each tree's runs as a Markdown table."""
    rows = [
        "| tree | series cold, signs in: ms (calls) | series cold, session open: ms (calls) "
        "| /usage fragment warm ms | /staff fragment warm ms | pool submissions per warm "
        "fragment (/usage, /staff) |",
        "|---|---:|---:|---:|---:|---|",
    ]

    def median(figures: list[dict], key: str) -> float:
        return statistics.median(f[key] for f in figures)

    for name, figures in runs.items():
        handed = [figures[0][f"{route} submissions"] for route in ("/usage", "/staff")]
        rows.append(
            f"| {name} | {median(figures, 'signs in'):,.0f} ({figures[0]['signs in calls']}) "
            f"| {median(figures, 'session open'):,.0f} ({figures[0]['session open calls']}) "
            f"| {median(figures, '/usage'):,.1f} | {median(figures, '/staff'):,.1f} "
            f"| {', '.join('not counted' if h is None else f'{h:g}' for h in handed)} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fanout", description=__doc__)
    parser.add_argument("--against", required=True, help="the commit to compare with")
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warm", type=int, default=10)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        base = export(args.against, Path(folder))
        trees = {f"{base} (before)": Path(folder) / "tree", "this checkout": HERE}
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for _ in range(args.runs):
            for name, tree in trees.items():
                runs[name].append(measure(tree, args.latency_ms, args.warm))
    from bench.results import machine, write_section

    command = (
        f".venv/bin/python -m bench.fanout --against {args.against} "
        f"--latency-ms {args.latency_ms} --runs {args.runs} --warm {args.warm}"
    )
    body = f"""Command: `{command}` — made {machine()}. Simulator latency {args.latency_ms} ms
per upstream call, EvoVoice concurrency 8 (the default). One new process per tree and run,
the trees alternating; medians of {args.runs} runs. Series: 90 day buckets of acct-northwind
and the whole range, empty cache; its floor at 8 calls in flight is 12 waves of
{args.latency_ms} ms, plus one for the sign-in when the client has no session yet. Fragments:
server time through Flask's test client, median of {args.warm} warm requests.

{table(runs)}
"""
    print(body)
    if not args.no_write:
        write_section("Fan-out before and after (bench/fanout.py)", body)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
