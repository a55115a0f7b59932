"""Error pages: the app's own templates (fragments for htmx), never a traceback."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, make_response, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .rendering import wants_fragment

bp = Blueprint("errors", __name__)
log = logging.getLogger(__name__)


def _render(error: HTTPException):
    if request_ctx.url_adapter is None:
        # No URL can be built for this request (a Host header Werkzeug refuses), so the
        # templates cannot render: answer in plain words instead of failing into a 500.
        response = make_response(f"{error.code} {error.name}: {error.description}\n", error.code)
        response.mimetype = "text/plain"
        return response
    template = "errors/_fragment.html" if wants_fragment() else "errors/page.html"
    body = render_template(
        template, code=error.code, name=error.name, description=error.description
    )
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
