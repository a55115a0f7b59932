"""Staff pages: every account's AI minutes, one account's customers, pickers, exports, tenants."""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from clients.errors import UpstreamError
from clients.evovoice import NOT_CONFIGURED
from core.extensions import db, login_manager
from core.refresh_limits import refresh_retry_after, refresh_wait
from models import Tenant
from presenters.staff import (
    REFUSED_SCOPE,
    form_fields,
    page_title,
    present_staff,
    scope_label,
    sent_fields,
)
from services import tenancy
from services.filters import PRESETS, FilterError, StaffQuery, parse_staff_query
from services.shaping import up_to
from services.staff import StaffService, StaffView
from services.staff_growth import BucketMemo
from services.staff_series import SeriesMemo
from upstreams import upstreams

from .exports import csv_response
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
    buckets = current_app.extensions.setdefault("staff_buckets", BucketMemo())
    return StaffService(
        sources.evovoice, now=sources.http.clock, series_memo=memo, bucket_memo=buckets
    )


def _query() -> StaffQuery:
    """Parse the request's filters; raise FilterError."""
    return parse_staff_query(request.values, upstreams().http.clock().date())


def _parsed() -> StaffQuery:
    try:
        return _query()
    except FilterError as exc:
        abort(400, exc.message)


def _render(*, refresh: bool = False):
    context = {"presets": PRESETS, "args": request.values, "oob": wants_fragment()}
    try:
        query = _query()
    except FilterError as exc:
        fields = sent_fields(request.values)
        return page_or_fragment(
            *RESULTS,
            400,
            filter_error=exc,
            query=None,
            fields=fields,
            title=page_title(REFUSED_SCOPE),
            scope=REFUSED_SCOPE,
            **context,
        )
    view = _until_today(staff_service().view(query, refresh=refresh))
    return page_or_fragment(
        *RESULTS,
        view.status,
        query=query,
        params=query.params(),
        fields=form_fields(query, view),
        title=page_title(scope_label(query)),
        scope=scope_label(query),
        refresh_wait=refresh_wait(str(current_user.id)),
        **present_staff(view, upstreams().http.clock().date()),
        **context,
    )


def _until_today(view: StaffView) -> StaffView:
    """Days after today are not data: an upstream's zeros for them are shown as nothing yet."""
    today = upstreams().http.clock().date()
    if view.overview is not None:
        return replace(view, overview=view.overview.up_to(today))
    if view.series is None:
        return view
    return replace(
        view, series=replace(view.series, buckets=tuple(up_to(view.series.buckets, today)))
    )


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
    """Re-read EvoVoice for this view, bypassing the cache (a few times a minute).

    Over the limit the results stay on screen (read through the cache) with the Refresh
    button disabled for the wait, as on the usage page.
    """
    allowed = refresh_retry_after(str(current_user.id)) is None
    if is_htmx():
        return _render(refresh=allowed)
    query = _parsed()
    if allowed:
        staff_service().view(query, refresh=True)
    return redirect(url_for("staff.page", **query.params()), 303)


def _options(kind: str):
    query, service = _parsed(), staff_service()
    status, options = 200, []
    if service.evovoice is not None:
        read = service.account_options if kind == "account" else service.customer_options
        try:
            options = read(query)
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
    query, service = _parsed(), staff_service()
    if service.evovoice is None:
        abort(502, f"{NOT_CONFIGURED}.")
    read = service.account_rows if kind == "accounts" else service.customer_rows
    try:
        rows, freshness = read(query)
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
