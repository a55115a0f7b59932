"""Staff pages for alert rules: every tenant's rules, their form, and the delivery log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from core.extensions import db
from models import AlertRule, Delivery, Tenant
from presenters.alerts import describe, progress, shown_url, source_label
from presenters.formatting import ago
from services.alert_rules import CONDITIONS, SOURCES, WINDOWS, RuleErrors, parse_rule, save_rule

from .staff import staff_only

bp = Blueprint("alerts", __name__, url_prefix="/alerts")

# Recent deliveries the log shows; older ones stay in the database.
LOG_SIZE = 50
# RuleError names CLI options and checks; the form's field for each.
FORM_FIELDS = {
    "above": "threshold",
    "projected-above": "threshold",
    "spike": "threshold",
    "email": "emails",
    "webhook": "webhook_url",
}
FIELDS = ("tenant", "source", "window", "condition", "threshold", "emails", "webhook_url")


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@bp.app_template_filter("utc_time")
def utc_time(moment: datetime | None) -> Markup:
    """Write a stored time as "2026-12-01 06:15 UTC", never broken across lines."""
    if moment is None:
        return Markup("")
    return Markup('<span class="nowrap">{}</span>').format(f"{_utc(moment):%Y-%m-%d %H:%M} UTC")


@bp.app_template_filter("utc_iso")
def utc_iso(moment: datetime | None) -> str:
    """Write a stored time for <time datetime>."""
    return "" if moment is None else _utc(moment).isoformat(timespec="seconds")


@bp.app_template_filter("utc_ago")
def utc_ago(moment: datetime | None) -> str:
    """Say how long ago a stored time was: "5 minutes ago"."""
    return ago(None if moment is None else _utc(moment))


# The same gate as /staff: one rule for who is staff.
bp.before_request(staff_only)


def _tenants() -> list[Tenant]:
    return list(db.session.scalars(select(Tenant).order_by(Tenant.name)))


def _named(name: str) -> Tenant | None:
    name = name.strip()
    return db.session.scalar(select(Tenant).where(Tenant.name == name)) if name else None


def _rule(rule_id: int) -> AlertRule:
    return db.get_or_404(AlertRule, rule_id, description="There is no such alert rule.")


def _rows(rules: list[AlertRule]) -> list[dict]:
    return [
        {
            "rule": rule,
            "describe": describe(rule),
            "progress": progress(rule),
            "source": source_label(rule.source),
        }
        for rule in rules
    ]


@bp.get("")
def page():
    """List every tenant's rules (or one tenant's) and the recent deliveries."""
    tenant_name = request.args.get("tenant", "").strip()
    tenant = _named(tenant_name)
    if tenant_name and tenant is None:
        abort(404, f"There is no tenant named {tenant_name[:100]!r}.")
    rules = select(AlertRule).options(selectinload(AlertRule.tenant))
    deliveries = (
        select(Delivery)
        .options(selectinload(Delivery.tenant), selectinload(Delivery.attempt_log))
        .order_by(Delivery.id.desc())
        .limit(LOG_SIZE)
    )
    if tenant is not None:
        rules = rules.where(AlertRule.tenant_id == tenant.id)
        deliveries = deliveries.where(Delivery.tenant_id == tenant.id)
    found = db.session.scalars(rules.join(AlertRule.tenant).order_by(Tenant.name, AlertRule.id))
    return render_template(
        "alerts/page.html",
        tenants=_tenants(),
        tenant=tenant,
        rows=_rows(list(found)),
        deliveries=list(db.session.scalars(deliveries)),
    )


def _values(rule: AlertRule | None) -> dict[str, str]:
    """Return the form's values for a rule (or a new one's defaults)."""
    if rule is None:
        return {
            "tenant": request.args.get("tenant", ""),
            "source": "ai-minutes",
            "window": "month",
            "condition": "above",
        }
    return {
        "tenant": rule.tenant.name,
        "source": rule.source,
        "window": rule.window,
        "condition": rule.condition,
        "threshold": str(rule.threshold),
        "emails": "\n".join(rule.email_list),
        # Its query often holds the receiver's token: shown hidden, kept unless replaced.
        "webhook_url": shown_url(rule.webhook_url) if rule.webhook_url else "",
    }


def _kept_webhook(rule: AlertRule | None, sent: str) -> str:
    """Return the stored URL when the form sends it back as shown (its query hidden)."""
    if rule is not None and rule.webhook_url and sent.strip() == shown_url(rule.webhook_url):
        return rule.webhook_url
    return sent


def _form(
    rule: AlertRule | None, values: Mapping[str, str], errors: Mapping[str, str], status: int = 200
):
    return (
        render_template(
            "alerts/form.html",
            rule=rule,
            values=values,
            errors=errors,
            tenants=_tenants(),
            sources=[(s, source_label(s)) for s in SOURCES],
            windows=WINDOWS,
            conditions=CONDITIONS,
            demo=current_app.config["USAGE"].demo_enabled,
        ),
        status,
    )


def _save(rule: AlertRule | None):
    """Check the sent form and save the rule, or show the form again with the refusal."""
    values = {name: request.form.get(name, "")[:4000] for name in FIELDS}
    tenant = rule.tenant if rule is not None else _named(values["tenant"])
    problems: dict[str, str] = {}
    if tenant is None:
        problems["tenant"] = "Choose the tenant this rule watches."
    try:
        checked = parse_rule(
            source=values["source"],
            window=values["window"],
            condition=values["condition"],
            threshold=values["threshold"],
            emails=[values["emails"]],
            webhook_url=_kept_webhook(rule, values["webhook_url"]),
            demo=current_app.config["USAGE"].demo_enabled,
            levels=current_app.extensions["upstreams"].isnotai.levels,
        )
    except RuleErrors as exc:
        for error in exc.errors:  # one message a field, the first found
            problems.setdefault(FORM_FIELDS.get(error.field, error.field), error.message)
    if problems or tenant is None:
        return _form(rule, values, problems, 400)
    saved = save_rule(tenant.id, checked, rule)
    db.session.commit()
    flash(f"{'Saved' if rule else 'Added'} rule {saved.id} for {tenant.name}: {describe(saved)}.")
    return redirect(url_for("alerts.page", tenant=tenant.name), 303)


@bp.route("/new", methods=["GET", "POST"])
def new():
    """Show an empty rule form, or add the rule it sends."""
    if request.method == "POST":
        return _save(None)
    return _form(None, _values(None), {})


@bp.route("/<id:rule_id>/edit", methods=["GET", "POST"])
def edit(rule_id: int):
    """Show a rule's form, or save what it sends (the tenant stays)."""
    rule = _rule(rule_id)
    if request.method == "POST":
        return _save(rule)
    return _form(rule, _values(rule), {})


def _back():
    # Back to the list the button was pressed on: all tenants, or the one it was filtered by.
    return redirect(url_for("alerts.page", tenant=request.form.get("back_tenant") or None), 303)


@bp.post("/<id:rule_id>/enable")
def enable(rule_id: int):
    """Evaluate the rule again from the next run."""
    rule = _rule(rule_id)
    rule.enabled = True
    db.session.commit()
    flash(f"Enabled rule {rule.id}: {describe(rule)}.")
    return _back()


@bp.post("/<id:rule_id>/disable")
def disable(rule_id: int):
    """Stop evaluating the rule, keeping it and what it fired."""
    rule = _rule(rule_id)
    rule.enabled = False
    db.session.commit()
    flash(f"Disabled rule {rule.id}: {describe(rule)}.")
    return _back()


@bp.route("/<id:rule_id>/delete", methods=["GET", "POST"])
def delete(rule_id: int):
    """Ask to confirm; then remove the rule, with what it fired and sent (the database cascades)."""
    rule = _rule(rule_id)
    if request.method == "GET":
        return render_template(
            "alerts/delete.html", rule=rule, describe=describe(rule), back=request.args
        )
    words = describe(rule)
    db.session.delete(rule)
    db.session.commit()
    flash(f"Deleted rule {rule_id}: {words}.")
    return _back()
