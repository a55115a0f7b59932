"""Text an upstream wrote, made safe to show and log: one printable line, capped, no credential."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from collections.abc import Iterable

MESSAGE_LIMIT = 300
NAME_LIMIT = 60  # a field name or an error code
REDACTED = "[redacted]"

_ISNOTAI_KEY = re.compile(r"aik_v1_[A-Za-z0-9_-]*")
# A long run of token characters mixing letters and digits is more likely a credential
# echoed back than prose or a setting's name.
_TOKEN = re.compile(r"(?=[A-Za-z0-9+/=_-]*\d)(?=[A-Za-z0-9+/=_-]*[A-Za-z])[A-Za-z0-9+/=_-]{32,}")
_BLANKS = re.compile(r"\s+")


def readable(text: object, limit: int = MESSAGE_LIMIT, secrets: Iterable[str] = ()) -> str:
    """Return upstream text as one printable line of at most `limit` characters, secrets hidden."""
    if not isinstance(text, str):
        return ""
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _TOKEN.sub(REDACTED, _ISNOTAI_KEY.sub(REDACTED, text))
    text = _BLANKS.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def sent_secrets(request: object) -> list[str]:
    """Return the credentials a request carried: tokens, Basic user password, cookies, password."""
    headers = getattr(request, "headers", None) or {}
    found: list[str] = []
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    if token:
        found.append(token.strip())
        if scheme.lower() == "basic":
            with contextlib.suppress(binascii.Error, UnicodeDecodeError):
                found.append(base64.b64decode(token, validate=True).decode().partition(":")[2])
    found.append(headers.get("x-api-key") or "")
    for pair in (headers.get("Cookie") or "").split(";"):
        found.append(pair.partition("=")[2].strip())
    try:
        body = json.loads(getattr(request, "body", None) or b"null")
    except (ValueError, TypeError):
        body = None
    if isinstance(body, dict) and isinstance(body.get("password"), str):
        found.append(body["password"])
    return [secret for secret in found if secret]
