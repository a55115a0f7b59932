"""Time per call to a simulator through one requests.Session, as the app's clients call it.

    .venv/bin/python -m bench.simulator_keepalive [--calls 50] [--latency-ms 0 20] [--no-write]

Three servers, each answering the same simulators: Werkzeug's development server (which
closes every connection: the simulators' server before keep-alive), the keep-alive server
with Nagle's algorithm left on, and the simulators' server as it is (keep-alive and
TCP_NODELAY). A simulator set to latency L should cost L and about a millisecond more.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from datetime import date

import requests
from werkzeug.serving import WSGIRequestHandler, make_server

from bench.results import machine, write_section
from simulators import SimulatorState
from simulators.data import ISNOTAI_INTEGRATIONS
from simulators.keepalive import KeepAliveServer
from simulators.server import QuietRequestHandler, build_wsgi_app

TODAY = date(2026, 6, 10)
KEY = ISNOTAI_INTEGRATIONS[0].key  # acme, US region
# The health answer is tiny, so its time is the transport's; the usage answer adds
# building 12 kB of JSON.
READS = {
    "health": ("/isnotai/us/health", {}),
    "30-day usage": ("/isnotai/us/v1/usage", {"startDate": "2026-05-11", "endDate": "2026-06-09"}),
}


class WerkzeugHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class NagleHandler(QuietRequestHandler):
    disable_nagle_algorithm = False


def werkzeug_server(app):
    return make_server("127.0.0.1", 0, app, threaded=True, request_handler=WerkzeugHandler)


SERVERS: dict[str, Callable] = {
    "Werkzeug's server (closes every connection)": werkzeug_server,
    "keep-alive, Nagle on": lambda app: KeepAliveServer("127.0.0.1", 0, app, NagleHandler),
    "keep-alive + TCP_NODELAY (the simulators now)": lambda app: KeepAliveServer(
        "127.0.0.1", 0, app, QuietRequestHandler
    ),
}


def measure(make, read: str, latency_ms: int, calls: int) -> list[float]:
    """Return the milliseconds of each of `calls` reads after one warm-up."""
    path, params = READS[read]
    state = SimulatorState(today=TODAY, latency_ms=latency_ms, rate_limits=False)
    server = make(build_wsgi_app(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}{path}"
    times = []
    try:
        with requests.Session() as session:
            for index in range(calls + 1):
                started = time.perf_counter()
                answer = session.get(url, params=params, headers={"x-api-key": KEY}, timeout=10)
                elapsed = (time.perf_counter() - started) * 1000
                answer.raise_for_status()
                if index:
                    times.append(elapsed)
    finally:
        server.shutdown()
        if isinstance(server, KeepAliveServer):
            server.close_connections()
        server.server_close()
        thread.join()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[0, 20])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    rows = []
    for latency in args.latency_ms:
        for read in READS:
            for name, make in SERVERS.items():
                times = measure(make, read, latency, args.calls)
                cuts = statistics.quantiles(times, n=20)
                row = (
                    f"| {latency} | {read} | {name} | {statistics.median(times):.1f} | "
                    f"{statistics.fmean(times):.1f} | {cuts[18]:.1f} |"
                )
                print(row, flush=True)
                rows.append(row)
    command = "`.venv/bin/python -m bench.simulator_keepalive " + (
        f"--calls {args.calls} --latency-ms {' '.join(map(str, args.latency_ms))}`"
    )
    body = "\n".join(
        [
            f"{command}; {machine()}.",
            "",
            f"{args.calls} reads of isnotai's health answer (86 bytes) and of a 30-day usage",
            "answer (about 12 kB) through one `requests.Session`, after one warm-up read;",
            "milliseconds per call.",
            "",
            "| latency (ms) | read | server | median | mean | p95 |",
            "|---:|---|---|---:|---:|---:|",
            *rows,
        ]
    )
    if not args.no_write:
        write_section(
            "Simulator calls on a kept-alive connection (bench/simulator_keepalive.py)", body
        )


if __name__ == "__main__":
    main()
