"""How often one user may bypass the upstream cache."""

from __future__ import annotations

from flask import Flask, current_app
from limits import RateLimitItem, parse

from .rate_limits import SharedLimiter, made_once, storage_url_for

PER_USER = "3 per minute"


def _limiter(app: Flask | None) -> tuple[SharedLimiter, RateLimitItem]:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return made_once(
        app.extensions,
        "refresh_limits",
        lambda: (
            SharedLimiter(storage_url_for(app.config["USAGE"].cache_url), "refresh"),
            parse(app.config.get("REFRESH_LIMIT", PER_USER)),
        ),
    )


def _key(user_key: str) -> tuple[str, str]:
    return ("usage-refresh", user_key)


def refresh_retry_after(user_key: str, app: Flask | None = None) -> int | None:
    """Count a refresh for the user; return seconds to wait if over the limit, else None."""
    limiter, limit = _limiter(app)
    if limiter.hit(limit, *_key(user_key)):
        return None
    return limiter.seconds_to_wait(limit, *_key(user_key))


def refresh_wait(user_key: str, app: Flask | None = None) -> int | None:
    """Return the seconds until the user may refresh again (None: now), counting nothing.

    Every page render asks, so that the Refresh button is shown disabled while it would be
    refused, rather than offered and then answered with a refusal.
    """
    limiter, limit = _limiter(app)
    return limiter.wait_without_counting(limit, *_key(user_key))
