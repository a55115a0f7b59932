"""Widgets for a tenant's own site, in an iframe: authenticated by a token, never a cookie."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    make_response,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from core.extensions import db
from models import RevokedEmbedToken, Tenant
from services.embed_keys import find_key
from services.embed_tokens import EmbedGrant, TokenRefused, verify
from services.filters import PRESETS, FilterError, parse_query, preset_range
from services.usage import TenantScope
from upstreams import upstreams

from .presenters import present_usage
from .rendering import wants_fragment
from .usage import scope_for, usage_service

bp = Blueprint("embed", __name__, url_prefix="/embed")
log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Embed-Token"  # noqa: S105 - a header name
THEMES = ("auto", "light", "dark")


def request_token() -> str:
    """Return the token: a header on the widget's own htmx requests, else the URL's."""
    return (request.headers.get(TOKEN_HEADER) or request.args.get("token") or "").strip()


@bp.record_once
def _warn_about_the_retired_secret(state) -> None:
    if state.app.config["USAGE"].embed_secret:
        log.warning(
            "USAGE_EMBED_SECRET is retired and ignored: each tenant signs widget tokens with "
            "its own key now; get it with `flask --app app tenants embed-secret NAME`"
        )


def authorize(grant: EmbedGrant) -> Tenant:
    """Return the token's tenant, refusing revoked tokens."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.name == grant.tenant))
    if tenant is None:  # its key matched a moment ago: removed since
        raise TokenRefused(403, "This token names no tenant of this dashboard.")
    if grant.jti and db.session.scalar(
        select(RevokedEmbedToken.id).where(
            RevokedEmbedToken.tenant_id == tenant.id, RevokedEmbedToken.jti == grant.jti
        )
    ):
        raise TokenRefused(403, "This token has been revoked.")
    return tenant


def narrowed_scope(tenant: Tenant, grant: EmbedGrant) -> TenantScope:
    """Return the tenant's scope, narrowed (never widened) by the token's customerId."""
    scope = scope_for(tenant)
    if grant.customer_id is None or not scope.account_id:
        return scope
    if scope.customer_id is not None and scope.customer_id != grant.customer_id:
        raise TokenRefused(403, "This token asks for a customer outside the tenant's scope.")
    return TenantScope(
        name=scope.name,
        isnotai_key=scope.isnotai_key,
        isnotai_region=scope.isnotai_region,
        account_id=scope.account_id,
        customer_id=grant.customer_id,
        problem=scope.problem,
    )


def denied(error: TokenRefused) -> Response:
    """Answer a small widget page that says why, with no data."""
    response = make_response(
        render_template("embed/denied.html", message=error.message, theme="auto"), error.status
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.before_request
def check_token():
    """Verify the token of every widget request, htmx swaps included."""
    settings = current_app.config["USAGE"]
    box = current_app.extensions["secret_box"]
    try:
        grant = verify(
            request_token(),
            lambda kid: find_key(kid, box),
            max_ttl=timedelta(seconds=settings.embed_max_ttl),
        )
        g.embed_tenant = authorize(grant)
        g.embed_grant = grant
    except TokenRefused as error:
        return denied(error)
    return None


@dataclass(frozen=True)
class RangeLink:
    """One button of the range switcher: a plain link, and the URL htmx swaps from."""

    label: str
    href: str  # carries the token, for browsers without JavaScript
    swap: str  # without it: htmx sends the token as a header
    current: bool


def allowed_presets(grant: EmbedGrant) -> dict[str, str]:
    """Return the presets the range switcher offers under the token's locks."""
    if grant.preset:
        return {grant.preset: PRESETS[grant.preset]}
    if grant.max_days is None:
        return dict(PRESETS)
    today = upstreams().http.clock().date()
    allowed = {}
    for key, label in PRESETS.items():
        start, end = preset_range(key, today)
        if (end - start).days + 1 <= grant.max_days:
            allowed[key] = label
    return allowed


def range_links(kind: str, presets: dict[str, str], current: str, params: dict) -> list[RangeLink]:
    """Return the range switcher's links, keeping the widget's other parameters."""
    endpoint = "embed.ai_minutes" if kind == "ai-minutes" else "embed.metrics"
    return [
        RangeLink(
            label=label,
            href=url_for(endpoint, token=request_token(), preset=key, **params),
            swap=url_for(endpoint, preset=key, **params),
            current=key == current,
        )
        for key, label in presets.items()
    ]


def _widget(kind: str) -> Response:
    grant: EmbedGrant = g.embed_grant
    if grant.widget is not None and grant.widget != kind:
        return denied(TokenRefused(403, "This token is for a different widget."))
    presets = allowed_presets(grant)
    if not presets:
        return denied(TokenRefused(403, "This token allows no range the widget can show."))
    preset = (
        grant.preset
        or request.args.get("preset", "").strip().lower()
        or next((p for p in ("30d", "7d") if p in presets), next(iter(presets)))
    )
    theme = request.args.get("theme", "auto").strip().lower()
    params = {"theme": theme}
    if kind == "metrics" and grant.metric is None and request.args.get("metric"):
        params["metric"] = request.args["metric"]
    context = {
        "kind": kind,
        "token": request_token(),
        "range_links": range_links(kind, presets, preset, params),
    }
    try:
        if preset not in presets:
            raise FilterError("preset", f"preset must be one of {', '.join(presets)}")
        if theme not in THEMES:
            raise FilterError("theme", "theme must be light, dark or auto")
        metric = grant.metric or (request.args.get("metric") or "all")
        if kind == "ai-minutes":
            metric = "all"
        query = parse_query({"preset": preset, "metric": metric}, upstreams().http.clock().date())
    except FilterError as exc:
        return _respond(400, filter_error=exc, theme="auto", query=None, **context)
    scope = narrowed_scope(g.embed_tenant, grant)
    if kind == "metrics":
        scope = TenantScope(
            scope.name, scope.isnotai_key, scope.isnotai_region, problem=scope.problem
        )
    else:
        scope = TenantScope(scope.name, account_id=scope.account_id, customer_id=scope.customer_id)
    view = usage_service().view(scope, query)
    return _respond(
        view.status,
        theme=theme,
        query=query,
        **present_usage(view),
        **context,
    )


def _respond(status: int, **context) -> Response:
    template = "embed/_widget.html" if wants_fragment() else "embed/page.html"
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/metrics")
def metrics():
    """One isnotai metric, or all five as small multiples."""
    try:
        return _widget("metrics")
    except TokenRefused as error:
        return denied(error)


@bp.get("/ai-minutes")
def ai_minutes():
    """AI minutes over time with the range total."""
    try:
        return _widget("ai-minutes")
    except TokenRefused as error:
        return denied(error)
