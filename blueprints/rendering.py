"""One URL, two answers: the full page, or only its results fragment for an htmx swap."""

from __future__ import annotations

from flask import Response, make_response, render_template
from htmx_flask import request


def is_htmx() -> bool:
    """Tell whether htmx sent this request (HX-Request: true)."""
    return bool(request.htmx)


def wants_fragment() -> bool:
    """Tell whether to answer with the fragment: an htmx swap, but not a history restore."""
    return (
        bool(request.htmx) and not request.htmx.history_restore_request and not request.htmx.boosted
    )


def page_or_fragment(page: str, fragment: str, status: int = 200, **context) -> Response:
    """Render the page or its fragment; caches must keep the two apart (Vary: HX-Request)."""
    template = fragment if wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    if status == 400 and wants_fragment():
        # Refused filters are not a view to come back to: the address bar keeps the last
        # one shown, so Back and Forward never pair an address with another's results.
        response.headers["HX-Push-Url"] = "false"
    return response
