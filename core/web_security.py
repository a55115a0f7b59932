"""Browser security headers (Flask-Talisman), framing rules, cookie-free widgets, uncached
personal responses and token-free access logs."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from flask_talisman import Talisman

from .observability import RedactSecrets

# No inline script or style anywhere. plotly.js injects empty <style> elements that it fills
# through insertRule (CSSOM, which CSP allows): only the empty element's hash is admitted.
# htmx's indicator styles are off (htmx-config) and shipped in app.css instead.
EMPTY_STYLE_HASH = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": f"'self' {EMPTY_STYLE_HASH}",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
talisman = Talisman()

EMBED_BLUEPRINT = "embed"


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


def _with_directive(policy: str, name: str, value: str) -> str:
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    kept = [d for d in directives if d.split()[0] != name]
    return "; ".join([*kept, f"{name} {value}"])


def frame_headers(response: Response) -> Response:
    """Let a tenant's listed origins frame its widgets; nobody frames anything else.

    Runs after Talisman's headers, adjusting only the framing parts.
    """
    policy = response.headers.get("Content-Security-Policy", "")
    if is_embed_request():
        tenant = g.get("embed_tenant")
        origins = tenant.embed_origin_list if tenant is not None else []
        response.headers["Content-Security-Policy"] = _with_directive(
            policy, "frame-ancestors", " ".join(origins) or "'none'"
        )
        response.headers.pop("X-Frame-Options", None)
        # The token is in the widget's URL: never send it to other hosts.
        response.headers["Referrer-Policy"] = "no-referrer"
    else:
        # Only /demo/mail's frame of a message's HTML part is framed, and only by this app.
        framed = g.get("framed_by_self")
        response.headers["X-Frame-Options"] = "SAMEORIGIN" if framed else "DENY"
        frame_src = g.get("frame_src")
        if frame_src:
            response.headers["Content-Security-Policy"] = _with_directive(
                policy, "frame-src", frame_src
            )
    return response


def private_when_personal(response: Response) -> Response:
    """Keep every answer to a signed-in caller out of shared and browser caches."""
    # Static assets declare themselves public: the same for everyone, cached for a year.
    if not response.cache_control.public and current_user.is_authenticated:
        response.headers["Cache-Control"] = "private, no-store"
    return response


def init_web_security(app: Flask, *, https: bool, secure_cookies: bool) -> None:
    """Install security headers, the session interface, framing and caching rules, log redaction."""
    app.session_interface = CookielessEmbedSessions()
    # Registered before Talisman, so it runs after Talisman's headers are set.
    app.after_request(frame_headers)
    app.after_request(private_when_personal)
    talisman.init_app(
        app,
        force_https=https,
        strict_transport_security=https,
        strict_transport_security_max_age=365 * 24 * 3600,
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        referrer_policy="strict-origin-when-cross-origin",
        session_cookie_secure=secure_cookies,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
    )
    # Access logs print request lines, query strings included: redact them at the source.
    for name in ("werkzeug", "gunicorn.access", "gunicorn.error", app.logger.name):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
