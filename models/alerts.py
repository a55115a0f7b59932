"""Alert rules, scheduled reports, what they fired or sent, and every delivery attempt."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.extensions import db

from .tenant import Tenant


def _now() -> datetime:
    return datetime.now(UTC)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line]


class AlertRule(db.Model):
    """One tenant's rule: a source, a window and one condition, with where to tell."""

    __tablename__ = "alert_rules"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    # "ai-minutes" or an isnotai metric as the API names it ("ApiCalls").
    source: Mapped[str] = mapped_column(String(40))
    window: Mapped[str] = mapped_column(String(8))  # month | 7d | day
    condition: Mapped[str] = mapped_column(String(16))  # above | projected-above | spike
    # N for above and projected-above; the percentage for spike.
    threshold: Mapped[int] = mapped_column(BigInteger)
    emails: Mapped[str] = mapped_column(Text, default="", server_default="")  # one per line
    webhook_url: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=db.true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # The last evaluation: when, the value it read, or why it could not read one.
    evaluated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_value: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text)

    tenant: Mapped[Tenant] = relationship()

    @property
    def email_list(self) -> list[str]:
        """Return the addresses this rule mails."""
        return _lines(self.emails)


class AlertFiring(db.Model):
    """A rule that fired in one window: at most one row per (rule, window, condition)."""

    __tablename__ = "alert_firings"
    __table_args__ = (
        UniqueConstraint("rule_id", "window_key", "condition", name="uq_alert_firings_once"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True
    )
    window_key: Mapped[str] = mapped_column(String(32))  # 2026-12, 2026-11-30, …
    condition: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)
    fired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    rule: Mapped[AlertRule] = relationship()


class ReportSchedule(db.Model):
    """A tenant's weekly or monthly report, and who receives it."""

    __tablename__ = "report_schedules"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    every: Mapped[str] = mapped_column(String(8))  # week | month
    emails: Mapped[str] = mapped_column(Text, default="", server_default="")  # one per line
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=db.true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)

    tenant: Mapped[Tenant] = relationship()

    @property
    def email_list(self) -> list[str]:
        """Return the addresses this report goes to."""
        return _lines(self.emails)


class ReportSend(db.Model):
    """One report made for one period; a schedule sends each period at most once."""

    __tablename__ = "report_sends"
    __table_args__ = (
        UniqueConstraint("schedule_id", "period_key", name="uq_report_sends_once"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None for a report sent by hand (`reports send`), which is never deduplicated.
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_schedules.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    period_key: Mapped[str] = mapped_column(String(16))  # 2026-W48 | 2026-11
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Delivery(db.Model):
    """One message to one address or URL: written with what caused it, sent by the queue."""

    __tablename__ = "deliveries"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    # Sent as X-Usage-Delivery with webhooks, so a receiver can drop a redelivery.
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    firing_id: Mapped[int | None] = mapped_column(
        # A removed rule's firings go; what they sent stays in the delivery log.
        ForeignKey("alert_firings.id", ondelete="SET NULL"), index=True
    )
    report_send_id: Mapped[int | None] = mapped_column(
        ForeignKey("report_sends.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(8))  # email | webhook
    target: Mapped[str] = mapped_column(Text)  # an address or a URL
    subject: Mapped[str] = mapped_column(Text, default="", server_default="")
    body_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    body_html: Mapped[str] = mapped_column(Text, default="", server_default="")
    payload: Mapped[str] = mapped_column(Text, default="", server_default="")  # webhook JSON
    # pending | sent | failed (gave up after the retry period)
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # A consumer holds a delivery until this time; a killed consumer's hold runs out.
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)

    tenant: Mapped[Tenant] = relationship()
    attempt_log: Mapped[list[DeliveryAttempt]] = relationship(
        back_populates="delivery", order_by="DeliveryAttempt.id", cascade="all, delete-orphan"
    )


class DeliveryAttempt(db.Model):
    """One try at a delivery: when, how it ended, and the error if any."""

    __tablename__ = "delivery_attempts"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    status: Mapped[str] = mapped_column(String(40))  # "sent", "HTTP 500", "timeout", …
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)

    delivery: Mapped[Delivery] = relationship(back_populates="attempt_log")


class JobSlot(db.Model):
    """A periodic job's run for one slot: however many consumers, one row, one run."""

    __tablename__ = "job_slots"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[str] = mapped_column(String(32), primary_key=True)  # 2026-12-01T06:15, …
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class DemoMail(db.Model):
    """A message the demo's SMTP sink received, for /demo/mail (demo mode only)."""

    __tablename__ = "demo_mail"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    mail_from: Mapped[str] = mapped_column(Text)
    rcpt_to: Mapped[str] = mapped_column(Text)  # one per line
    subject: Mapped[str] = mapped_column(Text, default="", server_default="")
    raw: Mapped[str] = mapped_column(Text)  # the message as received (RFC 5322)
