"""Figures written as dicts send the browser the JSON Plotly's graph_objects made of them.

The builders below are the former graph_objects ones, kept here as the reference (and for
bench/figures.py): the dicts must serialise to the same text, and Plotly must accept them
with validation on (an invalid property name or value raises).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta

import plotly.graph_objects as go
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.periods import split
from presenters.charts import BYTES_AXIS, COUNT_AXIS, _points, _x_axis, series_figure
from presenters.formatting import human_bytes, thousands
from presenters.staff_charts import _label, plotly_text, ranking_figure
from services.shaping import Bucket
from services.staff_ranking import Row

HOSTILE = "</script><script>alert(1)</script> & \u2028 'x' <!-- <b>&amp;"
START = date(2026, 10, 27)  # a Tuesday: weeks and months are cut at both ends


def graph_objects_series_figure(
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
    x = [b.start.isoformat() for b in buckets]
    kind = go.Scatter if line else go.Bar
    extra = {"mode": "lines+markers", "connectgaps": False} if line else {}
    figure = go.Figure()
    if previous is not None:
        aligned = previous[: len(buckets)]
        hover, marker = _points(aligned, granularity, None, fmt, line)
        figure.add_trace(
            kind(
                x=x[: len(aligned)],
                y=[b.value for b in aligned],
                name=previous_label,
                opacity=0.35,
                marker=marker,
                customdata=hover,
                hovertemplate="%{customdata}<extra>previous</extra>",
                **extra,
            )
        )
    hover, marker = _points(buckets, granularity, today, fmt, line)
    figure.add_trace(
        kind(
            x=x,
            y=[b.value for b in buckets],
            name=label,
            marker=marker,
            customdata=hover,
            hovertemplate="%{customdata}<extra></extra>",
            **extra,
        )
    )
    x_axis = _x_axis([b.start for b in buckets], granularity)
    figure.update_layout(
        {
            "template": "none",
            "autosize": True,
            "height": 260,
            "margin": {"l": 56, "r": 12, "t": 8, "b": 36},
            "hovermode": "x unified",
            "showlegend": previous is not None,
            "legend": {"orientation": "h", "y": -0.2},
            "xaxis": x_axis,
            "yaxis": {**unit_axis, "rangemode": "tozero", "fixedrange": True},
            "bargap": 0.15,
        }
    )
    return json.loads(figure.to_json(validate=False))


def graph_objects_ranking_figure(
    top: Sequence[Row], other: int, other_count: int, noun: str, urls: Sequence[str] = ()
) -> dict:
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
        links.append("")
    positions = list(range(len(values) - 1, -1, -1))
    figure = go.Figure(
        go.Bar(
            x=values,
            y=positions,
            orientation="h",
            customdata=[[text, link] for text, link in zip(hover, links, strict=True)],
            marker={"opacity": opacity},
            hovertemplate="%{customdata[0]}: %{x:,} AI minutes<extra></extra>",
            name="AI minutes",
        )
    )
    figure.update_layout(
        template="none",
        autosize=True,
        height=60 + 26 * max(len(values), 1),
        margin={"l": 12, "r": 12, "t": 8, "b": 36},
        showlegend=False,
        bargap=0.2,
        xaxis={
            "tickformat": "~s",
            "nticks": 5,
            "rangemode": "tozero",
            "fixedrange": True,
            "automargin": True,
        },
        yaxis={
            "tickmode": "array",
            "tickvals": positions,
            "ticktext": labels,
            "automargin": True,
            "fixedrange": True,
        },
    )
    return json.loads(figure.to_json(validate=False))


def sent(figure: dict) -> str:
    """Return the text a page embeds: Flask's `tojson` sorts keys, and 1 and 1.0 differ."""
    return json.dumps(figure, sort_keys=True, ensure_ascii=False)


def assert_equivalent(figure: dict, reference: dict) -> None:
    assert sent(figure) == sent(reference)
    validated = go.Figure(figure)  # validates every property; raises on an unknown one
    assert sent(json.loads(validated.to_json())) == sent(figure)


def buckets(start: date, days: int, granularity: str, values: Sequence[int | None]) -> list[Bucket]:
    spans = split(start, start + timedelta(days=days - 1), granularity)
    return [Bucket(s, e, values[i % len(values)]) for i, (s, e) in enumerate(spans)]


DAYS_30 = buckets(START, 30, "day", [3, None, 0, 12_345, 7])
WEEKS = buckets(START, 40, "week", [1_000, 2_000_000, None])
MONTHS = buckets(START, 120, "month", [5, 8])
LEVELS = buckets(START, 30, "day", [2**40, None, 3 * 2**30])

SERIES = {
    "bars": ("Events", DAYS_30, None, {"line": False, "unit_axis": COUNT_AXIS}),
    "bars with the previous range": (
        "Events", DAYS_30, buckets(START - timedelta(days=30), 30, "day", [1, 2]),
        {"line": False, "unit_axis": COUNT_AXIS, "granularity": "day", "fmt": thousands},
    ),
    "bars, partial buckets hatched": (
        "ApiCalls", WEEKS, WEEKS[:-1],
        {"line": False, "unit_axis": COUNT_AXIS, "granularity": "week",
         "today": WEEKS[-1].start + timedelta(days=2), "fmt": thousands},
    ),
    "bars per month, a shorter previous range": (
        "Sessions", MONTHS, MONTHS[:2],
        {"line": False, "unit_axis": COUNT_AXIS, "granularity": "month",
         "previous_label": "Same days a year before"},
    ),
    "a line": ("StorageBytes", LEVELS, None,
               {"line": True, "unit_axis": BYTES_AXIS, "fmt": human_bytes}),
    "a line with the previous range, bytes axis, hollow partial points": (
        "StorageBytes", LEVELS[:10], LEVELS,
        {"line": True, "unit_axis": BYTES_AXIS, "granularity": "day",
         "today": LEVELS[9].start, "fmt": human_bytes},
    ),
    "a line per week, partial at both ends": (
        "StorageBytes", WEEKS, WEEKS,
        {"line": True, "unit_axis": BYTES_AXIS, "granularity": "week"},
    ),
    "no buckets": ("Events", [], [], {"line": False, "unit_axis": COUNT_AXIS}),
    "a hostile label": (HOSTILE, DAYS_30[:3], None, {"line": False, "unit_axis": COUNT_AXIS}),
}  # fmt: skip


@pytest.mark.parametrize("case", SERIES)
def test_series_figures_match_graph_objects(case):
    label, now, previous, options = SERIES[case]
    figure = series_figure(label, now, previous, **options)
    assert_equivalent(figure, graph_objects_series_figure(label, now, previous, **options))


def rows(count: int, prefix: str = "acct-") -> list[Row]:
    return [Row(f"{prefix}{i}", None, 1_000 - 7 * i, None) for i in range(count)]


RANKINGS = {
    "top and many others": (rows(5), 1_234, 17, "account", [f"/s?a={i}" for i in range(5)]),
    "one other": (rows(3), 4, 1, "customer", ["/a"]),
    "no others": (rows(4), 0, 0, "account", ()),
    "only others": ([], 99, 12, "account", ()),
    "nothing": ([], 0, 0, "account", ()),
    "hostile and long ids": (
        [Row("a" * 80, None, 5, 50.0), Row(HOSTILE, "cust-" + HOSTILE, 5, 50.0)], 0, 0,
        "customer", [],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", RANKINGS)
def test_ranking_figures_match_graph_objects(case):
    top, other, other_count, noun, urls = RANKINGS[case]
    figure = ranking_figure(top, other, other_count, noun, urls)
    assert_equivalent(figure, graph_objects_ranking_figure(top, other, other_count, noun, urls))


values = st.lists(st.one_of(st.none(), st.integers(0, 2**50)), min_size=1, max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.dates(date(2024, 1, 1), date(2027, 12, 31)),
    days=st.integers(1, 100),
    previous_days=st.one_of(st.none(), st.integers(1, 100)),
    granularity=st.sampled_from(["day", "week", "month"]),
    today_offset=st.one_of(st.none(), st.integers(-5, 105)),
    line=st.booleans(),
    now_values=values,
    previous_values=values,
    label=st.text(max_size=12),
)
def test_any_series_figure_matches_graph_objects(
    start, days, previous_days, granularity, today_offset, line, now_values, previous_values, label
):
    now = buckets(start, days, granularity, now_values)
    previous = (
        None
        if previous_days is None
        else buckets(start - timedelta(days=previous_days), previous_days, granularity,
                     previous_values)
    )  # fmt: skip
    today = None if today_offset is None else start + timedelta(days=today_offset)
    options = {
        "line": line,
        "unit_axis": BYTES_AXIS if line else COUNT_AXIS,
        "granularity": granularity,
        "today": today,
        "fmt": human_bytes if line else thousands,
    }
    figure = series_figure(label, now, previous, **options)
    assert_equivalent(figure, graph_objects_series_figure(label, now, previous, **options))


def test_figures_are_fresh_data_a_caller_may_edit():
    first = ranking_figure(rows(2), 3, 4, "account")
    first["data"][0]["y"].append(99)
    first["layout"]["template"]["data"].clear()
    second = ranking_figure(rows(2), 3, 4, "account")
    assert sent(second) == sent(graph_objects_ranking_figure(rows(2), 3, 4, "account"))
    series = series_figure("Events", DAYS_30, None, line=False, unit_axis=COUNT_AXIS)
    series["layout"]["yaxis"]["tickformat"] = "changed"
    assert COUNT_AXIS == {"tickformat": ",~d"}
