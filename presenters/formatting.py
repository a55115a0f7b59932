"""Numbers, bytes, changes, ages and periods formatted for people; register_filters names the
templates' filters."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from flask import Flask
from markupsafe import Markup, escape

if TYPE_CHECKING:
    from services.shaping import Bucket

_BYTE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")
NO_PREVIOUS = "no data for the previous range"
# A range of today alone: a part of a day against a whole one would always look like a fall.
NOTHING_OVER = "no comparison until a day of the range is over"
# A range with days still to come holds part of its total: against a whole previous range
# it would always look like a fall.
ONGOING = "no comparison until the range ends"


def _in_unit(value: int, power: int, places: int) -> str:
    """Format a byte count in 1000**power units with `places` decimals, rounded half up."""
    scaled = Decimal(abs(value)) / Decimal(1000**power)
    rounded = scaled.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return f"{'-' if value < 0 else ''}{rounded:,.{places}f} {_BYTE_UNITS[power]}"


def _unit_and_places(size: int, digits: int) -> tuple[int, int]:
    """Return the unit and decimals that show `size` to `digits` significant digits.

    A value that rounds up to 1000 of a unit rolls over to the next: 999,950,000 is 1.00 GB.
    """
    power = 0
    while power < len(_BYTE_UNITS) - 1 and size >= 1000 ** (power + 1):
        power += 1
    while True:
        if power == 0:
            return 0, 0
        whole = len(str(size // 1000**power))
        places = max(0, digits - whole)
        rounded = (Decimal(size) / Decimal(1000**power)).quantize(
            Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP
        )
        if rounded < 1000 or power == len(_BYTE_UNITS) - 1:
            return power, places
        power += 1


def human_bytes(value: int | None) -> str:
    """Format a byte count in decimal units to 3 significant digits: 1.50 GB, 12.3 MB."""
    if value is None:
        return "–"
    power, places = _unit_and_places(abs(int(value)), 3)
    return f"{int(value):,} B" if power == 0 else _in_unit(int(value), power, places)


def bytes_column(values: Iterable[int | None]) -> Callable[[int | None], str]:
    """Return a formatter for a column of byte counts: one unit, the largest's, down the column.

    The largest value gets 4 significant digits and every row as many decimals, so a level
    that grows by a few megabytes a day reads 1.312 GB, 1.318 GB, not 1.3 GB on every row.
    """
    largest = max((abs(int(v)) for v in values if v is not None), default=0)
    power, places = _unit_and_places(largest, 4)

    def fmt(value: int | None) -> str:
        if value is None:
            return "–"
        return f"{int(value):,} B" if power == 0 else _in_unit(int(value), power, places)

    return fmt


def thousands(value: int | float | None) -> str:
    """Format a count with thousands separators; an int is never rounded through a float."""
    if value is None:
        return "–"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.0f}"


def _pct(size: float) -> str:
    """Format a positive percentage to 2 significant digits, at least to the whole percent."""
    # Bounds where rounding reaches the next form: 9.96 is "10", 0.998 is "1.0".
    if size >= 9.95:
        return f"{size:,.0f}"
    if size >= 0.995:
        return f"{size:.1f}"
    if size < 0.01:
        return "<0.01"
    rounded = float(f"{size:.2g}")  # 2 significant digits first: 0.0996 is 0.10, not 0.100
    places = 1 - math.floor(math.log10(rounded))
    return f"{rounded:.{places}f}"


def signed_pct(value: float | None) -> str:
    """Format a change as +12 % / −3.4 % / +0.034 %: any movement shows, never −0.0 %."""
    if value is None:
        return "–"
    if value == 0:
        return "0 %"
    return f"{'+' if value > 0 else '−'}{_pct(abs(value))} %"


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
    return span_label(bucket.start, bucket.end)


@dataclass(frozen=True)
class Change:
    """How a total compares with the previous range, as a card prints it.

    `direction` is "up", "down" or "flat" (the template adds an arrow and a word for it),
    or "" when there is no comparison and `text` says why.
    """

    text: str
    direction: str = ""
    figure: str = ""  # the change alone ("+12 %", "no change")
    # Why only part of the ranges is compared ("whole days to …"): the card's words end with
    # it in brackets; a tile, with no room, leaves it out (`brief`).
    note: str = ""

    @property
    def brief(self) -> str:
        """Return the change without its note: the figure and the dates it is against."""
        return self.text.removesuffix(f" ({self.note})") if self.note else self.text

    @property
    def word(self) -> str:
        """Return the direction in words, for readers who do not see the arrow's colour."""
        return {"up": "up", "down": "down", "flat": "no change"}.get(self.direction, "")

    @property
    def arrow(self) -> str:
        """Return the arrow drawn beside the text."""
        return {"up": "▲", "down": "▼"}.get(self.direction, "")  # "no change" says it all

    def __str__(self) -> str:
        return self.text


def change_text(
    value: float | None, missing: str = NO_PREVIOUS, against: str = "previous range", note: str = ""
) -> Change:
    """Say how a total compares with the previous range (named by `against`, with a `note` on
    what of it is compared), or why not."""
    if value is None:
        return Change(missing)
    said = f" vs {against}" + (f" ({note})" if note else "")
    if value == 0:
        return Change(f"no change{said}", "flat", "no change", note)
    figure = signed_pct(value)
    return Change(f"{figure}{said}", "up" if value > 0 else "down", figure, note)


def span_label(start: date, end: date) -> str:
    """Name a range by its ISO dates: 2026-11-01 – 2026-11-30."""
    return start.isoformat() if start == end else f"{start.isoformat()} – {end.isoformat()}"


# An ISO date, or a figure with its unit (1.256 GB, 43.1 %, +4.0 %; a minus sign too).
_UNBROKEN = re.compile(r"(\d{4}-\d{2}-\d{2}|[−+]?\d[\d,.]* (?:%|[KMGTP]?B)(?!\w))")


def unbroken(text: object) -> Markup:
    """Escape a text and keep each ISO date and each figure with its unit in it on one line:
    a narrow line (a KPI tile or a table on a phone) would otherwise break 2026-11-23 after a
    hyphen, or 1.256 GB before its unit, which reads as two things."""
    pieces = _UNBROKEN.split(str(text))  # the dates and figures are the odd pieces
    return Markup("").join(
        Markup('<span class="nowrap">{}</span>').format(piece) if odd % 2 else escape(piece)
        for odd, piece in enumerate(pieces)
    )


def register_filters(app: Flask) -> None:
    """Make the filters available to templates."""
    app.add_template_filter(human_bytes)
    app.add_template_filter(thousands)
    app.add_template_filter(signed_pct)
    app.add_template_filter(ago)
    app.add_template_filter(unbroken)
