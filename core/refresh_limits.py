"""How often one user may bypass the upstream cache."""

from __future__ import annotations

import threading

from flask import Flask, current_app
from limits import parse

from .rate_limits import SharedLimiter, storage_url_for

PER_USER = "3 per minute"
_CREATE_LOCK = threading.Lock()


def refresh_retry_after(user_key: str, app: Flask | None = None) -> int | None:
    """Count a refresh for the user; return seconds to wait if over the limit, else None."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions.get("refresh_limits")
    if state is None:
        with _CREATE_LOCK:
            state = app.extensions.get("refresh_limits")
            if state is None:
                limiter = SharedLimiter(storage_url_for(app.config["USAGE"].cache_url), "refresh")
                limit = parse(app.config.get("REFRESH_LIMIT", PER_USER))
                state = app.extensions["refresh_limits"] = (limiter, limit)
    limiter, limit = state
    key = ("usage-refresh", user_key)
    if limiter.hit(limit, *key):
        return None
    return limiter.seconds_to_wait(limit, *key)
