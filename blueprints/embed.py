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

from clients.errors import BudgetExceeded
from presenters.usage import present_usage
from services import tenancy
from services.embed_keys import find_key
from services.embed_tokens import EmbedGrant, TokenRefused, verify
from services.filters import FilterError, parse_widget_query, widget_ask
from services.usage import UsageService
from upstreams import upstreams

from .rendering import wants_fragment

bp = Blueprint("embed", __name__, url_prefix="/embed")
log = logging.getLogger(__name__)

TOKEN_HEADER = "X-Embed-Token"  # noqa: S105 - a header name


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


# Where the widget's own htmx requests put a refusal: a status line beside the chart, so the
# numbers already on screen stay (see static/embed.js and templates/embed/page.html).
STATUS_TARGET = "#widget-status"


def denied(error: TokenRefused) -> Response:
    """Answer a small widget page that says why, with no data.

    A click inside a widget that was shown (its token has expired, been revoked or its key
    rotated away since) gets only the status message instead, aimed beside the chart.
    """
    if wants_fragment():
        return _status_message("embed/_ended.html", error.status, ended=True)
    response = make_response(
        render_template("embed/denied.html", message=error.message, theme="auto"), error.status
    )
    response.vary.add("HX-Request")
    response.headers["Cache-Control"] = "no-store"
    return response


def _status_message(template: str, status: int, **context) -> Response:
    """Answer a message for the widget's status line, never data, keeping the chart shown."""
    response = make_response(render_template(template, **context), status)
    response.headers["HX-Retarget"] = STATUS_TARGET
    response.headers["HX-Reswap"] = "innerHTML"
    response.vary.add("HX-Request")
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
        g.embed_tenant = tenancy.token_tenant(grant)
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
    try:
        tenancy.check_widget(grant, kind)
    except TokenRefused as error:
        return denied(error)
    today = upstreams().http.clock().date()
    ask = widget_ask(
        request.args,
        kind,
        today,
        preset_lock=grant.preset,
        metric_lock=grant.metric,
        max_days=grant.max_days,
    )
    if not ask.presets:
        return denied(TokenRefused(403, "This token allows no range the widget can show."))
    context = {
        "kind": kind,
        "token": request_token(),
        "range_links": range_links(kind, ask.presets, ask.preset, ask.link_params()),
    }
    try:
        query = parse_widget_query(ask, today)
    except FilterError as exc:
        return _respond(400, filter_error=exc, theme="auto", query=None, **context)
    scope = tenancy.widget_scope(g.embed_tenant, grant, kind, current_app.extensions["secret_box"])
    sources = upstreams()
    service = UsageService(sources.isnotai, sources.evovoice, now=sources.http.clock)
    view = service.view(scope, query.range)
    busy = next((e for e in view.errors if isinstance(e, BudgetExceeded)), None)
    if busy is not None and wants_fragment():
        # The chart on screen is still right for its own range: keep it and say when to retry.
        return _status_message("embed/_busy.html", 429, retry_after=busy.retry_after)
    return _respond(
        view.status,
        theme=query.theme,
        query=query.range,
        # Days after today are not data, and today's bucket is still running: as on /usage.
        **present_usage(view, sources.http.clock().date()),
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
