"""Template filters that format numbers, bytes, changes and ages for people."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def human_bytes(value: int | None) -> str:
    """Format a byte count in decimal units: 1.5 GB."""
    if value is None:
        return "–"
    size = float(value)
    for unit in _BYTE_UNITS:
        if abs(size) < 1000 or unit == _BYTE_UNITS[-1]:
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def thousands(value: int | float | None) -> str:
    """Format a count with thousands separators."""
    return "–" if value is None else f"{value:,.0f}"


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


def register_filters(app: Flask) -> None:
    """Make the filters available to templates."""
    app.add_template_filter(human_bytes)
    app.add_template_filter(thousands)
    app.add_template_filter(signed_pct)
    app.add_template_filter(ago)
