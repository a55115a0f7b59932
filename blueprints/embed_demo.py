"""Demo mode only: a host page on a second loopback origin that frames both widgets."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from flask import Blueprint, abort, current_app, g, redirect, render_template, request

from demo.seed import host_origin, the_demo_tenant
from services.embed_keys import current_key
from services.embed_tokens import mint

bp = Blueprint("embed_demo", __name__)

DEMO_TENANT = "acme"


@bp.get("/embed-demo")
def host_page():
    """Frame both of a demo tenant's widgets from another origin, as a tenant's site would."""
    settings = current_app.config["USAGE"]
    if not settings.demo_enabled:
        abort(404)
    public = settings.public_url.rstrip("/")
    origin = host_origin(public)
    if request.host_url.rstrip("/") != origin:
        return redirect(f"{origin}/embed-demo")
    # Only the demo's own tenant: this page mints tokens for anyone who opens it.
    tenant = the_demo_tenant(DEMO_TENANT)
    if tenant is None:
        abort(404)
    key = current_key(tenant, current_app.extensions["secret_box"])
    ttl = timedelta(seconds=settings.embed_max_ttl)
    widgets = []
    for widget, path, title in (
        ("metrics", "/embed/metrics", "API metrics"),
        ("ai-minutes", "/embed/ai-minutes", "AI minutes"),
    ):
        token = mint(key, ttl=ttl, widget=widget)
        widgets.append({"title": title, "src": f"{public}{path}?{urlencode({'token': token})}"})
    g.frame_src = public  # this page frames the app's public origin
    return render_template("embed/demo_host.html", widgets=widgets, origin=origin, public=public)
