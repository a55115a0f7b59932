"""Sending reports: each schedule's period once, with its emails, in one transaction.

A send is a `ReportSend` row, unique per (schedule, period), written in the same transaction
as its deliveries (services.deliveries): two consumers that both make a report write it
once, and the loser rolls back. A run that cannot read the upstreams writes nothing; the
next run tries again, up to `GRACE_DAYS` after the report's day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.extensions import db
from models import ReportSchedule, ReportSend, Tenant
from services.deliveries import add_email

from .content import Report, ReportUnavailable, build_report
from .periods import Period, due_period, last_whole


def record_send(
    tenant: Tenant, schedule_id: int | None, report: Report, emails: Sequence[str]
) -> list[int] | None:
    """Write the send and one email per address in one transaction; return the deliveries'
    ids, or None when this schedule's period was already sent (by this or another run)."""
    tenant_id = tenant.id
    try:
        send = ReportSend(
            schedule_id=schedule_id, tenant_id=tenant_id, period_key=report.period.key
        )
        db.session.add(send)
        db.session.flush()  # the unique (schedule, period) is checked here, before any email
        deliveries = [
            add_email(
                tenant_id, to, report.subject, report.text, report.html, report_send_id=send.id
            )
            for to in emails
        ]
        db.session.flush()
        ids = [delivery.id for delivery in deliveries]
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return ids


def _addresses(count: int) -> str:
    return f"{count} address{'' if count == 1 else 'es'}"


def send_due(now: datetime) -> list[str]:
    """Send every enabled schedule's report that is due and not sent yet; one line per outcome.

    A schedule whose period is already sent, or not due, says nothing.
    """
    today = now.astimezone(UTC).date()
    schedules = db.session.scalars(
        select(ReportSchedule).where(ReportSchedule.enabled).order_by(ReportSchedule.id)
    ).all()
    due = {s.id: p for s in schedules if (p := due_period(s.every, today)) is not None}
    if not due:
        return []
    sent = set(
        db.session.execute(
            select(ReportSend.schedule_id, ReportSend.period_key).where(
                ReportSend.schedule_id.in_(due),
                ReportSend.period_key.in_({p.key for p in due.values()}),
            )
        ).all()
    )
    # Schedules of one tenant and period share one reading of the upstreams.
    made: dict[tuple[int, str], Report | ReportUnavailable] = {}
    outcomes = []
    for schedule in schedules:
        period = due.get(schedule.id)
        if period is None or (schedule.id, period.key) in sent:
            continue
        tenant = schedule.tenant
        name = f"report schedule {schedule.id} ({tenant.name}, {period.key})"
        emails = schedule.email_list
        if not emails:
            outcomes.append(f"{name}: not sent: the schedule has no address")
            continue
        key = (tenant.id, period.key)
        if key not in made:
            try:
                made[key] = build_report(tenant, period.kind, period, now=now)
            except ReportUnavailable as exc:
                made[key] = exc
        report = made[key]
        if isinstance(report, ReportUnavailable):
            outcomes.append(f"{name}: not sent: {report.message}; {_retry(period, today)}")
            continue
        ids = record_send(tenant, schedule.id, report, emails)
        if ids is None:
            outcomes.append(f"{name}: already sent by another run")
        else:
            outcomes.append(f"{name}: queued for {_addresses(len(ids))}")
    return outcomes


def _retry(period: Period, today) -> str:
    if today < period.last_day:
        return f"the next run tries again (until {period.last_day.isoformat()})"
    return "this was the last day to send it: the period is skipped"


def report_addresses(tenant: Tenant, kind: str) -> tuple[str, ...]:
    """Return where a report sent by hand goes: the tenant's enabled schedules of that kind,
    else of any kind, each address once."""
    schedules = db.session.scalars(
        select(ReportSchedule)
        .where(ReportSchedule.tenant_id == tenant.id, ReportSchedule.enabled)
        .order_by(ReportSchedule.id)
    ).all()
    chosen = [s for s in schedules if s.every == kind] or list(schedules)
    found: dict[str, str] = {}
    for schedule in chosen:
        for address in schedule.email_list:
            found.setdefault(address.lower(), address)
    return tuple(found.values())


def send_now(
    tenant: Tenant, kind: str, emails: Sequence[str], now: datetime
) -> tuple[Report, list[int]]:
    """Make the report of the last whole period now and queue it for `emails`; a report sent
    by hand is never deduplicated. Raises ReportUnavailable when it cannot be made."""
    period = last_whole(kind, now.astimezone(UTC).date())
    report = build_report(tenant, kind, period, now=now)
    ids = record_send(tenant, None, report, emails)
    if ids is None:  # only a scheduled send has a unique (schedule, period)
        raise RuntimeError("a report sent by hand was refused as a repeat")
    return report, ids
