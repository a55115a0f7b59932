"""Error pages: the app's own templates (fragments for htmx), never a traceback."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, abort, make_response, render_template, request, url_for
from flask.globals import request_ctx
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed, NotFound

from .auth import safe_next
from .rendering import wants_fragment

bp = Blueprint("errors", __name__)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionPage:
    """The page whose button sends a POST-only address, and what that button says."""

    endpoint: str
    name: str
    button: str


# POST-only addresses and the page each is sent from: a GET of one (a bookmark, a reload
# after a POST) is led to its page, and an error after the POST offers that page again.
ACTION_PAGES = {
    "usage.refresh": ActionPage("usage.page", "Usage", "Refresh"),
    "staff.refresh": ActionPage("staff.page", "Staff", "Refresh"),
}
# Plain headings where the status's own name is jargon to a newcomer ("Method Not Allowed").
HEADINGS = {404: "Page not found", 405: "Not a page to open"}
NOT_FOUND = "There is no page at this address. The link may be out of date, or mistyped."


@bp.app_template_global()
def action_page_url(endpoint: str | None) -> str | None:
    """Return the page (with this request's query) whose button sends `endpoint`, if any."""
    page = ACTION_PAGES.get(endpoint or "")
    if page is None:
        return None
    query = request.query_string.decode()
    return url_for(page.endpoint) + (f"?{query}" if query else "")


def _posted_endpoint() -> str | None:
    """Return the endpoint this address would reach by POST, if any."""
    adapter = request_ctx.url_adapter
    try:
        endpoint, _ = adapter.match(request.path, method="POST")  # type: ignore[union-attr]
    except HTTPException:
        return None
    return str(endpoint)


def _back_url() -> str | None:
    """Return the previous page, only when it is a path of this site and not this address."""
    referrer = request.headers.get("Referer", "")
    parts, here = urlsplit(referrer), urlsplit(request.host_url)
    if (parts.scheme, parts.netloc) != (here.scheme, here.netloc):
        return None
    target = safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))
    if target is None or target == request.full_path.rstrip("?"):
        return None
    return target


def _way_on(error: HTTPException) -> dict:
    """Say what happened in plain words and where to go next, for a 404 or a 405."""
    context: dict = {"name": error.name, "description": error.description}
    if error.code not in (404, 405):
        return context
    context["name"] = HEADINGS[error.code]
    signed_in = current_user.is_authenticated
    context["start_url"] = url_for("home.index" if signed_in else "auth.login")
    context["start_label"] = "Go to your dashboard" if signed_in else "Sign in"
    context["back_url"] = _back_url()
    if isinstance(error, NotFound) and error.description == NotFound.description:
        context["description"] = NOT_FOUND
    elif isinstance(error, MethodNotAllowed):
        posted = _posted_endpoint()
        page = ACTION_PAGES.get(posted or "")
        if page is not None and request.method in ("GET", "HEAD"):
            context["description"] = (
                f"This address is the {page.name} page's {page.button} button: it is used by "
                f"pressing {page.button} on the {page.name} page, not opened as a page."
            )
            context["action_url"] = action_page_url(posted)
            context["action_label"] = f"Go to the {page.name} page"
        elif error.description == MethodNotAllowed.description:
            # Whether the address is a page (GET) or an action (POST), say which it is.
            context["name"] = "Not a request this address takes"
            allowed = ", ".join(sorted(set(error.valid_methods or ()) - {"HEAD", "OPTIONS"}))
            context["description"] = (
                "This address is a page: it is opened, not sent a form or an action "
                f"(a {request.method} request). Open it with the link below."
                if "GET" in allowed
                else f"This address does not take a {request.method} request; it answers "
                f"{allowed or 'other requests'} only."
            )
            if "GET" in allowed:
                context["action_url"] = request.path
                context["action_label"] = "Open this page"
    return context


def _render(error: HTTPException):
    if request_ctx.url_adapter is None:
        # No URL can be built for this request (a Host header Werkzeug refuses), so the
        # templates cannot render: answer in plain words instead of failing into a 500.
        response = make_response(f"{error.code} {error.name}: {error.description}\n", error.code)
        response.mimetype = "text/plain"
        return response
    template = "errors/_fragment.html" if wants_fragment() else "errors/page.html"
    body = render_template(template, code=error.code, **_way_on(error))
    response = error.get_response()
    response.set_data(body)
    response.mimetype = "text/html"
    response.vary.add("HX-Request")
    return response


@bp.before_app_request
def refuse_undecodable_addresses():
    """Refuse a query string that is not UTF-8 before anything tries to read it."""
    try:
        request.query_string.decode("utf-8")
    except UnicodeDecodeError:
        abort(400, "The address contains bytes that are not valid UTF-8.")


@bp.app_errorhandler(CSRFError)
def csrf_failed(error: CSRFError):
    """Explain a missing or stale CSRF token in words."""
    error.description = (
        "The form was missing its security token or it had expired. Reload the page and try again."
    )
    return _render(error)


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException):
    """Render any HTTP error with the app's template."""
    return _render(error)


@bp.app_errorhandler(Exception)
def unexpected(error: Exception):
    """Log the failure and answer a plain 500 page."""
    log.exception("unhandled error")
    return _render(InternalServerError("Something went wrong on our side. Try again shortly."))
