"""Numbers, bytes, changes, ages and periods as people read them, and as templates print them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from presenters.formatting import (
    Change,
    ago,
    bytes_column,
    change_text,
    human_bytes,
    period_label,
    signed_pct,
    span_label,
    thousands,
    unbroken,
)
from services.shaping import Bucket


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (0, "0 B"),
        (999, "999 B"),
        (1_000, "1.00 KB"),
        (1_044, "1.04 KB"),
        (1_045, "1.05 KB"),  # half up, not to even
        (1_500_000_000, "1.50 GB"),
        (1_312_000_000, "1.31 GB"),
        (12_345_678, "12.3 MB"),
        (123_456_789, "123 MB"),
        (999_499_999, "999 MB"),
        (999_950_000, "1.00 GB"),  # rounds up to 1000 MB: rolls over to the next unit
        (-2_500, "-2.50 KB"),
        (10**18 + 5 * 10**17, "1,500 PB"),  # past the last unit: exact, never a float
    ],
)
def test_human_bytes_shows_three_significant_digits(value, text):
    assert human_bytes(value) == text


def test_a_bytes_column_shares_the_largest_unit_and_shows_movement():
    fmt = bytes_column([1_312_000_000, 1_318_450_000, None, 999_000_000])
    assert [fmt(v) for v in (1_312_000_000, 1_318_450_000, 999_000_000, None)] == [
        "1.312 GB", "1.318 GB", "0.999 GB", "–",
    ]  # fmt: skip
    assert bytes_column([999_960_000])(999_960_000) == "1.000 GB"
    assert bytes_column([512, None])(20) == "20 B"
    assert bytes_column([None])(None) == "–"


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "–"), (0, "0"), (1_234_567, "1,234,567"), (10**18 + 1, "1,000,000,000,000,000,001"),
     (2_499.5, "2,500"), (12.4, "12")],
)  # fmt: skip
def test_thousands_never_rounds_an_int(value, text):
    assert thousands(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "–"), (12.345, "+12 %"), (-3.0, "−3.0 %"), (0.0, "0 %"), (1234.6, "+1,235 %"),
     (0.34, "+0.34 %"), (-0.0341, "−0.034 %"), (-0.0004, "−<0.01 %"), (9.96, "+10 %"),
     (-0.998, "−1.0 %"),
     (0.0996, "+0.10 %")],
)  # fmt: skip
def test_signed_pct_shows_movement_and_never_minus_zero(value, text):
    assert signed_pct(value) == text


NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "text"),
    [
        (timedelta(seconds=59), "just now"),
        (timedelta(minutes=1), "1 minute ago"),
        (timedelta(minutes=59, seconds=59), "59 minutes ago"),
        (timedelta(hours=3), "3 hours ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=40), "40 days ago"),
        (-timedelta(minutes=5), "just now"),  # a clock a little ahead is not "in 5 minutes"
    ],
)
def test_ago(before, text):
    assert ago(NOW - before, now=NOW) == text


def test_ago_of_nothing_is_never():
    assert ago(None, now=NOW) == "never"


def test_period_label_names_one_day_or_first_and_last():
    day, week_end = date(2026, 3, 2), date(2026, 3, 8)
    assert period_label(Bucket(day, day, 5)) == "2026-03-02"
    assert period_label(Bucket(day, week_end, 5)) == "2026-03-02 – 2026-03-08"


def test_change_text_has_a_direction_and_says_why_there_is_no_change():
    up = change_text(12.5, against="2026-10-02 – 2026-10-31")
    assert (up.text, up.direction, up.arrow, up.word) == (
        "+12 % vs 2026-10-02 – 2026-10-31", "up", "▲", "up",
    )  # fmt: skip
    down = change_text(-0.0004)
    assert (str(down), down.arrow, down.word) == ("−<0.01 % vs previous range", "▼", "down")
    flat = change_text(0.0)
    assert (flat.text, flat.direction, flat.arrow, flat.word) == (
        "no change vs previous range", "flat", "", "no change",
    )  # fmt: skip
    assert change_text(None) == Change("no data for the previous range")
    assert change_text(None, "no comparison").direction == ""


def test_span_label_names_a_range_by_its_iso_dates():
    assert span_label(date(2026, 10, 2), date(2026, 10, 31)) == "2026-10-02 – 2026-10-31"


def test_the_app_registers_the_filters(app):
    template = app.jinja_env.from_string(
        "{{ 1500|human_bytes }} · {{ 1234|thousands }} · {{ -2.0|signed_pct }} · {{ none|ago }}"
    )
    assert template.render() == "1.50 KB · 1,234 · −2.0 % · never"


def test_dates_and_figures_with_units_are_kept_on_one_line_and_the_rest_is_escaped():
    said = unbroken("+3 % vs 2026-10-26 – 2026-11-23 <b>&")
    assert str(said) == (
        '<span class="nowrap">+3 %</span> vs <span class="nowrap">2026-10-26</span> – '
        '<span class="nowrap">2026-11-23</span> &lt;b&gt;&amp;'
    )
    assert str(unbroken("no comparison")) == "no comparison"
    assert str(unbroken("1.256 GB")) == '<span class="nowrap">1.256 GB</span>'
    assert str(unbroken("−4.0 % of 12 Bees")) == '<span class="nowrap">−4.0 %</span> of 12 Bees'

    assert str(unbroken("<script>2026-01-01")) == (
        '&lt;script&gt;<span class="nowrap">2026-01-01</span>'
    )
