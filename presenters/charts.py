"""A series over the range: its Plotly figure (bars, a line for a level) and its printed card."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from services.shaping import partial

from .formatting import Change, period_label

if TYPE_CHECKING:
    from services.shaping import Bucket, MonthPace

BYTES_AXIS = {"tickformat": ".3~s", "ticksuffix": "B"}
COUNT_AXIS = {"tickformat": ",~d"}


@dataclass(frozen=True)
class TableRow:
    """One row of a chart's table of numbers."""

    period: str
    value: str
    previous: str | None
    note: str = ""  # "(partial)" or "(so far)" after the period


@dataclass(frozen=True)
class Chart:
    """A chart, its card and its table, ready to print."""

    id: str
    title: str
    figure: dict  # Plotly figure data; the template embeds it with `tojson`
    rows: list[TableRow]
    total: str
    total_label: str
    change: Change | str
    has_data: bool
    compare: bool
    empty: str = ""  # what to say instead of the chart when it has no data, if not the usual
    pace: Pace | None = None  # the calendar month so far and its projection
    previous_label: str = "Previous range"  # the table's heading for the previous range
    note: str = ""  # said under the chart: why the comparison asked for is not drawn


@dataclass(frozen=True)
class Pace:
    """A card's month so far and where it is heading, with the why shown on hover and focus."""

    so_far: str  # "month to date 12,345" or "2026-11-24 to date 4,000"
    projected: str  # "on pace for 19,800"
    explanation: str


def pace_of(pace: MonthPace | None, noun: str, fmt) -> Pace | None:
    """Word a month's pace for a card: its figures, and the why for hover and focus."""
    if pace is None:
        return None
    since = "month to date" if pace.whole_month else f"{pace.since.isoformat()} to date"
    begun = "the 1st" if pace.whole_month else pace.since.isoformat()
    return Pace(
        so_far=f"{since} {fmt(pace.so_far)}",
        projected=f"on pace for {fmt(pace.projected)}",
        explanation=(
            f"Projection of {noun} to the end of the month ({pace.month_end.isoformat()}) "
            f"at the run rate since {begun}, counting today's hours so far "
            "(never less than a whole day, so a month's first hours are not multiplied by 744)."
        ),
    )


MAX_TICKS = 8  # labelled ticks on the x axis; more buckets than this get every n-th one


def _x_axis(starts: list[date], granularity: str | None) -> dict:
    """Tick the x axis at bucket starts (a week's Monday, a month's 1st), thinned to a few.

    Plotly's own ticks fall on Sundays and mid-months. Ticks get short dates, "Nov 3" or
    "Nov 2026", by a format rather than tick texts, which Plotly would also put in the hover:
    every text and hover keeps ISO dates.
    """
    step = max(1, math.ceil(len(starts) / MAX_TICKS))
    return {
        "type": "date",
        "fixedrange": True,
        "automargin": True,
        "tickmode": "array",
        "tickvals": [d.isoformat() for d in starts[::step]],
        "tickformat": "%b %Y" if granularity == "month" else "%b %-d",
        "hoverformat": "%Y-%m-%d",
    }


def plain_template() -> dict:
    """Return what Plotly's "none" template is in figure JSON: no theme, for the page styles
    the charts itself and the default template adds kilobytes."""
    return {"data": {"scatter": [{"type": "scatter"}]}}


def _layout(y_axis: dict, x_axis: dict, *, legend: bool) -> dict:
    return {
        "template": plain_template(),
        "autosize": True,
        "height": 260,
        "margin": {"l": 56, "r": 12, "t": 8, "b": 36},
        "hovermode": "x unified",
        "showlegend": legend,
        "legend": {"orientation": "h", "y": -0.2},
        "xaxis": x_axis,
        "yaxis": {**y_axis, "rangemode": "tozero", "fixedrange": True},
        "bargap": 0.15,
    }


def partial_note(bucket: Bucket, granularity: str | None, today: date | None) -> str:
    """Say why a bucket holds less than its calendar period, or "" when it is whole (or
    when the granularity is not given)."""
    cut = None if granularity is None else partial(bucket, granularity, today)
    if cut is None:
        return ""
    span = period_label(bucket)
    if cut.running:
        return f"so far: {span}, {cut.days} of {cut.of} days"
    return f"partial: {span}, {cut.days} of {cut.of} days"


def bucket_note(
    bucket: Bucket, granularity: str, today: date | None, kept_from: date | None = None
) -> str:
    """Say in a table of numbers why a bucket holds less than its period, or ""."""
    # A bucket the plan's history starts inside holds only its later days: say so, or a
    # week with one day kept reads as a week of usage.
    if kept_from is not None and bucket.start < kept_from <= bucket.end:
        return f"(from {kept_from.isoformat()}: the days before are not kept)"
    cut = partial(bucket, granularity, today)
    return "" if cut is None else "(so far)" if cut.running else "(partial)"


def _points(buckets: list[Bucket], granularity: str | None, today: date | None, fmt, line: bool):
    """Return a trace's hover texts and its marker, lighter (and hatched) where partial."""
    notes = [partial_note(b, granularity, today) for b in buckets]
    hover = [
        f"{note or period_label(b)}: {fmt(b.value)}" for b, note in zip(buckets, notes, strict=True)
    ]
    marker: dict = {"opacity": [0.5 if note else 1 for note in notes]}
    if line:
        marker["symbol"] = ["circle-open" if note else "circle" for note in notes]
    else:
        marker["pattern"] = {"shape": ["/" if note else "" for note in notes]}
    return hover, marker


def series_figure(
    label: str,
    buckets: list[Bucket],
    previous: list[Bucket] | None,
    *,
    line: bool,
    unit_axis: dict,
    granularity: str | None = None,
    today: date | None = None,
    previous_label: str = "Previous range",
    fmt=str,
) -> dict:
    """Return a figure: the range as bars (or a line for a level), the previous range faint.

    With a granularity, partial buckets (cut by the range, or holding today) are lighter and
    hatched, and their hover says so; ticks fall on bucket starts either way. The figure is
    plain JSON data; the template embeds it with `tojson`, which escapes it.

    It is written as dicts, not built with plotly.graph_objects: validating and copying
    through graph_objects took milliseconds per figure on every request, for the same JSON.
    tests/presenters/test_figure_equivalence.py holds these dicts to what graph_objects
    makes of the same chart, and has Plotly validate them.
    """
    x = [b.start.isoformat() for b in buckets]
    kind: dict = (
        {"type": "scatter", "mode": "lines+markers", "connectgaps": False}
        if line
        else {"type": "bar"}
    )
    data = []
    if previous is not None:
        aligned = previous[: len(buckets)]
        hover, marker = _points(aligned, granularity, None, fmt, line)
        data.append(
            {
                **kind,
                "x": x[: len(aligned)],
                "y": [b.value for b in aligned],
                "name": previous_label,
                "opacity": 0.35,
                "marker": marker,
                "customdata": hover,
                "hovertemplate": "%{customdata}<extra>previous</extra>",
            }
        )
    hover, marker = _points(buckets, granularity, today, fmt, line)
    data.append(
        {
            **kind,
            "x": x,
            "y": [b.value for b in buckets],
            "name": label,
            "marker": marker,
            "customdata": hover,
            "hovertemplate": "%{customdata}<extra></extra>",
        }
    )
    x_axis = _x_axis([b.start for b in buckets], granularity)
    return {"data": data, "layout": _layout(unit_axis, x_axis, legend=previous is not None)}


def rounding_note(total: int | None, buckets: list[Bucket], today: date | None) -> str:
    """Say why EvoVoice's periods may not add up to its total for the range, if they do not.

    EvoVoice rounds each answer: the whole range's is the one it bills, and a change compares
    its answers for whole spans too, so neither is a sum of the periods shown.
    """
    periods = sum(
        b.value for b in buckets if b.value is not None and (today is None or b.start <= today)
    )
    if total is None or periods == total:
        return ""
    return (
        f"The total, {total:,}, is EvoVoice's answer for the whole range; it rounds "
        f"each answer, so the periods below, each rounded on its own, add up to {periods:,}. "
        "Its change likewise compares EvoVoice's answers for the spans compared, not sums "
        "of the periods."
    )
