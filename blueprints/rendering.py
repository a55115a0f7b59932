"""One URL, two answers: the full page, or only its results fragment for an htmx swap."""

from __future__ import annotations

from flask import Response, make_response, render_template
from htmx_flask import request
from werkzeug.datastructures import Headers

# What only a document obeys (a page, a frame): a fragment swapped into a page is governed by
# that page's own. nosniff, HSTS, caching and Vary apply to every response and stay.
DOCUMENT_ONLY_HEADERS = (
    "Content-Security-Policy",
    "X-Frame-Options",
    "Permissions-Policy",
    "Feature-Policy",
    "Document-Policy",
    "Referrer-Policy",
)


class FragmentResponse(Response):
    """An htmx fragment: sent without the headers that only a document obeys."""

    def get_wsgi_headers(self, environ) -> Headers:
        """Return the headers to send, less the document-only ones added by after_request."""
        headers = super().get_wsgi_headers(environ)
        for name in DOCUMENT_ONLY_HEADERS:
            headers.remove(name)
        return headers


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
    if wants_fragment():
        # A fragment is never a document: a browser only fetches it with HX-Request set.
        response = FragmentResponse(render_template(fragment, **context), status)
    else:
        response = make_response(render_template(page, **context), status)
    response.vary.add("HX-Request")
    if status == 400 and wants_fragment():
        # Refused filters are not a view to come back to: the address bar keeps the last
        # one shown, so Back and Forward never pair an address with another's results.
        response.headers["HX-Push-Url"] = "false"
    return response
