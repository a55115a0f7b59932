"""What one try at sending ended with: the attempt's status, its error, and whether to retry."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One send's end: ok, or an error that is retried (5xx, timeouts) or final (4xx)."""

    ok: bool
    retryable: bool
    status: str  # "sent", "HTTP 500", "timeout", "refused: private address", …
    error: str | None = None
    detail: str | None = None

    @classmethod
    def sent(cls, detail: str | None = None) -> Result:
        """Return a success."""
        return cls(True, False, "sent", None, detail)

    @classmethod
    def retry(cls, status: str, error: str) -> Result:
        """Return a failure worth trying again later."""
        return cls(False, True, status, error)

    @classmethod
    def failed(cls, status: str, error: str) -> Result:
        """Return a failure that trying again would not fix."""
        return cls(False, False, status, error)


def one_line(text: str, limit: int = 200) -> str:
    """Return text on one printable line, cut to `limit` characters."""
    flat = " ".join(text.split())
    flat = "".join(ch if ch.isprintable() else "?" for ch in flat)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
