"""Answers shared by both simulators' faults: bodies no parser should swallow whole."""

from __future__ import annotations

from flask import Response

OVERSIZED_BYTES = 8 * 1024 * 1024
NESTING_DEPTH = 100_000


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
