"""The one table from an upstream's HTTP status to the error a page and the cache act on."""

from __future__ import annotations

import pytest

from clients.errors import (
    AuthenticationFailed,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    UpstreamError,
    UpstreamUnavailable,
    Wording,
    error_for_status,
)

API = "Acme API (us)"
WORDING = Wording(
    vendor="Acme",
    refused="Acme refused the key",
    forbidden="Acme says the key may not read it",
    missing="Acme has nothing at the configured URL",
    throttled="this key",
)

TABLE = [
    # status, class, page status, serve stale, message
    (401, AuthenticationFailed, 502, False, "Acme refused the key"),
    (403, PermissionDenied, 502, False, "Acme says the key may not read it"),
    (404, NotFound, 502, False, "Acme has nothing at the configured URL"),
    (429, RateLimited, 503, True, "Acme rate limited this key; retry in a minute"),
    (500, UpstreamUnavailable, 502, True, "Acme failed on its side (HTTP 500); try again shortly"),
    (503, UpstreamUnavailable, 502, True, "Acme failed on its side (HTTP 503); try again shortly"),
    (599, UpstreamUnavailable, 502, True, "Acme failed on its side (HTTP 599); try again shortly"),
    (402, UpstreamError, 502, False, "Acme answered with unexpected HTTP 402"),
    (409, UpstreamError, 502, False, "Acme answered with unexpected HTTP 409"),
    (302, UpstreamError, 502, False, "Acme answered with unexpected HTTP 302"),
]


@pytest.mark.parametrize(("status", "kind", "page_status", "serve_stale", "message"), TABLE)
def test_each_status_maps_to_its_error(status, kind, page_status, serve_stale, message):
    error = error_for_status(status, API, WORDING, said="ignored", code="E1", field="startDate")
    assert type(error) is kind
    assert (error.page_status, error.serve_stale) == (page_status, serve_stale)
    assert error.message == message
    assert (error.api, error.status, error.code, error.field) == (API, status, "E1", "startDate")


def test_a_400_quotes_what_the_upstream_said_but_no_secret():
    error = error_for_status(
        400,
        API,
        WORDING,
        said="startDate s3cret is not a date",
        field="startDate",
        secrets=("s3cret",),
    )
    assert type(error) is InvalidRequest
    assert (error.page_status, error.serve_stale) == (502, False)
    assert error.message == (
        "Acme refused the startDate parameter the dashboard sent; "
        "it said “startDate [redacted] is not a date”"
    )
    plain = error_for_status(400, API, WORDING)
    assert plain.message == "Acme refused the request the dashboard sent"


def test_a_429_carries_its_retry_after():
    error = error_for_status(429, API, WORDING, retry_after=42.4)
    assert isinstance(error, RateLimited) and error.retry_after == 42.4
    assert error.message == "Acme rate limited this key; retry in 42 s"
    assert error_for_status(429, API, WORDING).retry_after is None
    assert error_for_status(503, API, WORDING, retry_after=5).serve_stale
