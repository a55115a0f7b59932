"""Staff pages: every account's AI minutes, one account's customers, pickers, exports, tenants."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from clients.errors import UpstreamError
from core.extensions import db, login_manager
from core.refresh_limits import refresh_retry_after
from models import Tenant
from services import tenancy
from services.charts import COUNT_AXIS, embeddable, series_figure
from services.filters import (
    DEFAULT_SORT,
    MAX_ID,
    MAX_SEARCH,
    PRESETS,
    SORTS,
    FilterError,
    StaffQuery,
    parse_staff_query,
)
from services.staff import Ranking, StaffService, StaffView
from services.staff_charts import ranking_figure
from services.staff_series import SeriesMemo
from upstreams import upstreams

from .exports import csv_response
from .formatting import signed_pct, thousands
from .presenters import Chart, TableRow
from .rendering import is_htmx, page_or_fragment, wants_fragment

bp = Blueprint("staff", __name__, url_prefix="/staff")

RESULTS = ("staff/page.html", "staff/_results.html")


@bp.before_request
def staff_only():
    """Let only staff in: others get 403 (signed out: the sign-in page, or HX-Redirect)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    try:
        tenancy.require_staff(current_user)
    except tenancy.ScopeRefused as exc:
        abort(exc.status, exc.message)
    return None


def staff_service() -> StaffService:
    """Return the staff service over this app's EvoVoice client and series memo."""
    sources = upstreams()
    memo = current_app.extensions.setdefault("staff_series", SeriesMemo())
    return StaffService(sources.evovoice, now=sources.http.clock, series_memo=memo)


def _query() -> StaffQuery:
    """Parse the request's filters; raise FilterError."""
    return parse_staff_query(request.values, upstreams().http.clock().date())


def _parsed() -> StaffQuery:
    try:
        return _query()
    except FilterError as exc:
        abort(400, exc.message)


# -- presenting ----------------------------------------------------------------------------


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
class RankingChart:
    """The top N bars and the rest in one, with the same numbers as a table."""

    id: str
    title: str
    label: str  # what a bar is: Account or Customer
    figure: Markup
    has_data: bool
    rows: tuple[RowView, ...]


def _link(query: StaffQuery, **changes) -> str:
    return url_for("staff.page", **query.replace(**changes).params())


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _change(value: float | None) -> str:
    if value is None:
        return "no data for the previous range"
    return f"{signed_pct(value)} vs previous range"


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
    figure = ranking_figure(ranking.top, ranking.other, ranking.other_count, noun)
    return RankingChart(
        id=chart_id,
        title=title,
        label=noun.capitalize(),
        figure=embeddable(figure),
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


def _period(bucket) -> str:
    if bucket.start == bucket.end:
        return bucket.start.isoformat()
    return f"{bucket.start.isoformat()} – {bucket.end.isoformat()}"


def _series_chart(view: StaffView) -> Chart:
    series = view.series
    buckets = list(series.buckets)
    figure = series_figure("AI minutes", buckets, None, line=False, unit_axis=COUNT_AXIS)
    return Chart(
        id="staff-series",
        title="AI minutes",
        figure=embeddable(figure),
        rows=[TableRow(_period(b), thousands(b.value), None) for b in buckets],
        total=thousands(series.total),
        total_label="in the range",
        change=_change(series.change),
        projection=None if series.projection is None else thousands(series.projection),
        has_data=series.has_data,
        compare=False,
    )


def present_staff(view: StaffView) -> dict:
    """Return the template context for a staff view: only what is shown."""
    query = view.query
    context: dict = {
        "view": view,
        "top_chart": None,
        "table": None,
        "series_chart": None,
        "all_accounts_url": _link(
            query, account=None, customer=None, q="", sort=DEFAULT_SORT, page=1
        ),
        "account_url": _link(query, customer=None, q="", sort=DEFAULT_SORT, page=1),
    }
    if view.overview is not None:
        overview = view.overview
        context["total"] = thousands(overview.total)
        context["change"] = _change(overview.change)
        context["projection"] = (
            None if overview.projection is None else thousands(overview.projection)
        )
        context["top_chart"] = _ranking_chart(
            "staff-accounts", "Top accounts", overview.accounts, "account", query
        )
        context["table"] = _table(query, overview.accounts, "account")
    if view.series is not None:
        context["series_chart"] = _series_chart(view)
    if view.customers is not None:
        context["top_chart"] = _ranking_chart(
            "staff-customers", "Top customers", view.customers, "customer", query
        )
        context["table"] = _table(query, view.customers, "customer")
    return context


def _fields(query: StaffQuery | None, view: StaffView | None = None) -> dict:
    """Return the values of the form's account, customer, search and sort fields."""
    if query is None:  # the filters did not parse: show what was sent, within the limits
        args = request.values
        return {
            "account": args.get("account", "")[:MAX_ID],
            "customer": args.get("customer", "")[:MAX_ID],
            "q": args.get("q", "")[:MAX_SEARCH],
            "sort": args.get("sort") if args.get("sort") in SORTS else DEFAULT_SORT,
            "account_options": (),
            "customer_options": (),
        }
    accounts = view.overview.accounts.top if view and view.overview else ()
    customers = view.customers.top if view and view.customers else ()
    return {
        "account": query.account or "",
        "customer": query.customer or "",
        "q": query.q,
        "sort": query.sort,
        "account_options": tuple(r.account_id for r in accounts),
        "customer_options": tuple(r.customer_id for r in customers),
    }


def _render(*, refresh: bool = False):
    context = {"presets": PRESETS, "args": request.values, "oob": wants_fragment()}
    try:
        query = _query()
    except FilterError as exc:
        return page_or_fragment(
            *RESULTS, 400, filter_error=exc, query=None, fields=_fields(None), **context
        )
    view = staff_service().view(query, refresh=refresh)
    return page_or_fragment(
        *RESULTS,
        view.status,
        query=query,
        params=query.params(),
        fields=_fields(query, view),
        **present_staff(view),
        **context,
    )


# -- routes --------------------------------------------------------------------------------


@bp.get("")
def page():
    """Show every account's AI minutes, or one account's customers, or one customer."""
    response = _render()
    if response.status_code != 400 and wants_fragment():
        # The form sends its empty fields too; the address bar gets the canonical URL.
        response.headers["HX-Push-Url"] = url_for("staff.page", **_query().params())
    return response


@bp.post("/refresh")
def refresh():
    """Re-read EvoVoice for this view, bypassing the cache (a few times a minute)."""
    wait = refresh_retry_after(str(current_user.id))
    if wait is not None:
        abort(429, f"Refreshed too often; try again in {wait} s. The data shown is still current.")
    if is_htmx():
        return _render(refresh=True)
    query = _parsed()
    staff_service().view(query, refresh=True)
    return redirect(url_for("staff.page", **query.params()), 303)


def _options(kind: str):
    query = _parsed()
    service = staff_service()
    status, options = 200, []
    if service.evovoice is not None:
        try:
            if kind == "account":
                options = service.account_options(query)
            else:
                options = service.customer_options(query)
        except UpstreamError as exc:
            status = exc.page_status
    return render_template("staff/_options.html", options=options), status


@bp.get("/accounts/options")
def account_options():
    """Return at most 20 <option>s of account ids containing `q` (busiest first)."""
    return _options("account")


@bp.get("/customers/options")
def customer_options():
    """Return at most 20 <option>s of customer ids (of `account`, if given) containing `q`."""
    return _options("customer")


def _export(kind: str, header: tuple[str, ...]):
    query = _parsed()
    service = staff_service()
    if service.evovoice is None:
        abort(502, "EvoVoice is not configured.")
    try:
        rows, freshness = (
            service.account_rows(query) if kind == "accounts" else service.customer_rows(query)
        )
    except UpstreamError as exc:
        abort(exc.page_status, exc.message)
    name = f"staff-{kind}-{query.range.start}-{query.range.end}.csv"
    return csv_response(header, rows, name, freshness=freshness)


@bp.get("/accounts.csv")
def accounts_csv():
    """Export every account row of the accounts table (all pages), honouring account and q."""
    return _export("accounts", ("account_id", "ai_minutes"))


@bp.get("/customers.csv")
def customers_csv():
    """Export every customer row in scope (all pages), honouring account, customer and q."""
    return _export("customers", ("account_id", "customer_id", "ai_minutes"))


@bp.get("/tenants")
def tenants():
    """List every tenant, its sources, and links to its dashboard as staff see it."""
    rows = db.session.scalars(select(Tenant).order_by(Tenant.name)).all()
    return render_template("staff/tenants.html", tenants=rows)
