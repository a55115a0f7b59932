"""What an alert rule reads: the usage page's own numbers for the rule's window and source.

A rule's read is the page's: the query the message links to, read by `UsageService.view`
in the tenant's scope, and the page's total (a level's latest reading), its "on pace for"
projection, or its daily buckets for a spike. Anything that keeps the page from showing a
fresh number (an upstream failure, saved data standing in for a failed read, a source the
tenant lacks) is `Unreadable`, in words a person understands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

from presenters.alerts import source_label
from services.alert_rules import AI_MINUTES
from services.alert_windows import Window
from services.filters import UsageQuery, parse_query
from services.shaping import Bucket, MonthPace
from services.usage import TenantScope, UsageService, UsageView


class Unreadable(Exception):
    """The rule's number could not be read; `message` says why, with no secret in it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Reading:
    """The number a rule compares with its threshold, and what a message says beside it."""

    value: float  # the total, the projection, or a spike's percentage above the baseline
    query: UsageQuery  # what the page shows for it (the message's link)
    so_far: int | None = None  # projected-above: the month so far
    month_end: date | None = None  # projected-above: the day the projection is for
    day_value: int | None = None  # spike: the last full day's number
    baseline: float | None = None  # spike: the average day of the days before
    baseline_days: int = 0  # spike: how many days that average is over


@dataclass(frozen=True)
class Section:
    """The part of the page a rule reads: one source's buckets, total and projection."""

    buckets: Sequence[Bucket]
    total: int | None
    projection: MonthPace | None
    is_level: bool


def rule_query(source: str, condition: str, window: Window, today: date) -> UsageQuery:
    """Return the usage page's query that shows a rule's number (a spike: its baseline too)."""
    start = window.baseline[0] if condition == "spike" else window.start
    params = {
        "metric": source,
        "start": start.isoformat(),
        "end": window.end.isoformat(),
        "granularity": "day",
    }
    return parse_query(params, today)


def rule_scope(scope: TenantScope, source: str) -> TenantScope:
    """Return the tenant's scope reading only the rule's upstream (never widened)."""
    if source == AI_MINUTES:
        return replace(scope, isnotai_key=None, isnotai_region=None, problem=None)
    return replace(scope, account_id=None, customer_id=None)


def read_rule(
    service: UsageService, scope: TenantScope, source: str, condition: str, window: Window
) -> Reading:
    """Read a rule's number as the page shows it; raise `Unreadable` when it cannot be."""
    query = rule_query(source, condition, window, service.now().date())
    view = service.view(rule_scope(scope, source), query)
    section = _section(view, source)
    if view.freshness.stale:
        reasons = "; ".join(view.freshness.stale_reasons)
        raise Unreadable(f"only saved data could be read ({reasons})")
    if condition == "projected-above":
        return _projected(section, query, source)
    if condition == "spike":
        return _spike(section, query, window)
    if section.total is None and section.is_level:
        raise Unreadable(f"no reading was reported from {window.start} to {window.end}")
    # A flow without a record in the window used none of it.
    return Reading(section.total or 0, query)


def _section(view: UsageView, source: str) -> Section:
    scope = view.scope
    if source == AI_MINUTES:
        minutes = view.minutes
        if minutes is None:
            raise Unreadable(f"tenant {scope.name} has no EvoVoice account")
        if minutes.error is not None:
            raise Unreadable(str(minutes.error))
        return Section(minutes.buckets, minutes.total, minutes.projection, False)
    if scope.problem:
        raise Unreadable(scope.problem)
    metrics = view.metrics
    if metrics is None:
        raise Unreadable(f"tenant {scope.name} has no isnotai integration")
    if metrics.error is not None:
        raise Unreadable(str(metrics.error))
    panel = next(p for p in metrics.panels if p.metric == source)
    return Section(panel.buckets, panel.total, panel.projection, panel.is_level)


def _projected(section: Section, query: UsageQuery, source: str) -> Reading:
    if section.is_level:
        raise Unreadable(
            f"{source_label(source)} is a level (what is stored), not a flow: "
            "it has no month projection"
        )
    pace = section.projection
    if pace is None:  # nothing used this month yet: on pace for nothing
        return Reading(0, query, so_far=0, month_end=_month_end(query.end))
    return Reading(pace.projected, query, so_far=pace.so_far, month_end=pace.month_end)


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def _spike(section: Section, query: UsageQuery, window: Window) -> Reading:
    """Compare the last full day with the average of the days before it the plan keeps.

    Days before the plan's history window are unknown, not 0, and left out of the average;
    a flow's kept day without a record used nothing (0); a level averages its readings.
    Without a baseline (no kept day before, or an average of 0) there is nothing to be
    "PCT % above": the rule is not evaluated, and says why.
    """
    days = [b for b in section.buckets if b.start == b.end]
    if len(days) != len(section.buckets) or not days or days[-1].start != window.end:
        raise Unreadable("the upstream reported this range per month: a day cannot be compared")
    last, before = days[-1], days[:-1]
    kept = [b for b in before if b.available]
    values = (
        [b.value for b in kept if b.value is not None]
        if section.is_level
        else [b.value or 0 for b in kept]
    )
    first, final = window.baseline
    if not values or not sum(values):
        raise Unreadable(
            f"no baseline: no usage was recorded from {first} to {final} to compare "
            f"{window.end} with"
        )
    if last.value is None and section.is_level:
        raise Unreadable(f"no reading was reported for {window.end}")
    day_value = last.value or 0
    average = sum(values) / len(values)
    pct = (day_value - average) / average * 100
    return Reading(
        round(pct, 1),
        query,
        day_value=day_value,
        baseline=average,
        baseline_days=len(values),
    )
