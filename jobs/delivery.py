"""Sending deliveries: claim a row, send it once, record the attempt, retry or give up.

A consumer claims a delivery with one conditional UPDATE (pending, due, no live lease) that
sets a lease, so two consumers never send it both. A consumer killed mid-send leaves its
lease to run out; a wake-up queued for that moment (and the minute's sweep) sends it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from core.config import Settings
from core.extensions import db
from models import Delivery, DeliveryAttempt
from presenters.alerts import shown_url
from services.webhook_secrets import UnreadableSecret, current_secret

from .mail import send_email
from .queue import queue_for
from .sending import Result
from .webhooks import send_webhook, whole_send_seconds

log = logging.getLogger(__name__)

STATUSES = ("sent", "retry", "failed", "skipped")
# An email's conversation is a few round trips of at most the SMTP timeout each.
EMAIL_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class Outcome:
    """How one delivery went in this call: sent, retry (later), failed, or skipped."""

    delivery_id: int
    channel: str
    target: str
    status: str
    detail: str

    def __str__(self) -> str:
        where = f"{self.channel} {self.target}"
        return f"delivery {self.delivery_id} ({where}): {self.status}, {self.detail}"


def parse_backoff(text: str) -> list[float]:
    """Return the seconds between tries from `30,120,600`; ValueError when unreadable."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(v <= 0 for v in values):
        raise ValueError(
            f"USAGE_DELIVERY_BACKOFF must be seconds above 0, comma-separated; got {text!r}"
        )
    return values


def lease_for(channel: str, settings: Settings) -> timedelta:
    """Return how long a claim holds: longer than one send can take."""
    if channel == "email":
        return EMAIL_LEASE
    # A whole send is cut at whole_send_seconds; the rest is room to record how it went.
    return timedelta(seconds=whole_send_seconds(settings) + settings.webhook_timeout + 2)


def shown_target(delivery: Delivery) -> str:
    """Return the address, or the URL without its query (webhook URLs may carry tokens)."""
    return shown_url(delivery.target) if delivery.channel == "webhook" else delivery.target


def due_ids(now: datetime | None = None) -> list[int]:
    """Return the ids of pending deliveries that are due and held by no consumer."""
    now = _utc(now)
    return list(
        db.session.scalars(
            select(Delivery.id)
            .where(*_claimable(now))
            .order_by(Delivery.next_attempt_at, Delivery.id)
        )
    )


def deliver_due(now: datetime | None = None) -> list[Outcome]:
    """Send every pending delivery that is due, in this process, claiming each first."""
    now = _utc(now)
    # Each claim's lease starts when its send does, not when the batch began.
    clock = _clock_from(now)
    return [deliver(delivery_id, clock()) for delivery_id in due_ids(now)]


def deliver(delivery_id: int, now: datetime | None = None) -> Outcome:
    """Claim one delivery and send it; record the attempt; schedule its retry if any."""
    now = _utc(now)
    clock = _clock_from(now)
    settings: Settings = current_app.config["USAGE"]
    row = db.session.get(Delivery, delivery_id)
    if row is None:
        db.session.rollback()
        return Outcome(delivery_id, "-", "-", "skipped", "no such delivery")
    lease = now + lease_for(row.channel, settings)
    claimed = db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, *_claimable(now))
        .values(lease_until=lease, attempts=Delivery.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(row)
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        outcome = Outcome(row.id, row.channel, shown_target(row), "skipped", _why_not(row, now))
        db.session.rollback()
        log.debug("%s", outcome)
        return outcome
    # If this process dies while sending, this wake-up (after the lease) sends it again.
    _wake(row.id, lease + timedelta(seconds=1))
    started, at = time.monotonic(), clock()
    try:
        result = _send(row, settings)
    except Exception as exc:  # recorded and retried, never lost
        log.exception("delivery %s: unexpected error while sending", row.id)
        result = Result.retry("error", f"unexpected error: {type(exc).__name__}")
    duration_ms = int((time.monotonic() - started) * 1000)
    return _record(row, lease, result, at, duration_ms, settings)


def _claimable(now: datetime) -> tuple:
    return (
        Delivery.state == "pending",
        Delivery.next_attempt_at <= now,
        or_(Delivery.lease_until.is_(None), Delivery.lease_until <= now),
    )


def _send(row: Delivery, settings: Settings) -> Result:
    if row.channel == "email":
        # demo/mail_sink.py says where it listens when USAGE_DEMO_SMTP_PORT is 0.
        return send_email(row, settings, current_app.extensions.get("demo_smtp_port"))
    if row.channel == "webhook":
        try:
            secret = current_secret(row.tenant, current_app.extensions["secret_box"])
        except UnreadableSecret as exc:
            return Result.retry("secret unreadable", str(exc))
        return send_webhook(row, secret, settings)
    return Result.failed("unknown channel", f"no way to send a {row.channel!r} delivery")


def _record(
    row: Delivery,
    lease: datetime,
    result: Result,
    at: datetime,
    duration_ms: int,
    settings: Settings,
) -> Outcome:
    values: dict = {"lease_until": None, "last_error": result.error}
    retry_at = None
    if result.ok:
        status, detail = "sent", result.detail or "sent"
        values |= {"state": "sent", "sent_at": at, "last_error": None}
    elif result.retryable:
        give_up = _aware(row.created_at) + timedelta(hours=settings.delivery_give_up_hours)
        if at >= give_up:
            status = "failed"
            detail = f"gave up after {settings.delivery_give_up_hours:g} h: {result.error}"
            values |= {"state": "failed", "last_error": detail}
        else:
            steps = parse_backoff(settings.delivery_backoff)
            wait = steps[min(row.attempts, len(steps)) - 1]
            retry_at = min(at + timedelta(seconds=wait), give_up)
            status = "retry"
            detail = f"{result.error}; next try at {retry_at:%Y-%m-%d %H:%M:%S} UTC"
            values["next_attempt_at"] = retry_at
    else:
        status, detail = "failed", result.error or result.status
        values |= {"state": "failed"}
    db.session.add(
        DeliveryAttempt(
            delivery_id=row.id,
            at=at,
            status=result.status[:40],
            error=result.error,
            duration_ms=duration_ms,
        )
    )
    kept = db.session.execute(
        update(Delivery)
        .where(Delivery.id == row.id, Delivery.lease_until == lease)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if kept.rowcount != 1:  # type: ignore[attr-defined]
        log.warning(
            "delivery %s: its lease ran out while sending (%s); another try may follow",
            row.id,
            result.status,
        )
    outcome = Outcome(row.id, row.channel, shown_target(row), status, detail)
    log.info("%s", outcome)
    if retry_at is not None:
        _wake(row.id, retry_at)
    return outcome


def _why_not(row: Delivery, now: datetime) -> str:
    if row.state != "pending":
        return f"already {row.state}"
    if row.lease_until is not None and _aware(row.lease_until) > now:
        return f"another consumer holds it until {_aware(row.lease_until):%H:%M:%S} UTC"
    if _aware(row.next_attempt_at) > now:
        return f"not due until {_aware(row.next_attempt_at):%Y-%m-%d %H:%M:%S} UTC"
    return "claimed by another consumer"


def _wake(delivery_id: int, at: datetime) -> None:
    try:
        queue_for(current_app._get_current_object()).send(delivery_id, at)  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - the minute's sweep finds it instead
        log.warning("delivery %s: could not queue a try (%s)", delivery_id, type(exc).__name__)


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return _aware(now).astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; they were stored as UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _clock_from(now: datetime) -> Callable[[], datetime]:
    # Attempts are timed from the `now` given (tests move it), advancing with the wall clock.
    offset = now - datetime.now(UTC)
    return lambda: datetime.now(UTC) + offset
