"""Scheduled reports: `flask --app app reports add|send|list|remove`.

Every refusal is one line on standard error (`Error: …`) and a non-zero exit.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import func, select, update

from core.extensions import db
from models import ReportSchedule, ReportSend, Tenant
from services.alert_rules import EVERY, RuleError, parse_choice, parse_emails, parse_schedule
from services.reports import ReportUnavailable, last_whole, report_addresses, send_now
from upstreams import upstreams

from .admin import _echo_table, fail, find_tenant, printable

reports_cli = AppGroup("reports", help="Schedule weekly or monthly usage reports; send one now.")

emails_option = click.option(
    "--email",
    "emails",
    multiple=True,
    metavar="ADDR",
    help="An address to send to (repeat the option for more).",
)


def _checked(check):
    """Return check()'s value, a refused value becoming the one-line error."""
    try:
        return check()
    except RuleError as exc:
        raise fail(exc.message) from None


@reports_cli.command("add")
@click.argument("tenant_name", metavar="TENANT")
@click.option(
    "--every", default="", metavar="week|month", help="week: on Mondays; month: on the 1st."
)
@emails_option
def add_schedule(tenant_name: str, every: str, emails: tuple[str, ...]) -> None:
    """Send TENANT's usage report every week or month; prints the new schedule's id."""
    tenant = find_tenant(tenant_name)
    every, addresses = _checked(lambda: parse_schedule(every=every, emails=emails))
    schedule = ReportSchedule(tenant_id=tenant.id, every=every, emails="\n".join(addresses))
    db.session.add(schedule)
    db.session.commit()
    click.echo(schedule.id)


@reports_cli.command("send")
@click.argument("tenant_name", metavar="TENANT")
@click.option("--period", default="", metavar="week|month", help="The last whole week or month.")
@emails_option
def send_report(tenant_name: str, period: str, emails: tuple[str, ...]) -> None:
    """Send TENANT's report for the last whole week or month now, and deliver it."""
    tenant = find_tenant(tenant_name)
    kind = _checked(lambda: parse_choice("period", period, EVERY))
    addresses = _checked(lambda: parse_emails(emails)) or report_addresses(tenant, kind)
    if not addresses:
        raise fail(f"tenant {tenant.name} has no report schedule with addresses: give --email")
    now = upstreams().http.clock()
    try:
        report, ids = send_now(tenant, kind, addresses, now)
    except ReportUnavailable as exc:
        label = last_whole(kind, now.date()).label
        raise fail(
            f"the report for {label} could not be made: {exc.message}; nothing was sent"
        ) from None
    count = f"{len(ids)} address{'' if len(ids) == 1 else 'es'}"
    click.echo(f"Report for {report.period.label} queued for {count}.")
    try:
        from jobs.delivery import deliver_due
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("jobs"):
            raise
        raise fail("the job queue (jobs/) is missing: the report stays queued") from None
    outcomes = {o.delivery_id: o for o in deliver_due() if o.delivery_id in ids}
    for delivery_id in ids:
        outcome = outcomes.get(delivery_id)
        if outcome is None:
            click.echo(f"  delivery {delivery_id}: pending (another consumer holds it)")
            continue
        detail = f": {outcome.detail}" if outcome.detail else ""
        click.echo(f"  {outcome.target}: {outcome.status}{detail}")
    if any(outcomes.get(i) is None or outcomes[i].status != "sent" for i in ids):
        raise fail("not every email was sent; the queue retries those it can")


@reports_cli.command("list")
@click.option("--tenant", "tenant_name", metavar="NAME", help="Only this tenant's schedules.")
def list_schedules(tenant_name: str | None) -> None:
    """List report schedules: id, tenant, how often, addresses, the last period sent."""
    query = (
        select(ReportSchedule, Tenant.name).join(Tenant).order_by(Tenant.name, ReportSchedule.id)
    )
    if tenant_name is not None:
        query = query.where(ReportSchedule.tenant_id == find_tenant(tenant_name).id)
    schedules = db.session.execute(query).all()
    if not schedules:
        click.echo("No report schedules.")
        return
    last = dict(
        db.session.execute(
            select(ReportSend.schedule_id, func.max(ReportSend.period_key)).group_by(
                ReportSend.schedule_id
            )
        ).all()
    )
    rows = [("ID", "TENANT", "EVERY", "ENABLED", "LAST SENT", "EMAILS")]
    rows += [
        (
            str(schedule.id),
            name,
            schedule.every,
            "yes" if schedule.enabled else "no",
            last.get(schedule.id) or "-",
            printable(", ".join(schedule.email_list)),
        )
        for schedule, name in schedules
    ]
    _echo_table(rows)


@reports_cli.command("remove")
@click.argument("schedule_id", metavar="ID")
def remove_schedule(schedule_id: str) -> None:
    """Remove a report schedule (what it already sent stays in the delivery log)."""
    schedule = None
    if schedule_id.isascii() and schedule_id.isdigit() and len(schedule_id) < 19:
        schedule = db.session.get(ReportSchedule, int(schedule_id))
    if schedule is None:
        raise fail(f"no report schedule with id {schedule_id[:40]!r}")
    what = f"report schedule {schedule.id} ({schedule.tenant.name}, every {schedule.every})"
    # Its sends are kept, as by hand, so the deliveries they made stay in the log.
    db.session.execute(
        update(ReportSend).where(ReportSend.schedule_id == schedule.id).values(schedule_id=None)
    )
    db.session.delete(schedule)
    db.session.commit()
    click.echo(f"Removed {what}.")
