"""Reading upstream HTTP answers: JSON bodies that may not be JSON, and Retry-After."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import orjson
import requests

from .errors import BadResponse


def json_body(response: requests.Response) -> object | None:
    """Return the decoded JSON body, or None when the body is empty, not JSON, or too deep."""
    if not response.content:
        return None
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def success_body(response: requests.Response, api: str, vendor: str) -> object:
    """Return a 2xx answer's JSON body; raise BadResponse when it is not JSON."""
    return strict_body(response.content, api, vendor)


def strict_body(content: bytes, api: str, vendor: str) -> object:
    """Return a 2xx answer's body as json decodes it; raise BadResponse when it is not JSON."""
    try:
        return json.loads(content)
    except RecursionError:
        raise BadResponse(api, f"{vendor} answered with JSON nested too deeply to read") from None
    except (ValueError, UnicodeDecodeError):
        # Often a proxy's hiccup: worth another try.
        raise BadResponse(
            api, f"{vendor} answered with something that is not JSON", retryable=True
        ) from None


def fast_body(content: bytes, api: str, vendor: str) -> object:
    """Return a 2xx answer's body decoded by orjson, for large answers; else as
    `strict_body` does.

    orjson reads a body of 100,000 records in a fraction of json's time, and whatever
    strict UTF-8 JSON it accepts it decodes to json's values, except an integer outside
    64 bits: a float here, an int from json. Callers that require integers find the float
    and read the answer again with `strict_body`; what orjson refuses and json may still
    read (NaN, UTF-16, a byte order mark, lone surrogates, deep nesting) goes to json here.
    """
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError:
        return strict_body(content, api, vendor)


def retry_after_seconds(response: requests.Response) -> float | None:
    """Return Retry-After in seconds (delta or HTTP date), or None when absent or unreadable."""
    raw = (response.headers.get("Retry-After") or "").strip()
    if not raw:
        return None
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
