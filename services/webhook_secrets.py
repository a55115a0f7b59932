"""Tenants' webhook signing secrets: one each, stored encrypted like the isnotai key.

A tenant gets its secret the first time a webhook of its is sent or the secret is asked for
(`flask --app app tenants webhook-secret NAME`); only that command ever prints it.
"""

from __future__ import annotations

import secrets

from sqlalchemy import select, update

from core.extensions import db
from core.secrets_box import SecretBox
from models import Tenant

PREFIX = "whsec_"


class UnreadableSecret(ValueError):
    """A stored webhook secret opens with none of the configured encryption keys."""

    def __init__(self, tenant: str) -> None:
        super().__init__(
            f"tenant {tenant!r}: its webhook secret opens with none of the configured "
            "USAGE_ENCRYPTION_KEYS"
        )
        self.tenant = tenant


def new_secret() -> str:
    """Return a fresh webhook secret: 32 random bytes, URL-safe, recognisable by its prefix."""
    return PREFIX + secrets.token_urlsafe(32)


def current_secret(tenant: Tenant, box: SecretBox) -> str:
    """Return the tenant's webhook secret, making (and committing) one on first use."""
    if tenant.webhook_secret_encrypted is None:
        secret = new_secret()
        # Only if still unset: two consumers making one at once keep the first one written.
        made = db.session.execute(
            update(Tenant)
            .where(Tenant.id == tenant.id, Tenant.webhook_secret_encrypted.is_(None))
            .values(webhook_secret_encrypted=box.encrypt(secret))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        if made.rowcount == 1:  # type: ignore[attr-defined]
            return secret
        db.session.refresh(tenant)
    return _open(tenant, box)


def rotate(tenant: Tenant, box: SecretBox) -> str:
    """Replace the tenant's webhook secret at once; the old one signs nothing more. Commits."""
    secret = new_secret()
    tenant.webhook_secret_encrypted = box.encrypt(secret)
    db.session.commit()
    return secret


def reencrypt_secrets(box: SecretBox) -> int:
    """Re-encrypt every stored webhook secret under the newest key; the caller commits."""
    tenants = db.session.scalars(
        select(Tenant).where(Tenant.webhook_secret_encrypted.is_not(None))
    ).all()
    for tenant in tenants:
        assert tenant.webhook_secret_encrypted is not None  # selected for it
        try:
            tenant.webhook_secret_encrypted = box.rotate(tenant.webhook_secret_encrypted)
        except ValueError:
            raise UnreadableSecret(tenant.name) from None
    return len(tenants)


def _open(tenant: Tenant, box: SecretBox) -> str:
    assert tenant.webhook_secret_encrypted is not None  # set by now
    try:
        return box.decrypt(tenant.webhook_secret_encrypted)
    except ValueError:
        raise UnreadableSecret(tenant.name) from None
