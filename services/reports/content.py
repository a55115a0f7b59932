"""What a report says: a tenant's usage over one whole period, read and worded as /usage does.

A report reads through the tenant's own scope (services.tenancy) and the usage service, as
the page does, and says each total and change in the page's words (presenters.usage), so an
email never disagrees with the dashboard link it carries.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app, render_template
from markupsafe import Markup, escape

from presenters.formatting import _UNBROKEN as UNBROKEN  # the page's rule, used as it is
from presenters.kpi import change_direction, change_words
from presenters.usage import metric_notices, minutes_notice, present_usage
from services.filters import UsageQuery
from services.tenancy import scope_for
from services.usage import UsageService, UsageView
from upstreams import upstreams

from .periods import Period, parse_period_key

if TYPE_CHECKING:
    from models import Tenant


class ReportUnavailable(Exception):
    """The report cannot be made now (an upstream read failed, or there is nothing to read)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class SourceLine:
    """One source's total over the period and its change, in the page's words."""

    title: str  # "API calls", "AI minutes"
    total: str  # "1,234", "1.23 GB"
    total_label: str  # "in the range", "at the end of the range"
    change: str  # "+12 % vs" the previous dates, or why there is no change
    direction: str  # up | down | flat | none

    @property
    def arrow(self) -> str:
        """Return the arrow printed beside the change."""
        return {"up": "▲", "down": "▼"}.get(self.direction, "")


@dataclass(frozen=True)
class CustomerLine:
    """One of the top customers by AI minutes, or the rest in one line."""

    rank: int | None  # None: every other customer, summed
    id: str
    minutes: str
    share: str


@dataclass(frozen=True)
class Report:
    """A report as sent: its subject and both bodies, and what they were made from."""

    tenant: str
    period: Period
    subject: str
    text: str
    html: str
    link: str
    sources: tuple[SourceLine, ...]
    customers: tuple[CustomerLine, ...]  # empty unless the tenant is a whole EvoVoice account
    notices: tuple[str, ...]


def period_query(period: Period) -> UsageQuery:
    """Return the /usage query of a period: a week by day (compared with the week before), a
    month by month (compared with as many days just before, as the page compares by month)."""
    granularity = "day" if period.kind == "week" else "month"
    return UsageQuery(period.start, period.end, None, "all", granularity, "none", False)


def report_link(tenant_name: str, query: UsageQuery) -> str:
    """Return the dashboard URL of the query, under USAGE_PUBLIC_URL.

    It names the tenant: staff need it; a customer's login ignores it and sees its own.
    """
    params = {**query.params(), "tenant": tenant_name}
    path = current_app.url_map.bind("localhost").build("usage.page", params)
    return current_app.config["USAGE"].public_url.rstrip("/") + path


def printable(text: str) -> str:
    """Show text for a plain-text mail with control and separator characters escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def nowrap(text: str) -> Markup:
    """Escape text for the HTML mail, keeping each date and figure on one line: the page's
    rule (`unbroken`), with an inline style, since mail readers drop style sheets."""
    pieces = UNBROKEN.split(text)  # the dates and figures are the odd pieces
    return Markup("").join(
        Markup('<span style="white-space:nowrap;">{}</span>').format(piece)
        if odd % 2
        else escape(piece)
        for odd, piece in enumerate(pieces)
    )


def read_period(tenant: Tenant, period: Period, now: datetime | None = None) -> UsageView:
    """Read the tenant's usage over the period as /usage would show it; refuse a partial view.

    Saved data standing in for a failed read is refused too: a report is sent once, so it
    waits for a run that reads the upstreams.
    """
    sources = upstreams()
    scope = scope_for(tenant, current_app.extensions["secret_box"])
    if scope.problem:
        raise ReportUnavailable(f"the isnotai key cannot be read: {scope.problem}")
    if sources.evovoice is None:  # no EvoVoice credential: AI minutes are left out
        scope = replace(scope, account_id=None, customer_id=None)
    if not (scope.isnotai_key or scope.account_id):
        raise ReportUnavailable("the tenant has neither an isnotai integration nor AI minutes")
    moment = now or sources.http.clock()
    service = UsageService(sources.isnotai, sources.evovoice, now=lambda: moment)
    view = service.view(scope, period_query(period))
    if view.errors:
        raise ReportUnavailable("; ".join(str(error) for error in view.errors))
    if view.freshness.stale:
        raise ReportUnavailable(
            "only saved data could be read (" + "; ".join(view.freshness.stale_reasons) + ")"
        )
    return view


def build_report(
    tenant: Tenant, kind: str, period: Period | str, *, now: datetime | None = None
) -> Report:
    """Read and word the tenant's report for a period (a Period, or its key: 2026-W48)."""
    if isinstance(period, str):
        period = parse_period_key(kind, period)
    if period.kind != kind:
        raise ValueError(f"{period.key} is not a {kind}")
    moment = now or upstreams().http.clock()
    view = read_period(tenant, period, moment)
    presented = present_usage(view, moment.date())
    charts = [
        *presented["metric_charts"],
        *presented["other_metric_charts"],
        *([presented["minutes_chart"]] if presented["minutes_chart"] else []),
    ]
    sources = tuple(
        SourceLine(
            chart.title,
            chart.total,
            chart.total_label.rstrip(","),  # the card's label runs on into its figure
            change_words(chart.change),
            change_direction(chart.change),
        )
        for chart in charts
    )
    customers: tuple[CustomerLine, ...] = ()
    if presented["customers_chart"] is not None:
        chart = presented["customers_chart"]
        top = len(view.minutes.customers.top) if view.minutes and view.minutes.customers else 0
        customers = tuple(
            CustomerLine(index if index <= top else None, row.id, row.minutes, row.share)
            for index, row in enumerate(chart.rows, start=1)
        )
    notices = list(metric_notices(view.metrics)) if view.metrics is not None else []
    minutes = view.minutes
    if minutes is not None and (minutes.total is None or not minutes.has_data):
        notices.append(minutes_notice(minutes) or "")
    said = tuple(notice for notice in notices if notice)
    link = report_link(tenant.name, view.query)
    subject = f"Usage report for {tenant.name}: {period.label}"
    context = {
        "tenant": tenant.name,
        "period": period,
        "sources": sources,
        "customers": customers,
        "notices": said,
        "link": link,
        "subject": subject,
    }
    text = render_template(
        "mail/report.txt",
        **context,
        text_customers=[replace(c, id=printable(c.id)) for c in customers],
        text_notices=[printable(notice) for notice in said],
    )
    html = render_template("mail/report.html", **context, nowrap=nowrap)
    return Report(
        tenant.name,
        period,
        subject,
        text,
        html,
        link,
        sources,
        customers,
        said,
    )
