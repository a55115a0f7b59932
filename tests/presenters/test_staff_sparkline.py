"""The accounts table's sparklines: points inside the box, gaps for buckets without a
record, and a label that says the numbers."""

from __future__ import annotations

from presenters.staff_sparkline import HEIGHT, PAD, WIDTH, sparkline


def points(line: str) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in p.split(",")) for p in line.split()]


def test_points_span_the_box_highest_on_top_lowest_at_the_bottom():
    spark = sparkline([0, 5, 10], "day")
    assert spark is not None and len(spark.lines) == 1 and spark.dots == ()
    (first, middle, last) = points(spark.lines[0])
    assert first == (PAD, HEIGHT - PAD)
    assert middle == (WIDTH / 2, HEIGHT / 2)
    assert last == (WIDTH - PAD, PAD)
    assert spark.label == "AI minutes per day: lowest 0, highest 10, last 10"


def test_a_bucket_without_a_record_breaks_the_line_and_a_lone_value_is_a_dot():
    spark = sparkline([3, 4, None, 7, None, None], "week")
    assert spark is not None
    assert [len(points(line)) for line in spark.lines] == [2]
    assert len(spark.dots) == 1
    assert spark.label == "AI minutes per week: lowest 3, highest 7, last 7"


def test_all_zeros_lie_flat_and_no_value_at_all_draws_nothing():
    flat = sparkline([0, 0, 0], "month")
    assert flat is not None
    assert {y for _, y in points(flat.lines[0])} == {HEIGHT - PAD}
    assert sparkline([None, None], "day") is None
    one = sparkline([1234], "day")
    assert one is not None and one.dots == (("48", "2"),)
    assert "1,234" in one.label
