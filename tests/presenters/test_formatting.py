"""Numbers, bytes, changes, ages and periods as people read them, and as templates print them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from presenters.formatting import (
    ago,
    change_text,
    human_bytes,
    period_label,
    signed_pct,
    thousands,
)
from services.shaping import Bucket


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "–"),
        (0, "0 B"),
        (999, "999 B"),
        (1_000, "1.0 KB"),
        (1_049, "1.0 KB"),
        (1_050, "1.1 KB"),  # half up, not to even
        (1_500_000_000, "1.5 GB"),
        (999_949_999, "999.9 MB"),
        (-2_500, "-2.5 KB"),
        (10**18 + 5 * 10**13, "1,000.1 PB"),  # past the last unit: exact, never a float
    ],
)
def test_human_bytes(value, text):
    assert human_bytes(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "–"), (0, "0"), (1_234_567, "1,234,567"), (10**18 + 1, "1,000,000,000,000,000,001"),
     (2_499.5, "2,500"), (12.4, "12")],
)  # fmt: skip
def test_thousands_never_rounds_an_int(value, text):
    assert thousands(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, "–"), (12.345, "+12.3 %"), (-3.0, "−3.0 %"), (0.0, "±0.0 %"), (1234.5, "+1,234.5 %")],
)
def test_signed_pct(value, text):
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


def test_change_text_says_why_there_is_no_change():
    assert change_text(12.5) == "+12.5 % vs previous range"
    assert change_text(0.0) == "±0.0 % vs previous range"
    assert change_text(None) == "no data for the previous range"
    assert change_text(None, "no comparison") == "no comparison"


def test_the_app_registers_the_filters(app):
    template = app.jinja_env.from_string(
        "{{ 1500|human_bytes }} · {{ 1234|thousands }} · {{ -2.0|signed_pct }} · {{ none|ago }}"
    )
    assert template.render() == "1.5 KB · 1,234 · −2.0 % · never"
