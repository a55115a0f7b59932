"""Tenants' widget signing keys: stored encrypted, one current key, old ones until their grace."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from core.secrets_box import SecretBox
from models import EmbedKey, Tenant
from services.embed_tokens import SigningKey

log = logging.getLogger(__name__)


class UnreadableKey(ValueError):
    """A stored signing key opens with none of the configured encryption keys."""

    def __init__(self, tenant: str) -> None:
        super().__init__(
            f"tenant {tenant!r}: an embed signing key opens with none of the configured "
            "USAGE_ENCRYPTION_KEYS"
        )
        self.tenant = tenant


def new_secret() -> str:
    """Return a fresh signing secret: 32 random bytes, URL-safe."""
    return secrets.token_urlsafe(32)


def add_key(tenant: Tenant, box: SecretBox, *, now: datetime | None = None) -> SigningKey:
    """Give the tenant a new current key, in the session; the caller commits."""
    secret = new_secret()
    row = EmbedKey(
        tenant=tenant,
        kid=secrets.token_urlsafe(12),
        secret_encrypted=box.encrypt(secret),
        created_at=now or datetime.now(UTC),
    )
    db.session.add(row)
    return SigningKey(kid=row.kid, secret=secret, tenant=tenant.name)


def current_key(tenant: Tenant, box: SecretBox) -> SigningKey:
    """Return the tenant's current key, making one first for a tenant from before keys."""
    row = _current_row(tenant)
    if row is None:
        key = add_key(tenant, box)
        try:
            db.session.commit()
            return key
        except IntegrityError:  # another process made it at the same moment
            db.session.rollback()
            row = _current_row(tenant)
            assert row is not None  # the IntegrityError means the other process's row exists
    return _signing_key(row, tenant.name, box)


def rotate_key(
    tenant: Tenant, box: SecretBox, *, grace: timedelta, now: datetime | None = None
) -> tuple[SigningKey, datetime]:
    """Make a new current key; every older one stays valid for at most `grace`. Commits."""
    now = now or datetime.now(UTC)
    retires = now + grace
    db.session.execute(
        delete(EmbedKey).where(EmbedKey.tenant_id == tenant.id, EmbedKey.expires_at <= now)
    )
    for row in db.session.scalars(select(EmbedKey).where(EmbedKey.tenant_id == tenant.id)):
        if row.expires_at is None or _aware(row.expires_at) > retires:
            row.expires_at = retires
    db.session.flush()  # the old key stops being current before the new one is
    key = add_key(tenant, box, now=now)
    db.session.commit()
    return key, retires


def find_key(kid: str, box: SecretBox) -> SigningKey | None:
    """Return the key a token's `kid` names, with its tenant, or None."""
    found = db.session.execute(
        select(EmbedKey, Tenant.name).join(Tenant).where(EmbedKey.kid == kid)
    ).first()
    if found is None:
        return None
    row, tenant = found
    try:
        return _signing_key(row, tenant, box)
    except UnreadableKey:
        log.warning(
            "embed key %s of tenant %s opens with none of USAGE_ENCRYPTION_KEYS", kid, tenant
        )
        return None


def reencrypt_keys(box: SecretBox) -> int:
    """Re-encrypt every stored signing key under the newest key; the caller commits."""
    rows = db.session.execute(select(EmbedKey, Tenant.name).join(Tenant)).all()
    for row, tenant in rows:
        try:
            row.secret_encrypted = box.rotate(row.secret_encrypted)
        except ValueError:
            raise UnreadableKey(tenant) from None
    return len(rows)


def _current_row(tenant: Tenant) -> EmbedKey | None:
    return db.session.scalar(
        select(EmbedKey).where(EmbedKey.tenant_id == tenant.id, EmbedKey.expires_at.is_(None))
    )


def _signing_key(row: EmbedKey, tenant: str, box: SecretBox) -> SigningKey:
    try:
        secret = box.decrypt(row.secret_encrypted)
    except ValueError:
        raise UnreadableKey(tenant) from None
    retires = _aware(row.expires_at) if row.expires_at else None
    return SigningKey(kid=row.kid, secret=secret, tenant=tenant, retires_at=retires)


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
