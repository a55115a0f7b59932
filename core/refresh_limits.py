"""How often one user may bypass the upstream cache."""

from __future__ import annotations

from flask import Flask, current_app
from limits import parse

from .rate_limits import SharedLimiter, made_once, storage_url_for

PER_USER = "3 per minute"


def refresh_retry_after(user_key: str, app: Flask | None = None) -> int | None:
    """Count a refresh for the user; return seconds to wait if over the limit, else None."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    limiter, limit = made_once(
        app.extensions,
        "refresh_limits",
        lambda: (
            SharedLimiter(storage_url_for(app.config["USAGE"].cache_url), "refresh"),
            parse(app.config.get("REFRESH_LIMIT", PER_USER)),
        ),
    )
    key = ("usage-refresh", user_key)
    if limiter.hit(limit, *key):
        return None
    return limiter.seconds_to_wait(limit, *key)
