"""The usage page's CSV exports as tables: exactly the rows on screen, read like the page.

Both exports follow one rule for days after today (`happened`) and, when the page compares,
carry the previous range's bucket beside each row, aligned by position as the chart is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from clients.fanout import both
from clients.isnotai import IsnotaiUsage

from .filters import UsageQuery
from .freshness import Freshness
from .shaping import Bucket, metric_buckets
from .usage import TenantScope, UsageService, minutes_buckets, other_metrics

T = TypeVar("T")

METRICS_HEADER = ("period", "metric", "value")
MINUTES_HEADER = ("period", "account_id", "customer_id", "ai_minutes")
# Added after the existing columns when the page compares with the previous range.
PREVIOUS_HEADER = ("previous_period", "previous_value")

Cell = str | int | None


@dataclass(frozen=True)
class ExportTable:
    """A CSV export's header, rows and how fresh the rows are."""

    header: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    freshness: Freshness
    query: UsageQuery  # the range exported (a default range fitted to the plan's window)


def happened(buckets: Iterable[Bucket], today: date) -> list[Bucket]:
    """Return the buckets that have begun by today (UTC): the exports' one rule for later days.

    A day after today is not data (the page says "not yet", after `shaping.up_to`), so an
    export has no row for it; a bucket holding today keeps its value, the usage so far.
    """
    return [b for b in buckets if b.start <= today]


def _previous_cells(previous: Sequence[Bucket] | None, index: int) -> tuple[Cell, ...]:
    """Return the previous range's period and value for the row at `index`, if comparing."""
    if previous is None:
        return ()
    if index >= len(previous):  # months of unequal count: nothing sits under this one
        return ("", None)
    bucket = previous[index]
    # Days before the plan's history are unknown, not 0: an empty cell, as for no record.
    return (bucket.start.isoformat(), bucket.value if bucket.available else None)


def _header(base: tuple[str, ...], query: UsageQuery) -> tuple[str, ...]:
    return base + PREVIOUS_HEADER if query.compare == "previous" else base


def metric_rows(
    usage: IsnotaiUsage, before: IsnotaiUsage | None, query: UsageQuery, today: date
) -> list[tuple[Cell, ...]]:
    """Return one row per metric and bucket with a value, as on the page; `before` compares."""
    rows: list[tuple[Cell, ...]] = []
    for metric in (*query.metrics, *other_metrics(usage, query)):
        buckets = metric_buckets(usage, metric, query.granularity)
        previous = None if before is None else metric_buckets(before, metric, query.granularity)
        for index, bucket in enumerate(happened(buckets, today)):
            if bucket.value is not None:
                cells = _previous_cells(previous, index)
                rows.append((bucket.start.isoformat(), metric, bucket.value, *cells))
    return rows


def _with_previous(read: Callable[[UsageQuery], T], query: UsageQuery) -> tuple[T, T | None]:
    """Read the query's range, and with compare on its previous range at the same time."""
    if query.compare != "previous":
        return read(query), None
    return both(lambda: read(query), lambda: read(query.previous))


def metrics_table(
    service: UsageService, scope: TenantScope, query: UsageQuery, today: date
) -> ExportTable:
    """Read and shape the metrics export (raises UpstreamError when isnotai fails)."""
    query = service.fitted(scope, query)
    current, prior = _with_previous(lambda q: service.metrics_usage(scope, q), query)
    results = [current] if prior is None else [current, prior]
    before = None if prior is None else prior.value
    return ExportTable(
        _header(METRICS_HEADER, query),
        metric_rows(current.value, before, query, today),
        Freshness.of(results),
        query,
    )


def minutes_table(
    service: UsageService, scope: TenantScope, query: UsageQuery, today: date
) -> ExportTable:
    """Read and shape the AI-minutes export: one row per bucket that has begun."""
    query = service.fitted(scope, query)
    series, prior = _with_previous(lambda q: service.minutes_series(scope, q), query)
    previous = None if prior is None else minutes_buckets(prior)
    results = series.results if prior is None else [*series.results, *prior.results]
    who = (scope.account_id, scope.customer_id or "")
    rows = [
        (bucket.start.isoformat(), *who, bucket.value, *_previous_cells(previous, index))
        for index, bucket in enumerate(happened(minutes_buckets(series), today))
    ]
    return ExportTable(_header(MINUTES_HEADER, query), rows, Freshness.of(results), query)
