"""KPI tiles read from presented charts: totals, changes as text or objects, sparklines."""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from datetime import date, timedelta

from presenters.charts import COUNT_AXIS, Chart, series_figure
from presenters.kpi import (
    SPARK_HEIGHT,
    change_direction,
    change_words,
    compared_range,
    kpi_tiles,
    series_values,
    spark_lines,
)
from services.filters import UsageQuery
from services.shaping import Bucket

DAY = date(2026, 3, 1)


def chart(values, change="+12.5 % vs previous range", chart_id="chart-Events") -> Chart:
    days = [DAY + timedelta(days=i) for i in range(len(values))]
    previous = [Bucket(d - timedelta(days=len(values)), d, 1) for d in days]
    buckets = [Bucket(d, d, v) for d, v in zip(days, values, strict=True)]
    figure = series_figure("Events", buckets, previous, line=False, unit_axis=COUNT_AXIS)
    return Chart(
        id=chart_id, title="Events", figure=figure, rows=[], total="12", total_label="in the range",
        change=change, has_data=True, compare=True,
    )  # fmt: skip


@dataclass
class Change:
    text: str
    direction: str | None = None


def test_a_tile_repeats_the_card_and_links_to_its_chart():
    (tile,) = kpi_tiles([chart([1, 5, 3])], None)
    assert (tile.title, tile.total, tile.change) == ("Events", "12", "+12.5 % vs previous range")
    assert tile.direction == "up" and tile.href == "#chart-Events-title"
    assert len(tile.lines) == 1 and len(tile.lines[0].split()) == 3


def test_tiles_come_in_order_metrics_then_minutes():
    tiles = kpi_tiles([chart([1], chart_id="chart-A")], chart([2], chart_id="chart-ai-minutes"))
    assert [t.href for t in tiles] == ["#chart-A-title", "#chart-ai-minutes-title"]
    assert kpi_tiles(None, None) == []


def test_a_change_may_be_text_or_an_object_with_text():
    assert change_words("−3.0 % vs previous range") == "−3.0 % vs previous range"
    assert change_words(Change("▲ 4 %")) == "▲ 4 %" and change_words(None) == ""
    assert change_direction("−3.0 % vs previous range") == "down"
    assert change_direction("±0.0 % vs previous range") == "flat"
    assert change_direction("no data for the previous range") == "none"
    assert change_direction(Change("4 % more", "up")) == "up"
    assert change_direction(Change("▼ 4 %")) == "down"


def test_the_sparkline_breaks_at_missing_values_and_reads_typed_arrays():
    lines = spark_lines([1, 2, None, 4, None])
    assert len(lines) == 2
    ys = [float(p.split(",")[1]) for line in lines for p in line.split()]
    assert all(0 <= y <= SPARK_HEIGHT for y in ys)
    assert spark_lines([None, None]) == [] and spark_lines([]) == []
    assert len(spark_lines([None, 7, None])[0].split()) == 2, "a lone value still shows"
    typed = {"dtype": "i4", "bdata": base64.b64encode(struct.pack("<3i", 1, 2, 3)).decode()}
    shaped = Chart(**{**chart([0]).__dict__, "figure": {"data": [{"y": typed}]}})
    assert series_values(shaped) == [1.0, 2.0, 3.0]


def test_the_compared_range_is_the_querys_previous_range_only_when_comparing():
    query = UsageQuery(start=date(2026, 3, 1), end=date(2026, 3, 10), compare="previous")
    compared = compared_range(query)
    # A ten-day range by day is compared with the same weekdays two whole weeks back.
    assert compared is not None and compared.label == "2026-02-15 – 2026-02-24"
    assert compared_range(UsageQuery(start=date(2026, 3, 1), end=date(2026, 3, 10))) is None
    assert compared_range(None) is None


def test_while_the_range_holds_today_the_compared_range_says_which_days_changes_compare():
    query = UsageQuery(start=date(2026, 3, 1), end=date(2026, 3, 10), compare="previous")
    over = compared_range(query, today=date(2026, 3, 11))
    assert over is not None and over.changes == ""  # the range is over: whole ranges
    running = compared_range(query, today=date(2026, 3, 10))
    assert running is not None and running.label == "2026-02-15 – 2026-02-24"
    assert running.changes == "2026-02-15 – 2026-02-23, whole days to 2026-03-09: today is not over"
