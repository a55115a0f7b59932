"""Framing rules, cookie-free widgets and token-free logs."""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, g, request
from flask.sessions import SecureCookieSessionInterface

EMBED_BLUEPRINT = "embed"
_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)


def is_embed_request() -> bool:
    """Tell whether this request is for a widget (framed on another site, no cookies)."""
    return request.blueprint == EMBED_BLUEPRINT


class CookielessEmbedSessions(SecureCookieSessionInterface):
    """The usual signed-cookie session, except that widget responses never set a cookie."""

    def save_session(self, app: Flask, session, response: Response) -> None:
        """Save the session unless this is a widget response."""
        if is_embed_request():
            return
        super().save_session(app, session, response)


def frame_headers(response: Response) -> Response:
    """Let a tenant's listed origins frame its widgets; nobody frames anything else."""
    if is_embed_request():
        tenant = g.get("embed_tenant")
        origins = tenant.embed_origin_list if tenant is not None else []
        response.headers["Content-Security-Policy"] = "frame-ancestors " + (
            " ".join(origins) or "'none'"
        )
        response.headers.pop("X-Frame-Options", None)
        # The token is in the widget's URL: never send it to other hosts.
        response.headers["Referrer-Policy"] = "no-referrer"
    else:
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        response.headers["X-Frame-Options"] = "DENY"
    return response


class RedactTokens(logging.Filter):
    """Remove `token=…` from log lines (access logs print the query string)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record with tokens redacted; always keep it."""
        message = record.getMessage()
        if "token=" in message.lower():
            record.msg = _TOKEN_IN_URL.sub(r"\1[redacted]", message)
            record.args = ()
        return True


def init_web_security(app: Flask) -> None:
    """Install the session interface, framing headers and log redaction."""
    app.session_interface = CookielessEmbedSessions()
    app.after_request(frame_headers)
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error", app.logger.name):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
