"""Fault answers both simulators give alike: broken, wrong or hostile bodies, proxy pages."""

from __future__ import annotations

from flask import Response

OVERSIZED_BYTES = 8 * 1024 * 1024
NESTING_DEPTH = 100_000


def proxy_page(proxy: str) -> str:
    """Return the HTML error page a proxy in front of an API sends for a 502."""
    return (
        "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
        f"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>{proxy}</center>\r\n"
        "</body>\r\n</html>\r\n"
    )


def shared_fault(kind: str, truncated_body: str, proxy: str) -> Response | None:
    """Answer a body-level fault (`malformed`, `wrong-shape`, `html`, `oversized`,
    `deep-nesting`) the same way for both APIs; None for the kinds each API answers itself."""
    if kind == "malformed":
        # JSON cut off mid-record, as a dropped stream would leave it.
        return Response(truncated_body, status=200, content_type="application/json")
    if kind == "wrong-shape":
        return Response('{"items":[]}', status=200, content_type="application/json")
    if kind == "html":
        return Response(proxy_page(proxy), status=502, content_type="text/html")
    return hostile_body(kind)


def retry_after_header(kind: str, retry_after: int | None) -> dict | None:
    """Return the Retry-After header a 429 or 503 fault carries, when one was asked for."""
    if retry_after is not None and kind in ("429", "503"):
        return {"Retry-After": str(retry_after)}
    return None


def hostile_body(kind: str) -> Response | None:
    """Return the answer for `oversized` or `deep-nesting`, or None for other kinds."""
    if kind == "oversized":

        def chunks():
            # Streamed without Content-Length, so only reading it reveals its size.
            yield b'{"data": [], "padding": "'
            for _ in range(OVERSIZED_BYTES // 65536):
                yield b"x" * 65536
            yield b'"}'

        return Response(chunks(), status=200, content_type="application/json")
    if kind == "deep-nesting":
        body = b"[" * NESTING_DEPTH + b"]" * NESTING_DEPTH
        return Response(body, status=200, content_type="application/json")
    return None
