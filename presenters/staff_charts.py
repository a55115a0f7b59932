"""Plotly figures of the staff page: the top accounts or customers, the rest as one bar.

Ids are hostile text. Plotly reads a few HTML tags and entities in tick labels and hover
text, so every id is HTML-escaped before it reaches the figure (Plotly shows `&lt;b&gt;` as
`<b>`), never put into a hover template, and placed by position rather than as a category
(an account called "other" must not merge with the other bar).

Each bar's customdata is [hover text, URL of its drill-down]: static/staff.js follows the
URL when a bar is clicked (the other bar has none). Keyboard users have the same links in
the chart's table of numbers and in the table below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING

from .charts import plain_template

if TYPE_CHECKING:
    from services.staff_ranking import Row

LABEL_CHARS = 32


def plotly_text(text: str) -> str:
    """Return text Plotly shows literally (its markup and entities escaped)."""
    return escape(text, quote=False)


def _label(text: str) -> str:
    short = text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"
    return plotly_text(short)


def ranking_figure(
    top: Sequence[Row], other: int, other_count: int, noun: str, urls: Sequence[str] = ()
) -> dict:
    """Return a figure: horizontal bars, largest first, the rest summed in one bar; `urls`
    are where the top bars drill down to, in the same order.

    Written as dicts rather than with plotly.graph_objects, as the series figures are
    (presenters.charts.series_figure says why).
    """
    labels = [_label(row.id) for row in top]
    hover = [plotly_text(row.id) for row in top]
    links = [*urls, *[""] * (len(top) - len(urls))]
    values = [row.ai_minutes for row in top]
    opacity = [1.0] * len(top)
    if other_count:
        rest = f"{other_count:,} other {noun}{'' if other_count == 1 else 's'}"
        labels.append(rest)
        hover.append(rest)
        values.append(other)
        opacity.append(0.45)
        links.append("")  # the rest is many rows: nothing to drill into
    positions = list(range(len(values) - 1, -1, -1))  # the first bar on top
    return {
        "data": [
            {
                "type": "bar",
                "x": values,
                "y": positions,
                "orientation": "h",
                "customdata": [[text, link] for text, link in zip(hover, links, strict=True)],
                "marker": {"opacity": opacity},
                "hovertemplate": "%{customdata[0]}: %{x:,} AI minutes<extra></extra>",
                "name": "AI minutes",
            }
        ],
        "layout": {
            "template": plain_template(),
            "autosize": True,
            "height": 60 + 26 * max(len(values), 1),
            "margin": {"l": 12, "r": 12, "t": 8, "b": 36},
            "showlegend": False,
            "bargap": 0.2,
            # Short ticks (3k): on a phone the labels leave the bars little room, and full
            # figures would be turned on end and cut. The hover and the table are exact.
            "xaxis": {
                "tickformat": "~s",
                "nticks": 5,
                "rangemode": "tozero",
                "fixedrange": True,
                "automargin": True,
            },
            "yaxis": {
                "tickmode": "array",
                "tickvals": positions[:],  # its own list: the figure is data a caller may edit
                "ticktext": labels,
                "automargin": True,
                "fixedrange": True,
            },
        },
    }
