"""A row's trend as an inline SVG sparkline: polyline points, no styles.

The page's CSP forbids inline style attributes, so everything a sparkline needs is in SVG
attributes the template writes (viewBox, points, fill, stroke), and its text equivalent is
an aria-label beside the change column's words, never its colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .formatting import thousands

WIDTH = 96
HEIGHT = 24
PAD = 2  # keeps the stroke at the extremes inside the box

UNITS = {"day": "day", "week": "week", "month": "month"}


@dataclass(frozen=True)
class Sparkline:
    """An SVG sparkline: one polyline per run of known values, a dot for a lone one."""

    width: int
    height: int
    lines: tuple[str, ...]  # each a polyline's `points`
    dots: tuple[tuple[str, str], ...]  # (cx, cy) of values with no known neighbour
    label: str


def _coord(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def sparkline(values: Sequence[int | None], granularity: str) -> Sparkline | None:
    """Return the sparkline of a row's values per bucket (None: no record then), or None
    when no bucket has a value."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    top = max(known) or 1  # all zeros: a flat line along the bottom
    step = (WIDTH - 2 * PAD) / (len(values) - 1) if len(values) > 1 else 0.0

    def point(index: int, value: int) -> tuple[str, str]:
        x = PAD + index * step if len(values) > 1 else WIDTH / 2
        y = HEIGHT - PAD - value / top * (HEIGHT - 2 * PAD)
        return _coord(x), _coord(y)

    runs: list[list[tuple[str, str]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append(point(index, value))
    lines = tuple(" ".join(f"{x},{y}" for x, y in run) for run in runs if len(run) > 1)
    dots = tuple(run[0] for run in runs if len(run) == 1)
    unit = UNITS.get(granularity, granularity)
    label = (
        f"AI minutes per {unit}: lowest {thousands(min(known))}, "
        f"highest {thousands(max(known))}, last {thousands(_last(values))}"
    )
    return Sparkline(WIDTH, HEIGHT, lines, dots, label)


def _last(values: Sequence[int | None]) -> int | None:
    return next((v for v in reversed(values) if v is not None), None)
