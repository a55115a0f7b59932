"""A tenant: a customer organisation and the upstream sources its dashboard shows."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.extensions import db


class Tenant(db.Model):
    """A tenant with an optional isnotai integration and an optional EvoVoice scope."""

    __tablename__ = "tenants"
    # AUTOINCREMENT on SQLite: a removed tenant's id is never given to a later tenant.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    isnotai_key_encrypted: Mapped[str | None] = mapped_column(Text)
    isnotai_key_last4: Mapped[str | None] = mapped_column(String(4))
    isnotai_region: Mapped[str | None] = mapped_column(String(2))
    evovoice_account_id: Mapped[str | None] = mapped_column(String(200))
    evovoice_customer_id: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )
    # Origins allowed to frame this tenant's widgets, space-separated; empty: none.
    embed_origins: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Signs this tenant's alert and report webhooks (encrypted like the isnotai key).
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)

    @property
    def embed_origin_list(self) -> list[str]:
        """Return the origins allowed to frame this tenant's widgets."""
        return self.embed_origins.split() if self.embed_origins else []

    @property
    def has_isnotai(self) -> bool:
        """Tell whether an isnotai integration is configured."""
        return bool(self.isnotai_key_encrypted and self.isnotai_region)

    @property
    def has_evovoice(self) -> bool:
        """Tell whether an EvoVoice account is configured."""
        return bool(self.evovoice_account_id)

    @property
    def isnotai_key_masked(self) -> str:
        """Show the stored key as `aik_v1_…` and its last four characters."""
        return f"aik_v1_…{self.isnotai_key_last4}" if self.isnotai_key_last4 else ""
