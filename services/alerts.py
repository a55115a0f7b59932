"""Alert rules evaluated: each reads its tenant's usage as the page does, and fires at most
once per window and condition.

A firing and its deliveries are written in one transaction, under a unique row per (rule,
window, condition): two consumers evaluating the same rule write one firing, and the other
one's insert fails and is counted as already fired. A rule that cannot be read neither fires
nor clears: it keeps its last value, says why in `last_error`, and the next run retries.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import cast

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError

from clients.errors import UpstreamError
from core.extensions import db
from models import AlertFiring, AlertRule
from presenters.alerts import describe
from services import tenancy
from services.alert_messages import compose, value_text
from services.alert_readings import Reading, Unreadable, read_rule
from services.alert_windows import Window, overlapping, window_for
from services.deliveries import add_email, add_webhook
from services.usage import UsageService
from upstreams import upstreams

log = logging.getLogger(__name__)

FIRED = "fired"
ALREADY_FIRED = "already fired"
NOT_REACHED = "not reached"
UNREADABLE = "could not be evaluated"
SKIPPED = "skipped (disabled)"
# What a rule says when evaluating it failed in the dashboard itself (the log has the rest).
INTERNAL_ERROR = "the dashboard failed while evaluating it; the server log says why"


@dataclass(frozen=True)
class Evaluation:
    """What one evaluation of one rule found and did; str() is one printable line."""

    rule_id: int
    tenant: str
    description: str
    status: str
    window_key: str | None = None
    value: str | None = None  # the reading as a message says it ("12,345", "+72 %")
    error: str | None = None
    firing_id: int | None = None

    @property
    def fired(self) -> bool:
        """Tell whether this evaluation wrote a firing (and its deliveries)."""
        return self.status == FIRED

    def __str__(self) -> str:
        head = f"rule {self.rule_id} {self.tenant} {self.description}"
        window = f" (window {self.window_key})" if self.window_key else ""
        if self.status == SKIPPED:
            return f"{head}: {SKIPPED}"
        if self.status == UNREADABLE:
            return f"{head}: {UNREADABLE}: {self.error}{window}"
        return f"{head}: {self.value} — {self.status}{window}"


def usage_service(now: datetime) -> UsageService:
    """Return the usage service the pages use, its clock stopped at `now`."""
    sources = upstreams()
    return UsageService(sources.isnotai, sources.evovoice, now=lambda: now)


def evaluate_all(now: datetime | None = None) -> list[Evaluation]:
    """Evaluate every rule, in id order; disabled rules are skipped."""
    now = _utc(now or upstreams().http.clock())
    service = usage_service(now)
    ids = db.session.scalars(select(AlertRule.id).order_by(AlertRule.id)).all()
    results = []
    for rule_id in ids:
        rule = db.session.get(AlertRule, rule_id)
        if rule is not None:  # removed since the list was read
            results.append(evaluate(rule, now, service=service))
    return results


def evaluate(rule: AlertRule, now: datetime, *, service: UsageService | None = None) -> Evaluation:
    """Read a rule's number for the window holding `now`; fire once if it passes."""
    now, rule_id = _utc(now), rule.id
    said = partial(Evaluation, rule_id, rule.tenant.name, describe(rule))
    if not rule.enabled:
        return said(status=SKIPPED)
    window = window_for(rule.window, now)
    try:
        return _evaluate(rule, window, now, service or usage_service(now), said)
    except Exception:
        # One rule's fault must not stop the others; the log keeps the traceback.
        log.exception("evaluating alert rule %s failed", rule_id)
        db.session.rollback()
        _record(rule, now, error=INTERNAL_ERROR)
        db.session.commit()
        return said(status=UNREADABLE, window_key=window.key, error=INTERNAL_ERROR)


def _evaluate(
    rule: AlertRule,
    window: Window,
    now: datetime,
    service: UsageService,
    said: partial[Evaluation],
) -> Evaluation:
    try:
        scope = tenancy.scope_for(rule.tenant, current_app.extensions["secret_box"])
        reading = read_rule(service, scope, rule.source, rule.condition, window)
    except (Unreadable, UpstreamError) as exc:
        why = str(exc) if isinstance(exc, UpstreamError) else exc.message
        _record(rule, now, error=why)
        db.session.commit()
        return said(status=UNREADABLE, window_key=window.key, error=why)
    shown = value_text(rule, reading.value)
    if reading.value <= rule.threshold:
        _record(rule, now, value=reading.value)
        db.session.commit()
        return said(status=NOT_REACHED, window_key=window.key, value=shown)
    status, firing_id = _fire(rule, rule.tenant.name, window, reading, now)
    return said(status=status, window_key=window.key, value=shown, firing_id=firing_id)


def _fire(
    rule: AlertRule, tenant: str, window: Window, reading: Reading, now: datetime
) -> tuple[str, int | None]:
    """Write the firing, its deliveries and the rule's reading in one transaction."""
    message = compose(rule, tenant, window, reading, now, current_app.config["USAGE"].public_url)
    rule_id, tenant_id, condition = rule.id, rule.tenant_id, rule.condition
    emails, webhook = rule.email_list, rule.webhook_url
    try:
        # Writing the rule's row first takes its lock (a row lock in PostgreSQL, the write
        # lock in SQLite): evaluations of one rule decide one after the other, each seeing
        # what the one before committed, also across the days of a 7-day window.
        db.session.execute(
            update(AlertRule).where(AlertRule.id == rule_id).values(evaluated_at=now)
        )
        earlier = _firing_in(rule_id, condition, (window.key, *overlapping(window)))
        if earlier is not None:
            _record(rule, now, value=reading.value)
            db.session.commit()
            return ALREADY_FIRED, earlier
        firing = AlertFiring(
            rule_id=rule_id,
            window_key=window.key,
            condition=condition,
            value=reading.value,
            fired_at=now,
        )
        db.session.add(firing)
        db.session.flush()  # another consumer's firing of this window fails here
        for address in emails:
            add_email(
                tenant_id,
                address,
                message.subject,
                message.text,
                message.html,
                firing_id=firing.id,
            )
        if webhook:
            add_webhook(tenant_id, webhook, message.payload, firing_id=firing.id)
        _record(rule, now, value=reading.value)
        db.session.commit()
        return FIRED, firing.id
    except IntegrityError:
        db.session.rollback()
        _record(rule, now, value=reading.value)
        db.session.commit()
        return ALREADY_FIRED, _firing_in(rule_id, condition, (window.key,))


def _firing_in(rule_id: int, condition: str, keys: tuple[str, ...]) -> int | None:
    return db.session.scalar(
        select(AlertFiring.id).where(
            AlertFiring.rule_id == rule_id,
            AlertFiring.condition == condition,
            AlertFiring.window_key.in_(keys),
        )
    )


def _record(
    rule: AlertRule, now: datetime, *, value: float | None = None, error: str | None = None
) -> None:
    """Keep what this run found; a failed read keeps the last value (neither fires nor clears)."""
    rule.evaluated_at = now
    if error is not None:
        rule.last_error = error
    else:
        rule.last_value = value
        rule.last_error = None


def remove_rule(rule_id: int) -> bool:
    """Remove a rule and its firings; their deliveries stay in the log (the caller commits)."""
    # The database cascades to the firings and unlinks their deliveries (SQLite: foreign_keys=ON),
    # as a removed report schedule keeps what it sent.
    result = db.session.execute(delete(AlertRule).where(AlertRule.id == rule_id))
    return bool(cast(CursorResult, result).rowcount)


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
