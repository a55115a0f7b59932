"""A series over the range: its Plotly figure (bars, a line for a level) and its printed card."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.shaping import Bucket

BYTES_AXIS = {"tickformat": ".3~s", "ticksuffix": "B"}
COUNT_AXIS = {"tickformat": ",~d"}


@dataclass(frozen=True)
class TableRow:
    """One row of a chart's table of numbers."""

    period: str
    value: str
    previous: str | None


@dataclass(frozen=True)
class Chart:
    """A chart, its card and its table, ready to print."""

    id: str
    title: str
    figure: dict  # Plotly figure data; the template embeds it with `tojson`
    rows: list[TableRow]
    total: str
    total_label: str
    change: str
    projection: str | None
    has_data: bool
    compare: bool
    empty: str = ""  # what to say instead of the chart when it has no data, if not the usual


def _layout(y_axis: dict, *, legend: bool) -> dict:
    return {
        "template": "none",  # the default template adds kilobytes the page restyles anyway
        "autosize": True,
        "height": 260,
        "margin": {"l": 56, "r": 12, "t": 8, "b": 36},
        "hovermode": "x unified",
        "showlegend": legend,
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": {"type": "date", "fixedrange": True, "automargin": True},
        "yaxis": {**y_axis, "rangemode": "tozero", "fixedrange": True},
        "bargap": 0.15,
    }


def series_figure(
    label: str,
    buckets: list[Bucket],
    previous: list[Bucket] | None,
    *,
    line: bool,
    unit_axis: dict,
) -> dict:
    """Return a figure: the range as bars (or a line for a level), the previous range faint.

    The figure is plain JSON data; the template embeds it with `tojson`, which escapes it.
    """
    import plotly.graph_objects as go  # heavy: imported on first chart, not at start-up

    x = [b.start.isoformat() for b in buckets]
    kind = go.Scatter if line else go.Bar
    extra = {"mode": "lines+markers", "connectgaps": False} if line else {}
    figure = go.Figure()
    if previous is not None:
        aligned = previous[: len(buckets)]
        figure.add_trace(
            kind(
                x=x[: len(aligned)],
                y=[b.value for b in aligned],
                name="Previous range",
                opacity=0.35,
                customdata=[f"{b.start:%b %-d} – {b.end:%b %-d, %Y}" for b in aligned],
                hovertemplate="%{customdata}: %{y}<extra>previous</extra>",
                **extra,
            )
        )
    figure.add_trace(
        kind(
            x=x,
            y=[b.value for b in buckets],
            name=label,
            hovertemplate="%{y}<extra></extra>",
            **extra,
        )
    )
    figure.update_layout(_layout(unit_axis, legend=previous is not None))
    return json.loads(figure.to_json(validate=False))
