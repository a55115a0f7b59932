"""Numbers, bytes, changes, ages and periods formatted for people; the first four are filters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from services.shaping import Bucket

_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")
NO_PREVIOUS = "no data for the previous range"
# A range with days still to come holds part of its total: against a whole previous range
# it would always look like a fall.
ONGOING = "no comparison until the range ends"


def human_bytes(value: int | None) -> str:
    """Format a byte count in decimal units: 1.5 GB (integer arithmetic: exact at any size)."""
    if value is None:
        return "–"
    sign, size = ("-" if value < 0 else ""), abs(int(value))
    for power, unit in enumerate(_BYTE_UNITS):
        scale = 1000**power
        if size < scale * 1000 or unit == _BYTE_UNITS[-1]:
            if power == 0:
                return f"{sign}{size:,} B"
            tenths = (size * 10 + scale // 2) // scale  # rounded half up
            return f"{sign}{tenths // 10:,}.{tenths % 10} {unit}"
    raise AssertionError("unreachable")


def thousands(value: int | float | None) -> str:
    """Format a count with thousands separators; an int is never rounded through a float."""
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.0f}"


def signed_pct(value: float | None) -> str:
    """Format a change as +12.5 % / −3.0 %, or an en dash when undefined."""
    if value is None:
        return "–"
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{abs(value):,.1f} %"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """Say how long ago something happened: just now, 5 minutes ago, 3 hours ago."""
    if moment is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 60:
        return "just now"
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def period_label(bucket: Bucket) -> str:
    """Name a bucket's days: one date, or the first and last joined by an en dash."""
    if bucket.start == bucket.end:
        return bucket.start.isoformat()
    return f"{bucket.start.isoformat()} – {bucket.end.isoformat()}"


def change_text(value: float | None, missing: str = NO_PREVIOUS) -> str:
    """Say how a total compares with the previous range, or why it cannot."""
    return missing if value is None else f"{signed_pct(value)} vs previous range"


def register_filters(app: Flask) -> None:
    """Make the filters available to templates."""
    app.add_template_filter(human_bytes)
    app.add_template_filter(thousands)
    app.add_template_filter(signed_pct)
    app.add_template_filter(ago)
