"""A tenant's usage page, its htmx fragment, refresh and CSV exports."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import select

from clients.errors import UpstreamError
from core.extensions import db
from core.refresh_limits import refresh_retry_after, refresh_wait
from models import AlertRule, Tenant
from presenters.alerts import describe, progress
from presenters.kpi import compared_range, kpi_tiles
from presenters.usage import METRIC_LABELS, present_usage
from services import tenancy
from services.filters import AI_MINUTES, PRESETS, FilterError, UsageQuery, parse_query
from services.usage import NOT_CONFIGURED, TenantScope, UsageService
from services.usage_exports import ExportTable, metrics_table, minutes_table
from upstreams import upstreams

from .exports import csv_response
from .rendering import is_htmx, page_or_fragment, wants_fragment

bp = Blueprint("usage", __name__)

# The Metric filter's choices besides "All metrics": each isnotai metric, or AI minutes alone.
METRIC_CHOICES = {**METRIC_LABELS, AI_MINUTES: "AI minutes"}


def usage_service() -> UsageService:
    """Return the usage service over this app's clients."""
    sources = upstreams()
    return UsageService(sources.isnotai, sources.evovoice, now=sources.http.clock)


def _scope(tenant: Tenant) -> TenantScope:
    """Return what the tenant may read (decided in services.tenancy)."""
    return tenancy.scope_for(tenant, current_app.extensions["secret_box"])


def viewed_tenant() -> Tenant | None:
    """Return the tenant this login sees (decided in services.tenancy); refusals abort."""
    try:
        return tenancy.viewed_tenant(current_user, request.values.get("tenant", ""))
    except tenancy.ScopeRefused as exc:
        abort(exc.status, exc.message)


def link_params(query: UsageQuery, tenant: Tenant) -> dict[str, str]:
    """Return the query parameters that reproduce this view (staff also name the tenant)."""
    params = query.params()
    if current_user.is_staff:
        params["tenant"] = tenant.name
    return params


def alert_rules(tenant: Tenant) -> list[dict]:
    """Return the tenant's enabled rules and how far each is, from their last evaluation."""
    rules = db.session.scalars(
        select(AlertRule)
        .where(AlertRule.tenant_id == tenant.id, AlertRule.enabled)
        .order_by(AlertRule.id)
    )
    return [
        {"describe": describe(r), "progress": progress(r), "rule": r, "failed": bool(r.last_error)}
        for r in rules
    ]


def _today():
    return upstreams().http.clock().date()


def _render(tenant: Tenant, *, refresh: bool = False, push: bool = False) -> Response:
    context = {
        "tenant": tenant,
        "presets": PRESETS,
        "args": request.values,
        "metric_labels": METRIC_CHOICES,
        # Only the full page shows them: a swap of the results leaves them where they are.
        "alert_rules": [] if wants_fragment() else alert_rules(tenant),
    }
    today = _today()
    try:
        query = parse_query(request.values, today)
    except FilterError as exc:
        return page_or_fragment(
            "usage/page.html", "usage/_results.html", 400, filter_error=exc, query=None, **context
        )
    view = usage_service().view(_scope(tenant), query, refresh=refresh)
    query = view.query  # a default range may have been fitted to the plan's history
    presented = present_usage(view, today)
    response = page_or_fragment(
        "usage/page.html",
        "usage/_results.html",
        view.status,
        query=query,
        params=link_params(query, tenant),
        refresh_wait=refresh_wait(str(current_user.id)),
        kpi_tiles=kpi_tiles(presented["metric_charts"], presented["minutes_chart"]),
        compared=compared_range(query, today),
        **presented,
        **context,
    )
    if push and wants_fragment():
        # The form sends its dates beside a preset; the address bar gets the canonical URL,
        # which names a preset without dates, so that it still means that preset tomorrow.
        response.headers["HX-Push-Url"] = url_for("usage.page", **link_params(query, tenant))
    return response


@bp.get("/usage")
@login_required
def page():
    """Show a tenant's usage; staff without a tenant get the list to pick from."""
    tenant = viewed_tenant()
    if tenant is None:
        tenants = db.session.scalars(select(Tenant).order_by(Tenant.name)).all()
        return render_template("usage/choose_tenant.html", tenants=tenants)
    return _render(tenant, push=True)


@bp.post("/usage/refresh")
@login_required
def refresh():
    """Re-read the upstreams for this view, bypassing the cache (a few times a minute).

    Over the limit nothing bypasses the cache, but the answer is still the view: the
    results stay on screen with the Refresh button disabled for the wait, never replaced
    by a refusal. The status is the view's own (200 unless an upstream failed): what is
    answered is the results, and no 4xx ever costs an upstream read.
    """
    tenant = viewed_tenant()
    if tenant is None:
        abort(400, "Name a tenant to refresh.")
    allowed = refresh_retry_after(str(current_user.id)) is None
    if is_htmx():
        return _render(tenant, refresh=allowed)
    scope, query = _parsed(tenant)
    if allowed:
        usage_service().view(scope, query, refresh=True)
    return redirect(url_for("usage.page", **link_params(query, tenant)), 303)


def _parsed(tenant: Tenant) -> tuple[TenantScope, UsageQuery]:
    try:
        query = parse_query(request.values, _today())
    except FilterError as exc:
        abort(400, exc.message)
    return _scope(tenant), query


def _export_name(kind: str, tenant: Tenant, query: UsageQuery) -> str:
    return f"{tenant.name}-{kind}-{query.start}-{query.end}.csv"


def _export(kind: str, tenant: Tenant, table: ExportTable) -> Response:
    return csv_response(
        table.header, table.rows, _export_name(kind, tenant, table.query), freshness=table.freshness
    )


@bp.get("/usage/metrics.csv")
@login_required
def metrics_csv():
    """Export the metrics on screen: one row per bucket and metric."""
    tenant = viewed_tenant() or abort(400, "Name a tenant to export.")
    scope, query = _parsed(tenant)
    if not query.reads_metrics:
        abort(400, f"metric {AI_MINUTES} shows no API metrics: export /usage/ai-minutes.csv")
    if not scope.isnotai_key:
        abort(404, scope.problem or "This tenant has no isnotai integration.")
    try:
        table = metrics_table(usage_service(), scope, query, _today())
    except UpstreamError as exc:
        abort(exc.page_status, exc.message)
    return _export("metrics", tenant, table)


@bp.get("/usage/ai-minutes.csv")
@login_required
def ai_minutes_csv():
    """Export the AI minutes on screen: one row per bucket."""
    tenant = viewed_tenant() or abort(400, "Name a tenant to export.")
    scope, query = _parsed(tenant)
    if not scope.account_id:
        abort(404, "This tenant has no EvoVoice account.")
    if upstreams().evovoice is None:
        abort(502, NOT_CONFIGURED)
    try:
        table = minutes_table(usage_service(), scope, query, _today())
    except UpstreamError as exc:
        abort(exc.page_status, exc.message)
    return _export("ai-minutes", tenant, table)
