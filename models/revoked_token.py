"""An embed token revoked by its id (`jti`) before it expired."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db


class RevokedEmbedToken(db.Model):
    """One revoked token id of one tenant."""

    __tablename__ = "revoked_embed_tokens"
    __table_args__ = (UniqueConstraint("tenant_id", "jti"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )
