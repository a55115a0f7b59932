"""What a login or an embed token may read: the one place a tenant scope is decided.

A customer sees only its own tenant, whatever the request names; staff may view any tenant
by name; an embed token opens only its own tenant's data, and its `customerId` can narrow
an EvoVoice account to one customer but never widen or move it. Each widget reads one
upstream only. Views hand this module the user or the verified grant; it answers a
`TenantScope` or refuses with a status and a reason.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from sqlalchemy import select

from core.extensions import db
from core.secrets_box import SecretBox
from models import RevokedEmbedToken, Tenant
from services.embed_tokens import EmbedGrant, TokenRefused
from services.usage import TenantScope


class ScopeRefused(Exception):
    """The login may not read what it asked for; `status` is 403 or 404."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Login(Protocol):
    """The parts of a signed-in user that decide what it may read."""

    @property
    def is_staff(self) -> bool: ...

    @property
    def tenant(self) -> Tenant | None: ...


def scope_for(tenant: Tenant, box: SecretBox) -> TenantScope:
    """Return everything the tenant may read; the isnotai key is decrypted only here."""
    key, problem = None, None
    if tenant.isnotai_key_encrypted:
        try:
            key = box.decrypt(tenant.isnotai_key_encrypted)
        except ValueError as exc:
            problem = str(exc)
    return TenantScope(
        name=tenant.name,
        isnotai_key=key,
        isnotai_region=tenant.isnotai_region,
        account_id=tenant.evovoice_account_id,
        customer_id=tenant.evovoice_customer_id,
        problem=problem,
    )


def require_staff(user: Login) -> None:
    """Refuse (403) a login that is not staff."""
    if not user.is_staff:
        raise ScopeRefused(403, "This page is for staff only.")


def viewed_tenant(user: Login, requested: str) -> Tenant | None:
    """Return the tenant a login sees: a customer's own (`requested` ignored); staff pick.

    Staff naming no tenant get None (the page lists them); an unknown name is refused (404).
    """
    if not user.is_staff:
        if user.tenant is None:
            raise ScopeRefused(403, "This login belongs to no tenant; ask staff to assign one.")
        return user.tenant
    name = requested.strip()
    if not name:
        return None
    tenant = db.session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise ScopeRefused(404, f"There is no tenant named {name[:100]!r}.")
    return tenant


def token_tenant(grant: EmbedGrant) -> Tenant:
    """Return the verified token's tenant, refusing revoked tokens and removed tenants."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.name == grant.tenant))
    if tenant is None:  # its key matched a moment ago: removed since
        raise TokenRefused(403, "This token names no tenant of this dashboard.")
    if grant.jti and db.session.scalar(
        select(RevokedEmbedToken.id).where(
            RevokedEmbedToken.tenant_id == tenant.id, RevokedEmbedToken.jti == grant.jti
        )
    ):
        raise TokenRefused(403, "This token has been revoked.")
    return tenant


def narrowed_scope(tenant: Tenant, grant: EmbedGrant, box: SecretBox) -> TenantScope:
    """Return the tenant's scope, narrowed (never widened) by the token's customerId."""
    scope = scope_for(tenant, box)
    if grant.customer_id is None or not scope.account_id:
        return scope
    if scope.customer_id is not None and scope.customer_id != grant.customer_id:
        raise TokenRefused(403, "This token asks for a customer outside the tenant's scope.")
    return replace(scope, customer_id=grant.customer_id)


def check_widget(grant: EmbedGrant, kind: str) -> None:
    """Refuse a token locked to another widget."""
    if grant.widget is not None and grant.widget != kind:
        raise TokenRefused(403, "This token is for a different widget.")


def widget_scope(tenant: Tenant, grant: EmbedGrant, kind: str, box: SecretBox) -> TenantScope:
    """Return what one widget reads: the metrics widget isnotai only, the other EvoVoice only."""
    check_widget(grant, kind)
    scope = narrowed_scope(tenant, grant, box)
    if kind == "metrics":
        return replace(scope, account_id=None, customer_id=None)
    return replace(scope, isnotai_key=None, isnotai_region=None, problem=None)
