"""Building one chart's figure: plain dicts against the former plotly.graph_objects builders.

    .venv/bin/python -m bench.figures [--rounds 11] [--calls 20] [--no-write]

Each kind of figure a page builds, from the same buckets or rows, by the presenters' dict
builders ("dicts") and by the graph_objects builders they replaced, kept as the reference in
tests/presenters/test_figure_equivalence.py ("graph_objects"). The two run interleaved: each
round times `calls` builds of one then of the other, which goes first alternating, so a
machine shared with other work slows both alike; the figure is the median over rounds of
the time per build. Embedding is the page's `tojson` of the figure (Flask's JSON, sorted
and HTML-escaped), unchanged by the builders: the same text either way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from bench.results import machine, write_section

HEADING = "Figure building (bench/figures.py)"
START = date(2026, 10, 1)


def per_call_ms(build: Callable[[], object], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        build()
    return (time.perf_counter() - started) * 1000 / calls


def cases() -> dict[str, tuple[Callable[[], dict], Callable[[], dict]]]:
    """Return each kind of figure as (dicts, graph_objects) builders of the same chart."""
    from presenters.charts import BYTES_AXIS, COUNT_AXIS, series_figure
    from presenters.formatting import human_bytes, thousands
    from presenters.staff_charts import ranking_figure
    from services.shaping import Bucket
    from services.staff_ranking import Row
    from tests.presenters.test_figure_equivalence import (
        graph_objects_ranking_figure,
        graph_objects_series_figure,
    )

    def days(count: int, since: date) -> list[Bucket]:
        spans = [since + timedelta(days=i) for i in range(count)]
        return [Bucket(d, d, 1_000 + 37 * i) for i, d in enumerate(spans)]

    now, before = days(30, START), days(30, START - timedelta(days=30))
    today = now[-1].start
    bars = ("Events", now, before)
    bars_options = {
        "line": False, "unit_axis": COUNT_AXIS, "granularity": "day", "today": today,
        "fmt": thousands,
    }  # fmt: skip
    line = ("StorageBytes", now, before)
    line_options = {
        "line": True, "unit_axis": BYTES_AXIS, "granularity": "day", "today": today,
        "fmt": human_bytes,
    }  # fmt: skip
    plain_options = {"line": False, "unit_axis": COUNT_AXIS, "fmt": thousands}
    long = ("ApiCalls", days(90, START), None)
    long_options = {"line": False, "unit_axis": COUNT_AXIS, "granularity": "day"}
    top = [Row(f"acct-{i}", None, 10_000 - 100 * i, None) for i in range(10)]
    urls = [f"/staff?account=acct-{i}" for i in range(10)]
    ranking = (top, 5_000, 40, "account", urls)
    return {
        "30 daily bars, previous range, today partial": (
            lambda: series_figure(*bars, **bars_options),
            lambda: graph_objects_series_figure(*bars, **bars_options),
        ),
        "the same, no granularity (no partial notes)": (
            lambda: series_figure(*bars, **plain_options),
            lambda: graph_objects_series_figure(*bars, **plain_options),
        ),
        "30-day line, previous range, bytes axis": (
            lambda: series_figure(*line, **line_options),
            lambda: graph_objects_series_figure(*line, **line_options),
        ),
        "90 daily bars": (
            lambda: series_figure(*long, **long_options),
            lambda: graph_objects_series_figure(*long, **long_options),
        ),
        "ranking: top 10 and the rest": (
            lambda: ranking_figure(*ranking),
            lambda: graph_objects_ranking_figure(*ranking),
        ),
    }


def measure(rounds: int, calls: int) -> list[dict]:
    from flask import Flask
    from jinja2.utils import htmlsafe_json_dumps

    dumps = Flask(__name__).json.dumps

    def tojson(figure: dict) -> str:
        """What the template's `tojson` filter writes: Flask's JSON, HTML-escaped."""
        return htmlsafe_json_dumps(figure, dumps=dumps)

    rows = []
    for name, (dicts, graph_objects) in cases().items():
        if tojson(dicts()) != tojson(graph_objects()):
            raise SystemExit(f"{name}: the two builders give different page text")
        new, old = [], []
        for i in range(rounds):
            pair = [(dicts, new), (graph_objects, old)]
            for build, times in pair if i % 2 == 0 else pair[::-1]:
                times.append(per_call_ms(build, calls))
        figure = dicts()
        embed = [per_call_ms(lambda figure=figure: tojson(figure), calls) for _ in range(rounds)]
        row = {
            "figure": name,
            "old": statistics.median(old),
            "new": statistics.median(new),
            "embed": statistics.median(embed),
            "chars": len(tojson(figure)),
        }
        rows.append(row)
        print(
            f"  {name:<46} graph_objects {row['old']:7.3f} ms, dicts {row['new']:7.4f} ms, "
            f"x{row['old'] / row['new']:,.0f}; tojson {row['embed']:.3f} ms"
        )
    return rows


def section(rows: list[dict], command: str, rounds: int, calls: int) -> str:
    lines = [
        "| figure | graph_objects, ms per figure | dicts, ms per figure | ratio "
        "| embedding (`tojson`), ms | JSON chars |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['figure']} | {r['old']:.3f} | {r['new']:.4f} | {r['old'] / r['new']:,.0f}× "
            f"| {r['embed']:.3f} | {r['chars']:,} |"
        )
    table = "\n".join(lines)
    return f"""Time to build one chart's figure in the presenters: written as plain dicts (now) and
built with `plotly.graph_objects` (before; the reference builders of
`tests/presenters/test_figure_equivalence.py`, which asserts the two give the same JSON).
Interleaved: {rounds} rounds of {calls} builds each, which goes first alternating; medians of the
rounds. Embedding is the page's `tojson` of the same figure, unchanged either way. Both
builders word each bucket's hover the same way, and with a granularity that includes
`services.shaping.partial` per bucket: the row without one shows the builders alone.

{table}

- Command: `{command}`
- Made: {machine()}, load average {os.getloadavg()[0]:.1f} at the end (a shared machine
  slows both builders; the ratios are what to compare)
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11, help="interleaved rounds (median)")
    parser.add_argument("--calls", type=int, default=20, help="builds per round and builder")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    rows = measure(args.rounds, args.calls)
    if not args.no_write:
        command = ".venv/bin/python -m bench.figures"
        if argv is None and sys.argv[1:]:
            command += " " + " ".join(sys.argv[1:])
        write_section(HEADING, section(rows, command, args.rounds, args.calls))


if __name__ == "__main__":
    main()
