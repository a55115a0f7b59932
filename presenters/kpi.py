"""The KPI strip above the usage charts: one tile per chart, with its total, change and sparkline.

Tiles are read from the charts already presented (presenters.usage), never from the services:
the strip repeats what the cards say, so it can never disagree with them. The charts' fields
are read through small adapters, so a change that is a string or an object with `.text` (and
perhaps `.direction`) both work.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from .formatting import span_label

# The sparkline's drawing box; the SVG scales it to the tile (preserveAspectRatio="none").
SPARK_WIDTH = 100
SPARK_HEIGHT = 28
_PAD = 2  # keeps the stroke of the highest and lowest points inside the box

# Plotly's typed-array encoding of a numeric list ({"dtype": "i4", "bdata": base64}).
_DTYPES = {"i1": "b", "u1": "B", "i2": "h", "u2": "H", "i4": "i", "u4": "I", "f4": "f", "f8": "d"}


@dataclass(frozen=True)
class Tile:
    """One KPI tile, ready to print."""

    title: str
    total: str
    total_label: str
    change: str  # the change's words; "" when the chart has none
    direction: str  # "up", "down", "flat" or "none": the class, beside words that say it too
    href: str  # the chart's heading, so the tile is a link to its chart
    lines: list[str]  # polyline `points` of the sparkline, one per run of known values


@dataclass(frozen=True)
class ComparedRange:
    """The previous range a comparison is against, as the page names it."""

    start: date
    end: date
    # While the range holds today, changes compare its whole days only: which of the previous
    # range's days they set against them, and why (the span, then `Comparison.describe`).
    changes: str = ""

    @property
    def label(self) -> str:
        """Say the range: 2026-10-02 – 2026-10-31, or one day by its date."""
        return span_label(self.start, self.end)


def short_change(change: Any) -> str:
    """Return a change as a tile has room for it: its figure and the previous dates, without
    the card's note on whole days ("+12 % vs 2026-10-26 – 2026-11-23")."""
    brief = getattr(change, "brief", None)
    return brief if isinstance(brief, str) else change_words(change)


def change_words(change: Any) -> str:
    """Return a chart's change as text, whether it is a string or an object with `.text`."""
    if change is None:
        return ""
    if isinstance(change, str):
        return change
    return str(getattr(change, "text", "") or "")


def change_direction(change: Any) -> str:
    """Return up, down, flat or none: the change's own `.direction`, else its sign."""
    own = getattr(change, "direction", None)
    if isinstance(own, str) and own in ("up", "down", "flat", "none"):
        return own
    words = change_words(change).strip()
    # signed_pct writes +12.5 %, U+2212 (minus sign) 3.0 % or ±0.0 %; arrows may lead too.
    for marks, direction in (("+▲↑", "up"), ("\u2212-▼↓", "down"), ("±→", "flat")):
        if words[:1] in marks:
            return direction
    return "none"


def _decoded(values: Any) -> list[Any]:
    """Return a trace's y as a list, decoding Plotly's typed-array form when it is used."""
    if isinstance(values, dict) and "bdata" in values:
        code = _DTYPES.get(str(values.get("dtype")))
        if code is None:
            return []
        raw = base64.b64decode(values["bdata"])
        size = struct.calcsize(code)
        return [struct.unpack_from("<" + code, raw, i)[0] for i in range(0, len(raw), size)]
    if isinstance(values, Sequence) and not isinstance(values, str | bytes):
        return list(values)
    return []


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def series_values(chart: Any) -> list[float | None]:
    """Return the values a chart draws for its range: the y of the figure's last trace."""
    traces = (getattr(chart, "figure", None) or {}).get("data") or []
    if not traces:
        return []
    return [_number(v) for v in _decoded(traces[-1].get("y"))]


def spark_lines(values: Sequence[float | None]) -> list[str]:
    """Return polyline points for the values, one line per run of known values.

    A missing value breaks the line rather than drawing it as 0; a lone value is a short
    level stroke so it still shows.
    """
    known = [v for v in values if v is not None]
    if not known:
        return []
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    step = SPARK_WIDTH / max(len(values) - 1, 1)

    def point(index: int, value: float) -> tuple[float, float]:
        y = SPARK_HEIGHT - _PAD - (value - low) / span * (SPARK_HEIGHT - 2 * _PAD)
        if high == low:
            y = SPARK_HEIGHT / 2
        return index * step, y

    runs: list[list[tuple[float, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append(point(index, value))
    lines = []
    for run in runs:
        if len(run) == 1:
            x, y = run[0]
            run = [(max(x - step / 2, 0), y), (min(x + step / 2, SPARK_WIDTH), y)]
        if run:
            lines.append(" ".join(f"{x:.1f},{y:.1f}" for x, y in run))
    return lines


def tile(chart: Any) -> Tile:
    """Return the tile for one presented chart."""
    change = getattr(chart, "change", None)
    chart_id = str(getattr(chart, "id", ""))
    return Tile(
        title=str(getattr(chart, "title", "")),
        total=str(getattr(chart, "total", "")),
        total_label=str(getattr(chart, "total_label", "") or ""),
        change=short_change(change),
        direction=change_direction(change),
        href=f"#{chart_id}-title",
        lines=spark_lines(series_values(chart)),
    )


def kpi_tiles(metric_charts: Iterable[Any] | None, minutes_chart: Any | None) -> list[Tile]:
    """Return a tile per source metric shown: each isnotai metric, then AI minutes."""
    charts = [*(metric_charts or ()), *([minutes_chart] if minutes_chart is not None else [])]
    return [tile(chart) for chart in charts]


def compared_range(query: Any, today: date | None = None) -> ComparedRange | None:
    """Return the previous range the results are compared with, or None without comparison.

    Read from the query: its own previous_start/previous_end if it has them, else its
    `previous` query. Nothing is computed here: a query that names neither gets no label.
    Given today, the days changes compare come from the query's `compared` too.
    """
    if query is None or getattr(query, "compare", "none") != "previous":
        return None
    start, end = getattr(query, "previous_start", None), getattr(query, "previous_end", None)
    if not (isinstance(start, date) and isinstance(end, date)):
        previous = getattr(query, "previous", None)
        start, end = getattr(previous, "start", None), getattr(previous, "end", None)
    if not (isinstance(start, date) and isinstance(end, date)):
        return None
    comparison = query.compared(today) if today and hasattr(query, "compared") else None
    if comparison is None or not comparison.cut:
        return ComparedRange(start, end)
    days = span_label(comparison.previous_start, comparison.previous_end)
    return ComparedRange(start, end, f"{days}, {comparison.describe()}")
