"""Turn a UsageView into what the templates print: figures, tables and formatted cards."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from services.shaping import last_value, up_to

from .charts import (
    BYTES_AXIS,
    COUNT_AXIS,
    Chart,
    TableRow,
    bucket_note,
    pace_of,
    rounding_note,
    series_figure,
)
from .formatting import (
    NO_PREVIOUS,
    NOTHING_OVER,
    ONGOING,
    bytes_column,
    change_text,
    human_bytes,
    period_label,
    span_label,
    thousands,
)
from .staff import ranking_chart

if TYPE_CHECKING:
    from services.filters import UsageQuery
    from services.shaping import Bucket
    from services.usage import MetricsSection, MinutesSection, UsageView

METRIC_LABELS = {
    "ApiCalls": "API calls",
    "Events": "Events",
    "Sessions": "Sessions",
    "StorageBytes": "Storage",
    "BotAnalyses": "Bot analyses",
}
# A title inside a sentence: lower case, but an acronym keeps its capitals.
METRIC_NOUNS = {
    "ApiCalls": "API calls",
    "Events": "events",
    "Sessions": "sessions",
    "StorageBytes": "storage",
    "BotAnalyses": "bot analyses",
}
NOT_YET = "not yet"
NOT_ON_YOUR_PLAN = "not available on your plan"


def not_on_plan(tier: str | None) -> str:
    """Say that days are before the plan's history, naming the plan when isnotai did."""
    return f"not available on the {tier.capitalize()} plan" if tier else NOT_ON_YOUR_PLAN


def _cell(bucket: Bucket | None, fmt, today: date | None, missing: str) -> str:
    if bucket is not None and today is not None and bucket.start > today:
        return NOT_YET
    if bucket is not None and not bucket.available:
        return missing
    return fmt(bucket.value if bucket else None)


def _rows(buckets, previous, fmt, today, granularity, missing, kept_from=None) -> list[TableRow]:
    rows = []
    for index, bucket in enumerate(buckets):
        before = previous[index] if previous is not None and index < len(previous) else None
        rows.append(
            TableRow(
                period_label(bucket),
                _cell(bucket, fmt, today, missing),
                None if previous is None else _cell(before, fmt, today, missing),
                bucket_note(bucket, granularity, today, kept_from),
            )
        )
    return rows


def _total_label(level: bool, running: bool, kept_from: date | None = None) -> str:
    """Name a total; while the range holds today (not over) it is a latest reading, or a
    total so far; a flow whose first days the plan does not keep totals the days it does."""
    if level:
        return "at the latest reading" if running else "at the end of the range"
    days = f"from {kept_from.isoformat()}, the first day the plan keeps," if kept_from else ""
    said = f"in the range {days}".strip()
    return f"{said} so far" if running else said


def _previous_span(query: UsageQuery) -> str:
    """Name the previous range as the query defines it: the one rule its reads follow too."""
    return span_label(query.previous_start, query.previous_end)


def _against(query: UsageQuery, today: date | None, level: bool) -> tuple[str, str] | None:
    """Name what a change compares, with a note on why only part of it: a flow's previous
    range, or its whole days while the range holds today (`UsageQuery.compared`), None while
    no day of the range is over; a level's reading on the same day back as its own latest
    (today's, or the range's end)."""
    if level:
        day = query.previous_end if today is None else query.reading_compared(today)
        return f"the reading of {day.isoformat()}", ""
    if today is None:
        return _previous_span(query), ""
    comparison = query.compared(today)
    if comparison is None:
        return None
    if not comparison.cut:
        return _previous_span(query), ""
    span = span_label(comparison.previous_start, comparison.previous_end)
    return span, comparison.describe()


def _chart(
    chart_id,
    title,
    buckets,
    previous,
    *,
    query,
    noun,
    granularity,
    level,
    bytes_unit,
    total,
    change,
    projection,
    today=None,
    no_change=NO_PREVIOUS,
    missing=None,
    kept_from=None,
):
    missing = missing or NOT_ON_YOUR_PLAN
    # A range reaching past today: its later buckets are not data yet, and a level's total
    # is its latest reading, not whatever an upstream put on a day still to come.
    ongoing = today is not None and bool(buckets) and buckets[-1].end > today
    if today is not None:
        buckets = up_to(buckets, today)
    if ongoing and level:
        total = last_value(buckets)  # the service compares it with the same day back
    compared = _against(query, today, level)
    if compared is None:
        change, no_change, compared = None, NOTHING_OVER, ("", "")
    # Bytes down a column share the largest value's unit, with decimals enough to move.
    fmt = bytes_column(b.value for b in [*buckets, *(previous or [])]) if bytes_unit else thousands
    card_fmt = human_bytes if bytes_unit else thousands
    before = _previous_span(query)
    note = ""
    if previous and not any(b.available for b in previous):
        # The plan keeps none of the previous range: a legend entry with nothing drawn and a
        # column of "not available" would only repeat this, once per row.
        previous, note = None, f"The previous range, {before}, is {missing}: nothing to compare."
    figure = series_figure(
        span_label(query.start, query.end) if previous is not None else title,
        buckets,
        previous,
        line=level,
        unit_axis=BYTES_AXIS if bytes_unit else COUNT_AXIS,
        granularity=granularity,
        today=today,
        previous_label=f"previous: {before}",
        fmt=fmt,
    )
    unavailable = bool(buckets) and not any(b.available for b in buckets)
    return Chart(
        id=chart_id,
        title=title,
        figure=figure,
        rows=_rows(buckets, previous, fmt, today, granularity, missing, kept_from),
        total=card_fmt(total),
        total_label=_total_label(
            level,
            today is not None and query.end >= today,
            kept_from if kept_from is not None and kept_from > query.start else None,
        ),
        change=change_text(change, no_change, *compared),
        pace=None if level else pace_of(projection, noun, card_fmt),
        has_data=any(b.value is not None for b in buckets),
        compare=previous is not None,
        previous_label=f"Previous: {before}",
        note=note,
        empty=f"The days of this range are {missing}: they are before the history the plan keeps."
        if unavailable
        else f"No {noun} recorded in this range.",
    )


def _metric_chart(panel, chart_id: str, today: date | None, view: UsageView) -> Chart:
    section = view.metrics
    missing = not_on_plan(section.tier if section else None)
    per_month = section is not None and section.per_month
    return _chart(
        chart_id,
        METRIC_LABELS.get(panel.metric, panel.metric),
        panel.buckets,
        panel.previous,
        query=view.query,
        noun=METRIC_NOUNS.get(panel.metric, panel.metric),
        granularity="month" if per_month else view.query.granularity,
        level=panel.is_level,
        bytes_unit=panel.metric == "StorageBytes",
        total=panel.total,
        change=panel.change,
        projection=panel.projection,
        today=today,
        no_change=f"no comparison: days of the previous range are {missing}"
        if panel.previous_cut
        else ONGOING
        if per_month and panel.compared == (None, None)
        else NO_PREVIOUS,
        missing=missing,
        kept_from=section.available_from if section else None,
    )


def metric_notices(section: MetricsSection) -> list[str]:
    """Return what the page must say about the isnotai numbers before showing them."""
    notices = []
    if section.per_month:
        notices.append(
            "isnotai reports this range per month, so it is shown in months: "
            "a finer granularity is not available."
        )
    # "the Pro plan" within a sentence, "The Pro plan" opening one.
    plan = f"the {section.tier.capitalize()} plan" if section.tier else "your plan"
    if section.available_from is not None:
        notices.append(
            f"{plan[0].upper()}{plan[1:]} keeps history from "
            f"{section.available_from.isoformat()}: days before that are "
            f"{not_on_plan(section.tier)}, which is not the same as 0."
        )
    elif section.history_start and any(p.previous_cut for p in section.panels):
        notices.append(
            "The metrics show no change: the previous range starts before "
            f"{section.history_start.isoformat()}, the first day {plan} keeps."
        )
    return notices


def minutes_notice(section: MinutesSection, today: date | None = None) -> str | None:
    """Return what the AI-minutes section says above its numbers, if anything."""
    if section.total is None:
        # EvoVoice listed no record: not the same as a record of 0 minutes.
        who = (
            f"customer {section.customer_id}"
            if section.customer_id
            else f"account {section.account_id}"
        )
        return f"No usage recorded for {who} in this range."
    if not section.has_data:
        return "No AI minutes were used in this range."
    return rounding_note(section.total, section.buckets, today) or None


def present_usage(view: UsageView, today: date | None = None) -> dict:
    """Return the template context for a usage view; with `today`, later days are not data."""
    metric_charts, other_charts, notices = [], [], []
    if view.metrics is not None and view.metrics.error is None:
        section = view.metrics
        metric_charts = [_metric_chart(p, f"chart-{p.metric}", today, view) for p in section.panels]
        # Upstream names are hostile text: the chart id is by position, the title escaped.
        other_charts = [
            _metric_chart(p, f"chart-other-{index}", today, view)
            for index, p in enumerate(section.other_panels, start=1)
        ]
        notices = metric_notices(section)
    minutes_chart = customers_chart = None
    if view.minutes is not None and view.minutes.error is None:
        section = view.minutes
        minutes_chart = _chart(
            "chart-ai-minutes",
            "AI minutes",
            section.buckets,
            section.previous,
            query=view.query,
            noun="AI minutes",
            granularity=view.query.granularity,
            level=False,
            bytes_unit=False,
            total=section.total,
            change=section.change,
            projection=section.projection,
            today=today,
        )
        if section.customers is not None:
            customers = section.customers
            customers_chart = ranking_chart(
                "chart-ai-minutes-customers",
                "AI minutes by customer",
                customers,
                "customer",
                note=""
                if customers.sum == section.total
                else f"EvoVoice rounds each record: its customers add up to {customers.sum:,} "
                f"minutes, the account's own total is {thousands(section.total)}.",
            )
    return {
        "view": view,
        "metric_charts": metric_charts,
        "other_metric_charts": other_charts,
        "metric_notices": notices,
        "minutes_chart": minutes_chart,
        "minutes_notice": minutes_notice(view.minutes, today) if minutes_chart else None,
        "customers_chart": customers_chart,
    }
