"""Turn a StaffView into what the staff templates print: cards, ranking charts, tables, fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from flask import url_for

from services.filters import DEFAULT_SORT, MAX_ID, MAX_SEARCH, SORTS

from .charts import COUNT_AXIS, Chart, TableRow, series_figure
from .formatting import ONGOING, change_text, period_label, thousands
from .staff_charts import ranking_figure

if TYPE_CHECKING:
    from services.filters import StaffQuery
    from services.staff import Ranking, StaffView


@dataclass(frozen=True)
class Column:
    """A table heading; sortable ones link to their sort."""

    label: str
    url: str | None = None
    aria_sort: str | None = None  # ascending / descending while the table is sorted by it


@dataclass(frozen=True)
class RowView:
    """One printed table row; url drills down into the account or customer."""

    id: str
    url: str | None
    minutes: str
    share: str


@dataclass(frozen=True)
class TableView:
    """A sortable, paged table of accounts or customers."""

    id: str
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[RowView, ...]
    summary: str
    notice: str | None
    pages: dict[str, str | None]  # first / previous / next / last → URL, None when not there


@dataclass(frozen=True)
class UnknownView:
    """An id EvoVoice does not list in the range, with links to the closest ids it does."""

    kind: str  # "account" or "customer"
    id: str
    suggestions: tuple[tuple[str, str], ...]  # (id, URL of its view)


@dataclass(frozen=True)
class RankingChart:
    """The top N bars and the rest in one, with the same numbers as a table."""

    id: str
    title: str
    label: str  # what a bar is: Account or Customer
    figure: dict  # Plotly figure data; the template embeds it with `tojson`
    has_data: bool
    rows: tuple[RowView, ...]


def _link(query: StaffQuery, **changes) -> str:
    return url_for("staff.page", **query.replace(**changes).params())


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _row(query: StaffQuery, row) -> RowView:
    url = _link(
        query, account=row.account_id, customer=row.customer_id, q="", sort=DEFAULT_SORT, page=1
    )
    return RowView(row.id, url, thousands(row.ai_minutes), _share(row.share))


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def _ranking_chart(chart_id: str, title: str, ranking: Ranking, noun: str, query) -> RankingChart:
    rows = tuple(_row(query, r) for r in ranking.top)
    if ranking.other_count:
        rest = f"{_plural(ranking.other_count, 'other ' + noun)}"
        rows += (RowView(rest, None, thousands(ranking.other), _share(ranking.other_share)),)
    return RankingChart(
        id=chart_id,
        title=title,
        label=noun.capitalize(),
        figure=ranking_figure(ranking.top, ranking.other, ranking.other_count, noun),
        has_data=ranking.sum > 0,
        rows=rows,
    )


_ARIA = {"id": "ascending", "-id": "descending", "minutes": "ascending", "-minutes": "descending"}


def _table(query: StaffQuery, ranking: Ranking, noun: str) -> TableView:
    page = ranking.table
    by_id, by_minutes = query.sort.endswith("id"), query.sort.endswith("minutes")
    columns = (
        Column(
            noun.capitalize(),
            _link(query, sort="-id" if query.sort == "id" else "id", page=1),
            _ARIA[query.sort] if by_id else None,
        ),
        Column(
            "AI minutes",
            _link(query, sort="minutes" if query.sort == "-minutes" else "-minutes", page=1),
            _ARIA[query.sort] if by_minutes else None,
        ),
        Column("Share"),
    )
    found = f" matching “{query.q}”" if query.q else ""
    if page.rows:
        last = page.first + len(page.rows) - 1
        summary = f"{page.first:,}–{last:,} of {page.matching:,} {noun}s{found}"
    else:
        summary = f"No {noun}s{found}"
    if query.q:
        summary += f" (of {ranking.count:,})"
    notice = None
    if page.clamped:
        notice = f"There is no page {page.requested:,}; showing the last page, {page.number:,}."

    def to(number: int, show: bool) -> str | None:
        return _link(query, page=number) if show else None

    return TableView(
        id=f"staff-{noun}s",
        caption=f"{noun.capitalize()}s by AI minutes",
        columns=columns,
        rows=tuple(_row(query, r) for r in page.rows),
        summary=f"{summary} · page {page.number:,} of {page.pages:,}",
        notice=notice,
        pages={
            "first": to(1, page.number > 2),
            "previous": to(page.number - 1, page.number > 1),
            "next": to(page.number + 1, page.number < page.pages),
            "last": to(page.pages, page.number < page.pages - 1),
        },
    )


def _series_chart(view: StaffView, ongoing: bool) -> Chart:
    series = view.series
    buckets = list(series.buckets)
    return Chart(
        id="staff-series",
        title="AI minutes",
        figure=series_figure("AI minutes", buckets, None, line=False, unit_axis=COUNT_AXIS),
        rows=[TableRow(period_label(b), thousands(b.value), None) for b in buckets],
        total=thousands(series.total),
        total_label="in the range so far" if ongoing else "in the range",
        change=change_text(None, ONGOING) if ongoing else change_text(series.change),
        projection=None if series.projection is None else thousands(series.projection),
        has_data=series.has_data,
        compare=False,
    )


def _unknown(view: StaffView) -> UnknownView | None:
    unknown, query = view.unknown, view.query
    if unknown is None:
        return None
    fresh = {"q": "", "sort": DEFAULT_SORT, "page": 1}
    if unknown.kind == "account":
        links = [_link(query, account=i, customer=None, **fresh) for i in unknown.suggestions]
    else:
        links = [_link(query, customer=i, **fresh) for i in unknown.suggestions]
    return UnknownView(
        unknown.kind, unknown.id, tuple(zip(unknown.suggestions, links, strict=True))
    )


def present_staff(view: StaffView, today: date | None = None) -> dict:
    """Return the template context for a staff view: only what is shown; with `today`, a
    range that reaches past it is said to be still running."""
    query = view.query
    ongoing = today is not None and query.range.end > today
    context: dict = {
        "view": view,
        "top_chart": None,
        "table": None,
        "series_chart": None,
        "all_accounts_url": _link(
            query, account=None, customer=None, q="", sort=DEFAULT_SORT, page=1
        ),
        "account_url": _link(query, customer=None, q="", sort=DEFAULT_SORT, page=1),
        "unknown": _unknown(view),
        "ongoing": ongoing,
    }
    if view.overview is not None:
        overview = view.overview
        context["total"] = thousands(overview.total)
        context["change"] = change_text(None, ONGOING) if ongoing else change_text(overview.change)
        context["projection"] = (
            None if overview.projection is None else thousands(overview.projection)
        )
        context["top_chart"] = _ranking_chart(
            "staff-accounts", "Top accounts", overview.accounts, "account", query
        )
        context["table"] = _table(query, overview.accounts, "account")
    if view.series is not None:
        context["series_chart"] = _series_chart(view, ongoing)
    if view.customers is not None:
        context["top_chart"] = _ranking_chart(
            "staff-customers", "Top customers", view.customers, "customer", query
        )
        context["table"] = _table(query, view.customers, "customer")
    return context


def sent_fields(args: Mapping[str, str]) -> dict:
    """Return the form's fields as sent, within the limits: for filters that did not parse."""
    return {
        "account": args.get("account", "")[:MAX_ID],
        "customer": args.get("customer", "")[:MAX_ID],
        "q": args.get("q", "")[:MAX_SEARCH],
        "sort": args.get("sort") if args.get("sort") in SORTS else DEFAULT_SORT,
        "account_options": (),
        "customer_options": (),
    }


def form_fields(query: StaffQuery, view: StaffView) -> dict:
    """Return the values of the form's account, customer, search and sort fields."""
    accounts = view.overview.accounts.top if view.overview else ()
    customers = view.customers.top if view.customers else ()
    return {
        "account": query.account or "",
        "customer": query.customer or "",
        "q": query.q,
        "sort": query.sort,
        "account_options": tuple(r.account_id for r in accounts),
        "customer_options": tuple(r.customer_id for r in customers),
    }
