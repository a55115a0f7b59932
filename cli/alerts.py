"""Alert rules: `flask --app app alerts add|list|remove|run`.

Every refusal is one line on standard error (`Error: …`) and a non-zero exit. A webhook URL
is shown without its query, where receivers often put a token.
"""

from __future__ import annotations

import importlib

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from core.extensions import db
from models import AlertRule, Tenant
from presenters.alerts import describe, progress, shown_url
from services.alert_rules import (
    SOURCES,
    WINDOWS,
    RuleError,
    parse_rule,
    save_rule,
)
from services.alerts import evaluate_all, remove_rule

from .admin import _echo_table, fail, find_tenant, printable

alerts_cli = AppGroup("alerts", help="Add, list, remove and run alert rules.")

CONDITION_OPTIONS = "--above N, --projected-above N or --spike PCT"


@alerts_cli.command("add")
@click.argument("tenant")
@click.option("--source", default="", help=f"What to watch: {', '.join(SOURCES)}.")
@click.option("--window", default="", help="month (to date), 7d (the last 7 full days), day.")
@click.option("--above", metavar="N", help="Fire when the window's total passes N.")
@click.option("--projected-above", metavar="N", help="Fire when the month is on pace to pass N.")
@click.option(
    "--spike", metavar="PCT", help="Fire when the last full day is PCT % above its average."
)
@click.option("--email", "emails", multiple=True, metavar="ADDR", help="Mail this address.")
@click.option("--webhook", metavar="URL", help="POST a signed JSON payload to this https URL.")
def add_rule(
    tenant: str,
    source: str,
    window: str,
    above: str | None,
    projected_above: str | None,
    spike: str | None,
    emails: tuple[str, ...],
    webhook: str | None,
) -> None:
    """Add an alert rule to a tenant and print its id."""
    owner = find_tenant(tenant)
    given = [
        (condition, value)
        for condition, value in (
            ("above", above),
            ("projected-above", projected_above),
            ("spike", spike),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise fail(f"give exactly one condition: {CONDITION_OPTIONS}")
    if not source.strip():
        raise fail(f"give --source: {', '.join(SOURCES)}")
    if not window.strip():
        raise fail(f"give --window: {', '.join(WINDOWS)}")
    condition, threshold = given[0]
    settings = current_app.config["USAGE"]
    try:
        checked = parse_rule(
            source=source,
            window=window,
            condition=condition,
            threshold=threshold,
            emails=emails,
            webhook_url=webhook,
            demo=settings.demo_enabled,
            levels=current_app.extensions["upstreams"].isnotai.levels,
        )
    except RuleError as exc:
        raise fail(exc.message) from None
    rule = save_rule(owner.id, checked)
    db.session.commit()
    click.echo(rule.id)



@alerts_cli.command("list")
@click.option("--tenant", "tenant_name", metavar="NAME", help="Only this tenant's rules.")
def list_rules(tenant_name: str | None) -> None:
    """List alert rules: id, tenant, rule, how far it is, enabled, where it tells."""
    query = select(AlertRule).join(Tenant).order_by(AlertRule.id)
    if tenant_name is not None:
        query = query.where(AlertRule.tenant_id == find_tenant(tenant_name).id)
    rules = db.session.scalars(query).all()
    if not rules:
        click.echo("No alert rules.")
        return
    rows: list[tuple[str, ...]] = [("ID", "TENANT", "RULE", "PROGRESS", "ENABLED", "TARGETS")]
    rows += [
        (
            str(rule.id),
            rule.tenant.name,
            describe(rule),
            printable(progress(rule)),
            "enabled" if rule.enabled else "disabled",
            ", ".join(targets(rule)) or "-",
        )
        for rule in rules
    ]
    _echo_table(rows)


def targets(rule: AlertRule) -> list[str]:
    """Return where a rule tells, as shown: its addresses, then its webhook without query."""
    shown = list(rule.email_list)
    if rule.webhook_url:
        shown.append(shown_url(rule.webhook_url))
    return [printable(target) for target in shown]


@alerts_cli.command("remove")
@click.argument("rule_id", metavar="ID")
def remove(rule_id: str) -> None:
    """Remove an alert rule, with what it fired and its deliveries."""
    text = rule_id.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise fail(f"a rule id is a whole number; got {rule_id[:40]!r}")
    rule = db.session.get(AlertRule, int(text))
    if rule is None:
        raise fail(f"no alert rule {int(text)}")
    said = f"{rule.id} ({rule.tenant.name}: {describe(rule)})"
    remove_rule(rule.id)
    db.session.commit()
    click.echo(f"Removed alert rule {said}.")


@alerts_cli.command("run")
def run() -> None:
    """Evaluate every rule now, then send every delivery that is due."""
    evaluations = evaluate_all()
    for evaluation in evaluations:
        click.echo(str(evaluation))
    if not evaluations:
        click.echo("No alert rules.")
    try:  # the queue's, imported only when it is needed
        delivery = importlib.import_module("jobs.delivery")
    except ImportError:
        raise fail("nothing was sent: the job queue (jobs.delivery) is not installed") from None
    outcomes = delivery.deliver_due()
    for outcome in outcomes:
        detail = f": {printable(outcome.detail)}" if getattr(outcome, "detail", None) else ""
        click.echo(
            f"delivery {outcome.delivery_id} {outcome.channel} to "
            f"{printable(shown_url(outcome.target))}: {outcome.status}{detail}"
        )
    if not outcomes:
        click.echo("No deliveries were due.")
