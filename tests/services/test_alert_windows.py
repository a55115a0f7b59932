"""An alert rule's windows: the days each reads and the key it fires at most once under."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.alert_windows import overlapping, window_for

NOW = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)


def test_a_month_is_the_calendar_month_to_date_today_included():
    window = window_for("month", NOW)
    assert (window.key, window.start, window.end) == ("2026-12", date(2026, 12, 1), NOW.date())
    assert overlapping(window) == ()


def test_a_day_is_yesterday_whole():
    window = window_for("day", NOW)
    assert (window.key, window.start, window.end) == (
        "2026-11-30",
        date(2026, 11, 30),
        date(2026, 11, 30),
    )
    assert window.baseline == (date(2026, 11, 2), date(2026, 11, 29))


def test_seven_days_are_the_full_days_up_to_yesterday_and_hold_back_those_sharing_a_day():
    window = window_for("7d", NOW)
    assert (window.key, window.start, window.end) == (
        "2026-11-24/2026-11-30",
        date(2026, 11, 24),
        date(2026, 11, 30),
    )
    held = overlapping(window)
    assert len(held) == 12
    assert "2026-11-23/2026-11-29" in held
    assert "2026-11-18/2026-11-24" in held  # still shares the 24th
    assert "2026-11-30/2026-12-06" in held  # still shares the 30th
    assert window.key not in held
    assert "2026-11-17/2026-11-23" not in held  # shares no day: may fire
    assert "2026-12-01/2026-12-07" not in held


def test_an_unknown_window_is_refused():
    with pytest.raises(ValueError, match="unknown window"):
        window_for("fortnight", NOW)
