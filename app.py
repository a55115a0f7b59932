"""Usage dashboard: the application factory."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from core.config import InsecureConfiguration, Settings
from core.extensions import compress, csrf, db, htmx, login_manager, migrate
from core.observability import init_observability
from core.secrets_box import SecretBox
from core.web_security import init_web_security
from jobs.queue import init_queue
from upstreams import build_upstreams


def load_settings(test_config: Mapping[str, Any] | None) -> Settings:
    """Read USAGE_* settings; `test_config` entries named USAGE_* override them."""
    overrides = {
        key.removeprefix("USAGE_").lower(): value
        for key, value in (test_config or {}).items()
        if key.startswith("USAGE_")
    }
    return Settings(**overrides)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the app; nothing connects to a server here."""
    # Static files are served (compressed, versioned) by blueprints.assets.
    app = Flask(__name__, instance_relative_config=True, static_folder=None)
    settings = load_settings(test_config)
    try:
        settings.check_production_safety()
    except InsecureConfiguration as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    os.makedirs(app.instance_path, exist_ok=True)

    app.config.from_mapping(
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.resolved_database_url(app.instance_path),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.demo_enabled,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=not settings.demo_enabled,
        REMEMBER_COOKIE_DURATION=timedelta(days=14),
        USAGE=settings,
        # Pages, fragments, JSON and CSV; static files are compressed by blueprints.assets.
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_ALGORITHM_STREAMING=["br"],
        COMPRESS_MIMETYPES=["text/html", "application/json", "text/csv"],
        # Fragments and pages are a few kB: quality 7 takes under a millisecond on them and
        # sends about a tenth fewer bytes than the default 4; 10 and 11 cost tens of ms.
        COMPRESS_BR_LEVEL=7,
    )
    if test_config:
        app.config.from_mapping(
            {k: v for k, v in test_config.items() if not k.startswith("USAGE_")}
        )

    if settings.proxy_hops:
        # Client addresses (sign-in limits) and https URLs come from the proxy's headers.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(app.root_path, "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    app.extensions["upstreams"] = build_upstreams(app, settings)
    app.extensions["secret_box"] = SecretBox(settings.encryption_key_list)
    init_queue(app)

    from blueprints import register_blueprints
    from cli import register_cli

    init_observability(app, settings.log_format)
    compress.init_app(app)
    init_web_security(app, https=settings.https, secure_cookies=not settings.demo_enabled)
    register_blueprints(app)
    register_cli(app)
    return app
