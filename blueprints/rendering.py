"""One URL, two answers: the full page, or only its results fragment for an htmx swap."""

from __future__ import annotations

from flask import Response, make_response, render_template, request


def wants_fragment() -> bool:
    """Tell whether to answer with the fragment: an htmx swap, but not a history restore."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
        and request.headers.get("HX-Boosted") != "true"
    )


def page_or_fragment(page: str, fragment: str, status: int = 200, **context) -> Response:
    """Render the page or its fragment; caches must keep the two apart (Vary: HX-Request)."""
    template = fragment if wants_fragment() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response
