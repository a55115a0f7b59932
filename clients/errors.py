"""Typed upstream failures, each with a message a person understands."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from .upstream_text import NAME_LIMIT, readable, sent_secrets

log = logging.getLogger(__name__)


class UpstreamError(Exception):
    """An upstream call failed; `message` is safe to show, never containing a credential."""

    # HTTP status the dashboard answers with when this error reaches a page.
    page_status = 502
    # Whether a stale cached answer may stand in for the failed call.
    serve_stale = False

    def __init__(
        self,
        api: str,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.api = api
        self.message = message
        self.status = status
        # Both are upstream text: they reach logs and pages.
        self.code = readable(code, NAME_LIMIT) or None
        self.field = readable(field, NAME_LIMIT) or None

    def __str__(self) -> str:
        details = [
            text
            for text in (
                self.code and f"code {self.code}",
                self.field and f"field {self.field}",
                self.status and f"HTTP {self.status}",
            )
            if text
        ]
        return f"{self.api}: {self.message}" + (f" ({', '.join(details)})" if details else "")


class InvalidRequest(UpstreamError):
    """The upstream refused what the dashboard sent (HTTP 400): never the visitor's fault."""

    def __init__(
        self,
        api: str,
        vendor: str,
        *,
        upstream_message: object = None,
        sent: object = None,
        secrets: tuple[str, ...] = (),
        field: str | None = None,
        **kw,
    ) -> None:
        # `sent` is the refused request: a credential it carried must not come back quoted;
        # `secrets` are the ones it did not carry (a password behind a session cookie).
        hidden = [*sent_secrets(sent), *secrets]
        field = readable(field, NAME_LIMIT, hidden) or None
        said = readable(upstream_message, secrets=hidden) or None
        what = f"the {field} parameter" if field else "the request"
        message = f"{vendor} refused {what} the dashboard sent"
        if said:
            message += f"; it said “{said}”"
        super().__init__(api, message, field=field, **kw)
        self.upstream_message = said
        # Made only from an upstream's answer: the operator must hear of it, once per answer.
        log.warning("upstream refused a request: %s", self)


class AuthenticationFailed(UpstreamError):
    """The credential was refused (HTTP 401): missing, unknown, or from the other region."""

    # Never hidden behind saved data: a revoked key must be seen at once, not in 24 hours.


class SessionExpired(AuthenticationFailed):
    """A signed-in session was refused: sign in again, then ask once more."""


class PermissionDenied(UpstreamError):
    """The credential may not read this resource (HTTP 403)."""


class NotFound(UpstreamError):
    """The upstream has no such resource (HTTP 404)."""


class RateLimited(UpstreamError):
    """The upstream asked us to slow down (HTTP 429)."""

    page_status = 503
    serve_stale = True

    def __init__(self, api: str, message: str, *, retry_after: float | None = None, **kw) -> None:
        super().__init__(api, message, **kw)
        self.retry_after = retry_after


class BudgetExceeded(UpstreamError):
    """The caller used up its upstream calls for this minute; no call was made."""

    page_status = 429
    # Saved data costs no upstream call, so it still answers.
    serve_stale = True

    def __init__(self, api: str, message: str, *, retry_after: int) -> None:
        super().__init__(api, message)
        self.retry_after = retry_after


class UpstreamUnavailable(UpstreamError):
    """The upstream failed on its side (HTTP 5xx) or could not be reached."""

    serve_stale = True


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer within the configured limits."""

    page_status = 504
    serve_stale = True


class BadResponse(UpstreamError):
    """The upstream answered with a body that is not the documented shape."""

    serve_stale = True

    def __init__(self, api: str, message: str, *, retryable: bool = False, **kw) -> None:
        super().__init__(api, message, **kw)
        # A body that is not JSON at all is often a proxy hiccup; a wrong JSON shape is not.
        self.retryable = retryable


@dataclass(frozen=True)
class Wording:
    """What one upstream's errors say where the upstreams differ; the rest is said alike."""

    vendor: str  # the upstream's name in a sentence
    refused: str  # the credential was refused (401)
    forbidden: str  # the credential may not read it (403)
    missing: str  # nothing at the configured URL (404)
    throttled: str  # who was rate limited (429): the dashboard, or one key


# Status → the error raised and its message; a 400 and a 429 also carry what the upstream said.
_BY_STATUS: dict[int, tuple[type[UpstreamError], str]] = {
    401: (AuthenticationFailed, "{refused}"),
    403: (PermissionDenied, "{forbidden}"),
    404: (NotFound, "{missing}"),
    429: (RateLimited, "{vendor} rate limited {throttled}; {when}"),
}
_FAILED = (UpstreamUnavailable, "{vendor} failed on its side (HTTP {status}); try again shortly")
_UNEXPECTED = (UpstreamError, "{vendor} answered with unexpected HTTP {status}")


def error_for_status(
    status: int,
    api: str,
    wording: Wording,
    *,
    said: object = None,
    code: str | None = None,
    field: str | None = None,
    retry_after: float | None = None,
    sent: object = None,
    secrets: tuple[str, ...] = (),
) -> UpstreamError:
    """Return the typed error for a non-2xx answer.

    `said` is the upstream's own message (quoted only for a 400), `retry_after` its
    Retry-After in seconds; `sent` and `secrets` are credentials a 400's quote must not echo.
    """
    if status == 400:
        return InvalidRequest(
            api,
            wording.vendor,
            upstream_message=said,
            sent=sent,
            secrets=secrets,
            status=status,
            code=code,
            field=field,
        )
    kind, template = _BY_STATUS.get(status) or (_FAILED if status >= 500 else _UNEXPECTED)
    when = f"retry in {retry_after:.0f} s" if retry_after is not None else "retry in a minute"
    message = template.format(**asdict(wording), status=status, when=when)
    if kind is RateLimited:
        return RateLimited(
            api, message, retry_after=retry_after, status=status, code=code, field=field
        )
    return kind(api, message, status=status, code=code, field=field)
