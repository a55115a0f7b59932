"""Series figures, and every figure embedded in a page as data no text inside can break."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from flask import render_template_string

from presenters.charts import BYTES_AXIS, COUNT_AXIS, Chart, series_figure
from presenters.staff import RankingChart
from presenters.staff_charts import ranking_figure
from services.shaping import Bucket
from services.staff_ranking import Row

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "</script><script>alert(1)</script> & \u2028 'x' <!--"
DAY = date(2026, 3, 1)


def buckets(values, start=DAY) -> list[Bucket]:
    days = [start + timedelta(days=i) for i in range(len(values))]
    return [Bucket(day, day, value) for day, value in zip(days, values, strict=True)]


def test_a_series_is_bars_with_the_previous_range_faint_and_cut_to_the_range():
    figure = series_figure(
        "Events", buckets([3, None, 5]), buckets([1, 2, 3, 4], DAY - timedelta(days=4)),
        line=False, unit_axis=COUNT_AXIS,
    )  # fmt: skip
    before, now = figure["data"]
    assert now == {**now, "type": "bar", "name": "Events", "y": [3, None, 5]}
    assert now["x"] == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert before["y"] == [1, 2, 3] and before["x"] == now["x"] and before["opacity"] == 0.35
    assert figure["layout"]["showlegend"] is True
    assert figure["layout"]["yaxis"]["tickformat"] == ",~d"


def test_a_level_is_a_line_without_a_legend_when_alone():
    figure = series_figure("Storage", buckets([10, 20]), None, line=True, unit_axis=BYTES_AXIS)
    (trace,) = figure["data"]
    assert trace["type"] == "scatter" and trace["mode"] == "lines+markers"
    assert trace["connectgaps"] is False
    assert figure["layout"]["showlegend"] is False
    assert figure["layout"]["yaxis"]["ticksuffix"] == "B"


def series_chart() -> Chart:
    figure = series_figure(HOSTILE, buckets([1, 2]), None, line=False, unit_axis=COUNT_AXIS)
    return Chart(
        id="chart-x", title="Events", figure=figure, rows=[], total="3",
        total_label="in the range", change="", has_data=True, compare=False,
    )  # fmt: skip


def ranking_chart() -> RankingChart:
    # The id is escaped for Plotly, so this one carries the raw text in its hover data too.
    top = [Row(HOSTILE, None, 7, 100.0)]
    figure = ranking_figure(top, 0, 0, "account")
    figure["data"][0]["customdata"] = [HOSTILE]
    return RankingChart(
        id="staff-x", title="Top accounts", label="Account", figure=figure, has_data=True, rows=()
    )


@pytest.mark.parametrize(
    ("template", "macro", "make"),
    [
        ("macros/charts.html", "chart", series_chart),
        ("macros/charts.html", "ranking_chart", ranking_chart),
    ],
)
def test_figure_json_in_a_page_cannot_end_its_script_element(app, template, macro, make):
    chart = make()
    source = f'{{% from "{template}" import {macro} %}}{{{{ {macro}(c) }}}}'
    with app.test_request_context():
        html = render_template_string(source, c=chart)
    opening = f'<script type="application/json" id="{chart.id}-data">'
    assert html.count(opening) == 1
    # What a browser does: the element's text runs to the first "</script", in any case.
    text = re.split("</script", html.split(opening, 1)[1], maxsplit=1, flags=re.I)[0]
    assert json.loads(text) == chart.figure  # all of it, as dashboard.js's JSON.parse reads it
    assert HOSTILE in json.dumps(chart.figure, ensure_ascii=False)
    assert not re.search(r"[<>&'\u2028\u2029]", text)
    assert "<script>alert(1)" not in html


def test_ticks_fall_on_bucket_starts_with_short_dates():
    mondays = [date(2026, 9, 7) + timedelta(days=7 * i) for i in range(12)]
    weeks = [Bucket(d, d + timedelta(days=6), 1) for d in mondays]
    axis = series_figure("Events", weeks, None, line=False, unit_axis=COUNT_AXIS,
                         granularity="week")["layout"]["xaxis"]  # fmt: skip
    # Twelve weeks, every second one labelled: at most eight ticks, each on a Monday.
    assert axis["tickmode"] == "array"
    assert axis["tickvals"] == [d.isoformat() for d in mondays[::2]]
    assert all(date.fromisoformat(v).weekday() == 0 for v in axis["tickvals"])
    assert axis["tickformat"] == "%b %-d"  # Sep 7 (the browser test reads the drawn labels)
    assert "ticktext" not in axis  # Plotly would show tick texts in the hover too
    assert axis["hoverformat"] == "%Y-%m-%d"  # text keeps ISO dates
    months = [Bucket(date(2026, m, 1), date(2026, m, 28), 1) for m in (10, 11)]
    axis = series_figure("Events", months, None, line=False, unit_axis=COUNT_AXIS,
                         granularity="month")["layout"]["xaxis"]  # fmt: skip
    assert axis["tickformat"] == "%b %Y"  # Oct 2026


def test_a_partial_point_of_a_level_is_an_open_marker():
    # March 1st 2026 is a Sunday: the range cuts its week to one day; the next week runs.
    level = [Bucket(DAY, DAY, 5), Bucket(date(2026, 3, 2), date(2026, 3, 8), 6)]
    figure = series_figure("Storage", level, None, line=True, unit_axis=BYTES_AXIS,
                           granularity="week", today=date(2026, 3, 3))  # fmt: skip
    (trace,) = figure["data"]
    assert trace["marker"]["symbol"] == ["circle-open", "circle-open"]
    assert trace["customdata"] == [
        "partial: 2026-03-01, 1 of 7 days: 5",
        "so far: 2026-03-02 – 2026-03-08, 2 of 7 days: 6",
    ]


def test_without_a_granularity_no_bucket_is_called_partial():
    # A caller that does not say its granularity (a week here) gets no partial marks.
    week = [Bucket(DAY, DAY + timedelta(days=6), 5)]
    (trace,) = series_figure("AI minutes", week, None, line=False, unit_axis=COUNT_AXIS)["data"]
    assert trace["marker"]["opacity"] == [1] and trace["marker"]["pattern"]["shape"] == [""]
    assert trace["customdata"] == ["2026-03-01 – 2026-03-07: 5"]


def test_figures_are_built_without_importing_plotly():
    # Plotly's graph_objects cost milliseconds per figure; the presenters write the JSON.
    program = """
import sys
from datetime import date
from presenters import kpi, staff, usage
from presenters.charts import COUNT_AXIS, series_figure
from presenters.staff_charts import ranking_figure
from services.shaping import Bucket
from services.staff_ranking import Row
day = date(2026, 3, 1)
series_figure("Events", [Bucket(day, day, 1)], [], line=False, unit_axis=COUNT_AXIS,
              granularity="day", today=day)
ranking_figure([Row("acct", None, 3, None)], 4, 2, "account")
print(sorted(name for name in sys.modules if name.split(".")[0] == "plotly"))
"""
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
