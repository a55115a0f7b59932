"""A person who signs in: a tenant's customer or a staff member."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from core.extensions import db

from .tenant import Tenant

ROLES = ("customer", "staff")
SESSION_ID_LENGTH = 64


def new_session_id() -> str:
    """Return a random session identity (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    """A login; customers belong to exactly one tenant."""

    __tablename__ = "users"
    # AUTOINCREMENT on SQLite: a removed user's id is never given to a later user.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # What session and remember-me cookies name instead of the id: random and never reused,
    # so a cookie outlives neither a sign-out everywhere, a password change nor its user.
    session_id: Mapped[str] = mapped_column(
        String(SESSION_ID_LENGTH), unique=True, default=new_session_id
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=lambda: datetime.now(UTC)
    )

    tenant: Mapped[Tenant | None] = relationship()

    def set_password(self, password: str) -> None:
        """Store a scrypt hash of the password and sign the user out everywhere."""
        self.password_hash = generate_password_hash(password, method="scrypt")
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        """Tell whether the password matches."""
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        """Make every existing session and remember-me cookie of this user useless."""
        self.session_id = new_session_id()

    def get_id(self) -> str:
        """Return the session identity that cookies carry."""
        return self.session_id

    @property
    def is_staff(self) -> bool:
        """Tell whether the user is staff."""
        return self.role == "staff"
