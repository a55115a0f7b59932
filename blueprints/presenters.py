"""Turn a UsageView into what the templates print: figures, tables and formatted cards."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup

from services.charts import BYTES_AXIS, COUNT_AXIS, embeddable, series_figure
from services.shaping import Bucket
from services.usage import UsageView

from .formatting import human_bytes, signed_pct, thousands

METRIC_LABELS = {
    "ApiCalls": "API calls",
    "Events": "Events",
    "Sessions": "Sessions",
    "StorageBytes": "Storage",
    "BotAnalyses": "Bot analyses",
}


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
    figure: Markup
    rows: list[TableRow]
    total: str
    total_label: str
    change: str
    projection: str | None
    has_data: bool
    compare: bool


def _period(bucket: Bucket) -> str:
    if bucket.start == bucket.end:
        return bucket.start.isoformat()
    return f"{bucket.start.isoformat()} – {bucket.end.isoformat()}"


def _rows(buckets, previous, fmt) -> list[TableRow]:
    rows = []
    for index, bucket in enumerate(buckets):
        before = previous[index] if previous is not None and index < len(previous) else None
        rows.append(
            TableRow(
                _period(bucket),
                fmt(bucket.value),
                None if previous is None else fmt(before.value if before else None),
            )
        )
    return rows


def _chart(chart_id, title, buckets, previous, *, level, bytes_unit, total, change, projection):
    fmt = human_bytes if bytes_unit else thousands
    figure = series_figure(
        title, buckets, previous, line=level, unit_axis=BYTES_AXIS if bytes_unit else COUNT_AXIS
    )
    return Chart(
        id=chart_id,
        title=title,
        figure=embeddable(figure),
        rows=_rows(buckets, previous, fmt),
        total=fmt(total),
        total_label="at the end of the range" if level else "in the range",
        change="no data for the previous range"
        if change is None
        else f"{signed_pct(change)} vs previous range",
        projection=None if projection is None else fmt(projection),
        has_data=any(b.value is not None for b in buckets),
        compare=previous is not None,
    )


def present_usage(view: UsageView) -> dict:
    """Return the template context for a usage view."""
    metric_charts = []
    if view.metrics is not None and view.metrics.error is None:
        for panel in view.metrics.panels:
            metric_charts.append(
                _chart(
                    f"chart-{panel.metric}",
                    METRIC_LABELS.get(panel.metric, panel.metric),
                    panel.buckets,
                    panel.previous,
                    level=panel.is_level,
                    bytes_unit=panel.is_level,
                    total=panel.total,
                    change=panel.change,
                    projection=panel.projection,
                )
            )
    minutes_chart = None
    if view.minutes is not None and view.minutes.error is None:
        section = view.minutes
        minutes_chart = _chart(
            "chart-ai-minutes",
            "AI minutes",
            section.buckets,
            section.previous,
            level=False,
            bytes_unit=False,
            total=section.total,
            change=section.change,
            projection=section.projection,
        )
    return {
        "view": view,
        "metric_charts": metric_charts,
        "minutes_chart": minutes_chart,
    }
