"""Embed tokens: HS256 JWTs a tenant's backend mints with its own signing key.

The JWT header names the key (`kid`); the token is checked with that key only, and the
key's tenant must be the token's `sub`, so one tenant's key never opens another's data.
Claims: `sub` (tenant name), `aud` (`usage-embed`), `exp` (required), `iat` (required),
optional `jti`, `widget` (`metrics` or `ai-minutes`), `metric`, `customerId` (narrows an
EvoVoice account to one customer), `preset` (a fixed range) and `maxDays` (the longest
range the widget may show). Locked claims win over the URL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt

from clients.isnotai import canonical_metric
from services.filters import PRESETS

AUDIENCE = "usage-embed"
ALGORITHM = "HS256"
WIDGETS = ("metrics", "ai-minutes")
LEEWAY = timedelta(seconds=30)  # clock skew between a tenant's backend and this app
MAX_KID = 100
_DURATION = re.compile(r"^(\d{1,9})([smhd]?)$")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_DURATION = timedelta(days=3650)
# NumericDate bounds that datetime can represent (years 1970 to 9999).
_LATEST_INSTANT = datetime(9999, 12, 31, tzinfo=UTC).timestamp()


class TokenRefused(Exception):
    """The token does not grant access; `status` is 401 (not valid) or 403 (not allowed)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class SigningKey:
    """One tenant's widget signing key; `retires_at` ends a superseded key's grace."""

    kid: str
    secret: str = field(repr=False)
    tenant: str
    retires_at: datetime | None = None


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


def parse_duration(text: str) -> timedelta:
    """Parse a duration like `15m`, `24h`, `90s`, `600` or `0`."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"a duration must look like 15m, 24h or 600s (got {text!r})")
    duration = timedelta(seconds=int(match[1]) * _DURATION_UNITS[match[2]])
    if duration > _MAX_DURATION:
        raise ValueError(f"a duration must be at most {_MAX_DURATION.days} days (got {text!r})")
    return duration


def parse_ttl(text: str) -> timedelta:
    """Parse a token lifetime like `15m`, `1h`, `90s` or `600` (never zero)."""
    lifetime = parse_duration(text)
    if not lifetime:
        raise ValueError(f"a lifetime must be longer than zero (got {text!r})")
    return lifetime


def mint(
    key: SigningKey,
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
    """Return a token for the key's tenant, signed with that key and naming it in `kid`."""
    now = now or datetime.now(UTC)
    claims: dict[str, object] = {
        "sub": key.tenant,
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
    return jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid})


def verify(
    token: str,
    find_key: Callable[[str], SigningKey | None],
    *,
    max_ttl: timedelta,
    now: datetime | None = None,
) -> EmbedGrant:
    """Check key, signature, algorithm, audience, times and claims; raise TokenRefused if bad."""
    if not token:
        raise TokenRefused(401, "This widget needs a token in its URL.")
    now = now or datetime.now(UTC)
    key = find_key(_kid(token))
    if key is None:
        raise TokenRefused(401, "This token names a signing key this dashboard does not know.")
    try:
        claims = jwt.decode(
            token,
            key.secret,
            algorithms=[ALGORITHM],  # never `none`, never whatever the header says
            audience=AUDIENCE,
            # Times are checked below against `now`, after their types.
            options={
                "require": ["exp", "iat", "sub", "aud"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidAudienceError:
        raise TokenRefused(401, "This token is not meant for usage widgets.") from None
    except jwt.InvalidAlgorithmError:
        raise TokenRefused(
            401, "This token is signed with an algorithm that is not accepted."
        ) from None
    except jwt.PyJWTError:
        raise TokenRefused(401, "This widget's token is not valid.") from None

    # The key decides the tenant: a token may only name the tenant whose key signed it.
    tenant = _text(claims, "sub", required=True)
    if tenant != key.tenant:
        raise TokenRefused(403, "This token names another tenant than the one that signed it.")
    if key.retires_at is not None and now >= key.retires_at:
        raise TokenRefused(403, "This token's signing key has been revoked; mint a new token.")
    issued, expires = _instant(claims, "iat"), _instant(claims, "exp")
    if expires <= now - LEEWAY:
        raise TokenRefused(401, "This widget's token has expired; reload the host page.")
    if issued > now + LEEWAY:
        raise TokenRefused(401, "This token is issued in the future; check the signing clock.")
    if expires <= issued:
        raise TokenRefused(401, "This token expires before it was issued.")
    if expires - issued > max_ttl or expires - now > max_ttl + LEEWAY:
        raise TokenRefused(401, f"This token lives longer than the allowed {max_ttl}.")
    return EmbedGrant(
        tenant=tenant,
        issued_at=issued,
        expires_at=expires,
        jti=_text(claims, "jti"),
        widget=_choice(claims, "widget", WIDGETS),
        metric=_metric(claims),
        customer_id=_text(claims, "customerId"),
        preset=_choice(claims, "preset", tuple(PRESETS)),
        max_days=_positive(claims, "maxDays"),
    )


def _kid(token: str) -> str:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise TokenRefused(401, "This widget's token is not valid.") from None
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID:
        raise TokenRefused(401, "This token does not name its signing key (kid).")
    return kid


def _instant(claims: dict, name: str) -> datetime:
    # A signed token is still input: a string, a bool or 1e20 here must be a 401, not a 500.
    value = claims[name]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= _LATEST_INSTANT
    ):
        raise TokenRefused(401, f"This token's {name} claim is not a valid time.")
    return datetime.fromtimestamp(value, UTC)


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
