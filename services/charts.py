"""Plotly figures for the usage pages, and their JSON made safe to embed in HTML."""

from __future__ import annotations

from markupsafe import Markup

from .shaping import Bucket

_HTML_UNSAFE = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
BYTES_AXIS = {"tickformat": ".3~s", "ticksuffix": "B"}
COUNT_AXIS = {"tickformat": ",~d"}


def embeddable(json_text: str) -> Markup:
    """Escape JSON so no string inside it can close a <script> element or break out of it."""
    for char, escape in _HTML_UNSAFE.items():
        json_text = json_text.replace(char, escape)
    return Markup(json_text)  # noqa: S704 - every HTML-significant character escaped above


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
) -> str:
    """Return a figure's JSON: the range as bars (or a line for a level), the previous faint."""
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
    return figure.to_json(validate=False)
