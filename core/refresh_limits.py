"""How often one user may bypass the upstream cache."""

from __future__ import annotations

import math
import time

from flask import Flask, current_app
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .login_limits import storage_url_for

PER_USER = "3 per minute"


def refresh_retry_after(user_key: str, app: Flask | None = None) -> int | None:
    """Count a refresh for the user; return seconds to wait if over the limit, else None."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    state = app.extensions.get("refresh_limits")
    if state is None:
        storage = storage_from_string(storage_url_for(app.config["USAGE"].cache_url))
        limit = parse(app.config.get("REFRESH_LIMIT", PER_USER))
        state = app.extensions["refresh_limits"] = (MovingWindowRateLimiter(storage), limit)
    limiter, limit = state
    key = ("usage-refresh", user_key)
    if limiter.hit(limit, *key):
        return None
    return max(1, math.ceil(limiter.get_window_stats(limit, *key).reset_time - time.time()))
