"""Operations endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac
import os
from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Blueprint, Response, abort, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy import text

from core.extensions import db
from core.web_security import talisman
from upstreams import upstreams

bp = Blueprint("ops", __name__)

PROBE_TIMEOUT = 3.0


@bp.get("/healthz")
@talisman(force_https=False)  # load balancers probe over plain http
def healthz():
    """Answer that the process is alive (no dependency is checked)."""
    return {"status": "ok"}


def _check_database() -> str:
    db.session.execute(text("SELECT 1"))
    return "ok"


def _check_cache() -> str:
    http = upstreams().http
    cache = http.session.cache
    if http.cache_problem:
        # The pages still work, reading the upstreams directly: ready, but say so.
        return f"degraded: {http.cache_problem}"
    cache.responses.get("usage-readiness-probe")  # a read reaches SQLite or Redis
    return "ok"


def _check_url(url: str) -> str:
    # Any HTTP answer means reachable; only the network failing is "not ready".
    requests.get(url, timeout=PROBE_TIMEOUT, allow_redirects=False)
    return "ok"


@bp.get("/readyz")
@talisman(force_https=False)
def readyz():
    """Report readiness to anyone; which dependency failed, and how, only to operators."""
    sources = upstreams()
    probes = {"database": _check_database, "cache": _check_cache}
    isnotai_urls = sources.isnotai.base_urls()
    for region, base in isnotai_urls.items():
        probes[f"isnotai-{region}"] = lambda base=base: _check_url(base.rstrip("/") + "/health")
    if sources.evovoice is not None:
        probes["evovoice"] = lambda: _check_url(sources.evovoice.base_url())

    app = current_app._get_current_object()

    def run(check):
        with app.app_context():
            try:
                return check()
            except Exception as exc:  # noqa: BLE001 - any failure is "not ready", named
                return f"error: {type(exc).__name__}"

    with ThreadPoolExecutor(max_workers=len(probes)) as pool:
        results = dict(zip(probes, pool.map(run, probes.values()), strict=True))
    ready = all(value == "ok" or value.startswith("degraded") for value in results.values())
    body = {"status": "ok" if ready else "unavailable"}
    if operator_allowed():  # upstream names and error classes are for operators only
        body["checks"] = results
    response = jsonify(body)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def operator_allowed() -> bool:
    """Tell whether the caller may read operations details: a listed address or the token."""
    settings = current_app.config["USAGE"]
    allowed = {a.strip() for a in settings.metrics_allow.split(",") if a.strip()}
    if request.remote_addr in allowed:
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return bool(
        settings.metrics_token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.strip(), settings.metrics_token)
    )


@bp.get("/metrics")
@talisman(force_https=False)
def metrics():
    """Serve Prometheus metrics to configured addresses or bearer-token holders."""
    if not operator_allowed():
        abort(403, "Metrics are served only to configured addresses or with the metrics token.")
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        # Under gunicorn every worker writes its own files; merge them.
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
