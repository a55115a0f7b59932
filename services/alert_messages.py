"""What a fired alert says: an email (subject, text, HTML) and a webhook payload.

Each gives the number, the threshold, the window's dates and a link to the usage page
that shows the number. Every sentence is made here; the templates only lay it out (the
HTML one escapes all of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

from flask import render_template

from models import AlertRule
from presenters.alerts import amount, describe, source_noun
from services.alert_readings import Reading
from services.alert_windows import Window
from services.filters import UsageQuery


@dataclass(frozen=True)
class AlertMessage:
    """One firing's email and webhook body."""

    subject: str
    text: str
    html: str
    payload: dict[str, Any]


def dashboard_link(public_url: str, tenant: str, query: UsageQuery) -> str:
    """Return the usage page's URL for a query (staff need the tenant; customers ignore it)."""
    params = {"tenant": tenant, **query.params()}
    return f"{public_url.rstrip('/')}/usage?{urlencode(params)}"


def value_text(rule: AlertRule, value: float) -> str:
    """Say a reading short: "12,345", "on pace for 12,345", "+72 %"."""
    if rule.condition == "spike":
        return f"{value:+.0f} %"
    if rule.condition == "projected-above":
        return f"on pace for {amount(rule.source, value)}"
    return amount(rule.source, value)


def threshold_text(rule: AlertRule) -> str:
    """Say a rule's threshold: "10,000", "2.0 GB", "50 % above the 28-day average"."""
    if rule.condition == "spike":
        return f"{rule.threshold} % above the average day"
    return amount(rule.source, rule.threshold)


def span(start: date, end: date) -> str:
    """Say a span of days inside a sentence: "from 2026-12-01 to 2026-12-15", "on 2026-11-30"."""
    return f"on {start}" if start == end else f"from {start} to {end}"


def window_text(window: Window) -> str:
    """Say a window with its ISO dates (UTC)."""
    days = str(window.end) if window.start == window.end else f"{window.start} to {window.end}"
    if window.kind == "month":
        return f"{window.start:%B %Y} to date: {days} (UTC)"
    if window.kind == "7d":
        return f"the 7 days {days} (UTC)"
    return f"{days} (UTC)"


def _sentence(rule: AlertRule, tenant: str, window: Window, reading: Reading) -> str:
    noun = source_noun(rule.source)
    threshold = amount(rule.source, rule.threshold)
    if rule.condition == "projected-above":
        so_far = amount(rule.source, reading.so_far or 0)
        return (
            f"At this month's pace, {tenant}'s {noun} are on pace for "
            f"{amount(rule.source, reading.value)} by {reading.month_end}, above the threshold "
            f"of {threshold}: {so_far} so far, {span(window.start, window.end)}."
        )
    if rule.condition == "spike":
        first, last = window.baseline
        return (
            f"{tenant}'s {noun} reached {amount(rule.source, reading.day_value or 0)} on "
            f"{window.end}, {reading.value:.0f} % above the average day of "
            f"{amount(rule.source, reading.baseline or 0)} over the {reading.baseline_days} "
            f"days from {first} to {last}; the threshold is {rule.threshold} %."
        )
    return (
        f"{tenant}'s {noun} reached {amount(rule.source, reading.value)} "
        f"{span(window.start, window.end)}, above the threshold of {threshold}."
    )


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def compose(
    rule: AlertRule,
    tenant: str,
    window: Window,
    reading: Reading,
    fired_at: datetime,
    public_url: str,
) -> AlertMessage:
    """Make the email and the webhook payload of a rule that fired."""
    url = dashboard_link(public_url, tenant, reading.query)
    headline = describe(rule)
    context = {
        "tenant": tenant,
        "headline": headline,
        "sentence": _sentence(rule, tenant, window, reading),
        "facts": [
            ("Value", value_text(rule, reading.value)),
            ("Threshold", threshold_text(rule)),
            ("Window", window_text(window)),
            ("Tenant", tenant),
            ("Rule", f"{rule.id}, fired {fired_at:%Y-%m-%d %H:%M} UTC"),
        ],
        "url": url,
        "once": (
            "This rule tells you at most once per window: the next message comes in a later "
            "window, if it is reached again."
        ),
    }
    payload = {
        "type": "alert.fired",
        "tenant": tenant,
        "rule": {
            "id": rule.id,
            "source": rule.source,
            "window": rule.window,
            "condition": rule.condition,
            "threshold": rule.threshold,
        },
        "window": {
            "key": window.key,
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
        },
        "value": _number(reading.value),
        "threshold": rule.threshold,
        "url": url,
        "fired_at": fired_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    return AlertMessage(
        subject=f"Alert for {tenant}: {headline} ({value_text(rule, reading.value)})",
        text=render_template("mail/alert.txt", **context),
        html=render_template("mail/alert.html", **context),
        payload=payload,
    )
