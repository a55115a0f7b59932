"""A tenant's widget signing key, named by a random key id (`kid`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db

from .tenant import Tenant


class EmbedKey(db.Model):
    """One signing key; a superseded key stays valid until `expires_at` (its grace)."""

    __tablename__ = "embed_keys"
    __table_args__ = (
        # At most one current (never-expiring) key per tenant, even with concurrent writers.
        Index(
            "ix_embed_keys_one_current",
            "tenant_id",
            unique=True,
            sqlite_where=db.text("expires_at IS NULL"),
            postgresql_where=db.text("expires_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    tenant: Mapped[Tenant] = relationship()
