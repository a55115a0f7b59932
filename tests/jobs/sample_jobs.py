"""Functions periodic jobs call in tests: one that fails, one with two outcomes."""

from __future__ import annotations

from datetime import datetime

CALLS: list[datetime] = []


def fail_once(now: datetime) -> list[str]:
    """Fail the first time, succeed after."""
    CALLS.append(now)
    if len(CALLS) == 1:
        raise RuntimeError("upstream read failed")
    return ["worked the second time"]


def two_outcomes(now: datetime) -> list[str]:
    """Return two outcomes to log."""
    return [f"rule 1 at {now:%H:%M}: fired", "rule 2: below its threshold"]
