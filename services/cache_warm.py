"""The nightly cache warm: each tenant's default /usage view read ahead of its first visit.

The view is read through the tenant's scope and the usage service exactly as /usage reads
it with no parameters, so the cached client stores the very answers the page will ask for.
Every read is charged to one caller, the job, within the upstream budget (the page's
rule, `USAGE_UPSTREAM_BUDGET` reads a minute): once it is spent the run stops and says so,
rather than overrun it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select

from clients.budget import Caller, UpstreamBudget, start_charging, stop_charging
from clients.errors import BudgetExceeded
from clients.telemetry import UPSTREAM_CALLS
from core.extensions import db
from models import Tenant
from services.filters import UsageQuery, parse_query
from services.tenancy import scope_for
from services.usage import UsageService
from upstreams import upstreams

# Who the warm's upstream reads are charged to (one budget for the whole run).
CALLER = "job:cache-warm"


def _calls_made() -> float:
    """Return the upstream attempts this process has made so far (every API and outcome)."""
    return sum(
        sample.value
        for metric in UPSTREAM_CALLS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


def _budget() -> UpstreamBudget | None:
    """Return the upstream budget, or None when USAGE_UPSTREAM_BUDGET is 0."""
    gate = upstreams().http.budget  # the saved-answers gate wraps the budget
    inner = getattr(gate, "budget", gate)
    return inner if isinstance(inner, UpstreamBudget) else None


def _reads(count: float) -> str:
    number = int(count)
    return f"{number} upstream read{'' if number == 1 else 's'}"


class _Run:
    """One warm: the service, the default query, and whether the budget is spent."""

    def __init__(self, now: datetime) -> None:
        sources = upstreams()
        self.service = UsageService(sources.isnotai, sources.evovoice, now=lambda: now)
        # What /usage shows with no parameters: the default range, fitted to the plan.
        self.query: UsageQuery = parse_query({}, now.astimezone(UTC).date())
        self.box = current_app.extensions["secret_box"]
        self.budget = _budget()
        self.spent_note = (
            f"the upstream budget ({self.budget.per_minute} reads a minute, "
            "USAGE_UPSTREAM_BUDGET) is spent"
            if self.budget is not None
            else ""
        )
        self.stopped = False

    def exhausted(self) -> bool:
        return self.budget is not None and self.budget.left(CALLER) <= 0

    def warm(self, tenant: Tenant) -> str:
        """Read one tenant's default view; say how many upstream reads it took, or why not."""
        scope = scope_for(tenant, self.box)
        if not (scope.isnotai_key or scope.account_id):
            why = scope.problem or "it has neither an isnotai integration nor an EvoVoice account"
            return f"{tenant.name}: not warmed: {why}"
        before = _calls_made()
        view = self.service.view(scope, self.query)
        made = _reads(_calls_made() - before)
        refused = any(isinstance(error, BudgetExceeded) for error in view.errors)
        partial = bool(view.errors) or view.freshness.stale
        if refused or (partial and self.exhausted()):
            self.stopped = True
            return f"{tenant.name}: partly warmed ({made}): {self.spent_note}; stopping"
        if view.errors:
            said = "; ".join(str(error) for error in view.errors)
            return f"{tenant.name}: not warmed ({made}): {said}"
        if view.freshness.stale:
            said = "; ".join(view.freshness.stale_reasons)
            return f"{tenant.name}: not warmed ({made}): only saved data answered ({said})"
        problem = f" (isnotai not read: {scope.problem})" if scope.problem else ""
        return f"{tenant.name}: warmed, {made}{problem}"


def warm_all(now: datetime) -> list[str]:
    """Warm every tenant's default /usage view, within the upstream budget; one line each."""
    tenants: Sequence[Tenant] = db.session.scalars(select(Tenant).order_by(Tenant.name)).all()
    run = _Run(now)
    lines: list[str] = []
    token = start_charging(Caller(lambda: CALLER))
    try:
        for tenant in tenants:
            if run.stopped or run.exhausted():
                run.stopped = True
                lines.append(f"{tenant.name}: not warmed: {run.spent_note}")
                continue
            lines.append(run.warm(tenant))
    finally:
        stop_charging(token)
    return lines
