"""Embed tokens: HS256 JWTs a tenant's backend can mint with the shared embed secret.

Claims: `sub` (tenant name), `aud` (`usage-embed`), `exp` (required), `iat` (required),
optional `jti`, `widget` (`metrics` or `ai-minutes`), `metric`, `customerId` (narrows an
EvoVoice account to one customer), `preset` (a fixed range) and `maxDays` (the longest
range the widget may show). Locked claims win over the URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from clients.isnotai import canonical_metric
from services.filters import PRESETS

AUDIENCE = "usage-embed"
ALGORITHM = "HS256"
WIDGETS = ("metrics", "ai-minutes")
_TTL = re.compile(r"^(\d+)([smhd]?)$")
_TTL_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class TokenRefused(Exception):
    """The token does not grant access; `status` is 401 (not valid) or 403 (not allowed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class EmbedGrant:
    """What a verified token allows."""

    tenant: str
    issued_at: datetime
    expires_at: datetime
    jti: str | None = None
    widget: str | None = None
    metric: str | None = None
    customer_id: str | None = None
    preset: str | None = None
    max_days: int | None = None


def parse_ttl(text: str) -> timedelta:
    """Parse a lifetime like `15m`, `1h`, `90s` or `600`."""
    match = _TTL.match(text.strip().lower())
    if not match or int(match[1]) <= 0:
        raise ValueError(f"a lifetime must look like 15m, 1h or 600s (got {text!r})")
    return timedelta(seconds=int(match[1]) * _TTL_UNITS[match[2]])


def mint(
    secret: str,
    tenant: str,
    *,
    ttl: timedelta,
    now: datetime | None = None,
    jti: str | None = None,
    widget: str | None = None,
    metric: str | None = None,
    customer_id: str | None = None,
    preset: str | None = None,
    max_days: int | None = None,
) -> str:
    """Return a signed token for a tenant's widgets."""
    now = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": tenant,
        "aud": AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
    }
    optional = {
        "jti": jti,
        "widget": widget,
        "metric": metric,
        "customerId": customer_id,
        "preset": preset,
        "maxDays": max_days,
    }
    claims.update({k: v for k, v in optional.items() if v is not None})
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify(
    secret: str, token: str, *, max_ttl: timedelta, now: datetime | None = None
) -> EmbedGrant:
    """Check signature, algorithm, audience, expiry and claims; raise TokenRefused if bad."""
    if not token:
        raise TokenRefused(401, "This widget needs a token in its URL.")
    if not secret:
        raise TokenRefused(403, "Embedding is not enabled on this dashboard.")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],  # never `none`, never whatever the header says
            audience=AUDIENCE,
            options={"require": ["exp", "iat", "sub", "aud"]},
            leeway=30,
        )
    except jwt.ExpiredSignatureError:
        raise TokenRefused(401, "This widget's token has expired; reload the host page.") from None
    except jwt.InvalidAudienceError:
        raise TokenRefused(401, "This token is not meant for usage widgets.") from None
    except jwt.InvalidAlgorithmError:
        raise TokenRefused(
            401, "This token is signed with an algorithm that is not accepted."
        ) from None
    except jwt.PyJWTError:
        raise TokenRefused(401, "This widget's token is not valid.") from None

    issued = datetime.fromtimestamp(claims["iat"], UTC)
    expires = datetime.fromtimestamp(claims["exp"], UTC)
    now = now or datetime.now(UTC)
    if expires - issued > max_ttl or expires - now > max_ttl + timedelta(seconds=30):
        raise TokenRefused(401, f"This token lives longer than the allowed {max_ttl}.")
    return EmbedGrant(
        tenant=_text(claims, "sub", required=True),
        issued_at=issued,
        expires_at=expires,
        jti=_text(claims, "jti"),
        widget=_choice(claims, "widget", WIDGETS),
        metric=_metric(claims),
        customer_id=_text(claims, "customerId"),
        preset=_choice(claims, "preset", tuple(PRESETS)),
        max_days=_positive(claims, "maxDays"),
    )


def _text(claims: dict, name: str, *, required: bool = False) -> str | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > 500:
        raise TokenRefused(401, f"This token's {name} claim is not valid.")
    return value


def _choice(claims: dict, name: str, allowed: tuple[str, ...]) -> str | None:
    value = _text(claims, name)
    if value is not None and value not in allowed:
        raise TokenRefused(401, f"This token's {name} claim must be one of {', '.join(allowed)}.")
    return value


def _metric(claims: dict) -> str | None:
    value = _text(claims, "metric")
    if value is None or value.lower() == "all":
        return None
    metric = canonical_metric(value)
    if metric is None:
        raise TokenRefused(401, "This token's metric claim is not a known metric.")
    return metric


def _positive(claims: dict, name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 366:
        raise TokenRefused(401, f"This token's {name} claim must be a whole number of days.")
    return value
