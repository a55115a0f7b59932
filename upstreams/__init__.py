"""The upstream clients of this app, built from settings: real APIs or the demo simulators."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from flask import Flask, current_app, g
from flask_login import current_user

from clients.budget import Caller, UpstreamBudget, start_charging, stop_charging
from clients.cached_http import CachedUpstream, HttpPolicy
from clients.deadline import SavedOnlyGate
from clients.evovoice import EvovoiceClient
from clients.isnotai import IsnotaiClient
from core.config import Settings
from core.rate_limits import storage_url_for
from core.request_context import end_page_deadline, start_page_deadline

from .simulated import DemoUpstreams


@dataclass
class Upstreams:
    """The cached session and one client per upstream."""

    http: CachedUpstream
    isnotai: IsnotaiClient
    evovoice: EvovoiceClient | None  # None when no service credential is configured
    demo: DemoUpstreams | None


def policy_from(settings: Settings) -> HttpPolicy:
    """Return the HTTP policy the settings describe."""
    return HttpPolicy(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        deadline=settings.upstream_deadline,
        retry_after_max=settings.retry_after_max,
        ttl_past=settings.cache_ttl_past,
        ttl_today=settings.cache_ttl_today,
        stale_max=settings.cache_stale_max,
        max_response_bytes=settings.max_response_bytes,
    )


def build_upstreams(app: Flask, settings: Settings) -> Upstreams:
    """Build the clients, charge each request's upstream calls to its caller, and bound how
    long each request's page waits for them.

    Nothing connects until the first read.
    """
    cache_url = settings.resolved_cache_url(app.instance_path)
    budget = None
    if settings.upstream_budget:
        budget = UpstreamBudget(storage_url_for(cache_url), settings.upstream_budget)
        app.before_request(_start_charging)
        app.teardown_request(_stop_charging)
    app.before_request(lambda: _start_page_deadline(settings.page_deadline))
    app.teardown_request(_end_page_deadline)
    # The gate also refuses calls once a page stops waiting: it then shows saved answers.
    gate = SavedOnlyGate(budget)
    http = CachedUpstream(cache_url, settings.secret_key, policy_from(settings), budget=gate)
    if settings.demo_enabled:
        from simulators.data import EVOVOICE_SERVICE_USER

        demo = DemoUpstreams()
        username, password = EVOVOICE_SERVICE_USER
        isnotai = IsnotaiClient(
            http, demo.isnotai_urls, namespace="demo:isnotai", storage=settings.isnotai_storage
        )
        evovoice = EvovoiceClient(
            http,
            demo.evovoice_url,
            username,
            password,
            end_date=settings.evovoice_end_date,
            method=settings.evovoice_method,
            concurrency=settings.evovoice_concurrency,
            namespace="demo:evovoice",
        )
        return Upstreams(http, isnotai, evovoice, demo)

    urls = {"us": settings.isnotai_us_url, "eu": settings.isnotai_eu_url}
    isnotai = IsnotaiClient(
        http,
        lambda: urls,
        namespace="isnotai:" + _tag(str(urls)),
        storage=settings.isnotai_storage,
    )
    evovoice = None
    if settings.has_upstream_credentials:
        evovoice = EvovoiceClient(
            http,
            lambda: settings.evovoice_url,
            settings.evovoice_username,
            settings.evovoice_password,
            auth=settings.evovoice_auth,
            end_date=settings.evovoice_end_date,
            method=settings.evovoice_method,
            concurrency=settings.evovoice_concurrency,
            namespace="evovoice:" + _tag(settings.evovoice_url),
        )
    return Upstreams(http, isnotai, evovoice, None)


def caller_key() -> str | None:
    """Name who pays for this request's upstream calls: a widget's tenant, else the user."""
    # Read on the request's first upstream call, once the widget token (or the login)
    # has been checked; both are already loaded by then, so nothing here queries.
    tenant = g.get("embed_tenant")
    if tenant is not None:
        return f"tenant:{tenant.id}"
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return None


def _start_charging() -> None:
    g.upstream_charge = start_charging(Caller(caller_key))


def _stop_charging(_exc: BaseException | None) -> None:
    token = g.pop("upstream_charge", None)
    if token is not None:
        stop_charging(token)


def _start_page_deadline(seconds: float) -> None:
    g.page_deadline = start_page_deadline(seconds)


def _end_page_deadline(_exc: BaseException | None) -> None:
    token = g.pop("page_deadline", None)
    if token is not None:
        end_page_deadline(token)


def _tag(text: str) -> str:
    # Entries from one upstream host never answer for another (staging vs production).
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def upstreams() -> Upstreams:
    """Return the current app's upstreams."""
    return current_app.extensions["upstreams"]
