"""A tenant's usage for one query: both sources read, shaped into what the page shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from clients.deadline import deadline_in
from clients.errors import UpstreamError
from clients.evovoice import NOT_CONFIGURED, EvovoiceClient, MinutesSeries
from clients.fanout import both, run_all, within_page
from clients.isnotai import IsnotaiClient, IsnotaiUsage
from clients.result import Fetched

from .filters import Comparison, UsageQuery, fit_to_history
from .freshness import Freshness
from .shaping import (
    Bucket,
    MinutesTotals,
    MonthPace,
    change_pct,
    metric_buckets,
    month_pace,
    reading_on,
    total_through,
)
from .staff import Ranking, customer_id, rank


@dataclass(frozen=True)
class TenantScope:
    """What one tenant may read upstream; built from the login, never from the request."""

    name: str
    isnotai_key: str | None = None
    isnotai_region: str | None = None
    account_id: str | None = None
    customer_id: str | None = None
    problem: str | None = None  # why a configured source cannot be read (e.g. undecryptable key)


@dataclass(frozen=True)
class MetricPanel:
    """One metric's chart and card."""

    metric: str
    buckets: list[Bucket]
    previous: list[Bucket] | None  # aligned by position with `buckets`
    total: int | None
    previous_total: int | None
    projection: MonthPace | None
    is_level: bool = False  # a level is shown as a line and never summed
    # The previous range reaches back past the plan's history: part of it is missing, so
    # a change against it would compare unlike spans (a level: its compared reading is gone).
    previous_cut: bool = False
    # While the range runs past its last whole day, the change compares whole days only
    # (`UsageQuery.compared`): these (current, previous) totals stand in for the range's.
    compared: tuple[int | None, int | None] | None = None

    @property
    def change(self) -> float | None:
        """Return the change against the previous range, in percent."""
        if self.previous_cut:
            return None
        current, previous = self.compared or (self.total, self.previous_total)
        return change_pct(current, previous)

    @property
    def has_data(self) -> bool:
        """Tell whether any bucket has a value."""
        return any(b.value is not None for b in self.buckets)


@dataclass(frozen=True)
class MetricsSection:
    """The isnotai part of the page."""

    panels: list[MetricPanel] = field(default_factory=list)
    tier: str | None = None
    history_start: date | None = None
    # Metric types isnotai sent that are none of the five, each as a panel of its own.
    other_panels: list[MetricPanel] = field(default_factory=list)
    # The first day the plan keeps, when the range starts before it.
    available_from: date | None = None
    # isnotai reported the range per month, coarser than the granularity asked for.
    per_month: bool = False
    error: UpstreamError | None = None


@dataclass(frozen=True)
class MinutesSection(MinutesTotals):
    """The EvoVoice part of the page."""

    account_id: str
    customer_id: str | None
    buckets: list[Bucket] = field(default_factory=list)
    previous: list[Bucket] | None = None
    total: int | None = None
    previous_total: int | None = None
    projection: MonthPace | None = None
    error: UpstreamError | None = None
    # A tenant of a whole account: its customers ranked over the range (None otherwise).
    customers: Ranking | None = None
    compared: tuple[int | None, int | None] | None = None


@dataclass(frozen=True)
class UsageView:
    """Everything the usage page shows for one tenant and query."""

    scope: TenantScope
    query: UsageQuery
    metrics: MetricsSection | None  # None: the tenant has no isnotai integration
    minutes: MinutesSection | None  # None: the tenant has no EvoVoice account
    freshness: Freshness

    @property
    def errors(self) -> list[UpstreamError]:
        """Return the upstream failures that left a section without data."""
        return [s.error for s in (self.metrics, self.minutes) if s is not None and s.error]

    @property
    def status(self) -> int:
        """Return the HTTP status: 200, or the first failure's (502, 503 or 504)."""
        return self.errors[0].page_status if self.errors else 200


# What every page, fragment and export says when no EvoVoice credential is set.


class UsageService:
    """Reads and shapes one tenant's usage."""

    def __init__(
        self,
        isnotai: IsnotaiClient,
        evovoice: EvovoiceClient | None,
        now=lambda: datetime.now(UTC),
        deadline: float | None = None,
    ) -> None:
        self.isnotai = isnotai
        self.evovoice = evovoice
        self.now = now
        # Seconds all of one view's upstream reads may take together.
        self.deadline = deadline if deadline is not None else isnotai.upstream.policy.deadline

    def view(self, scope: TenantScope, query: UsageQuery, *, refresh: bool = False) -> UsageView:
        """Read both sources concurrently, within one deadline, and shape them for the page.

        Past the page's deadline the view is made of saved answers while the reads go on.
        """
        return within_page(
            lambda: self._view(scope, query, refresh), lambda: self._view(scope, query, False)
        )

    def _view(self, scope: TenantScope, query: UsageQuery, refresh: bool) -> UsageView:
        with deadline_in(self.deadline):
            query = self.fitted(scope, query)
            (metrics, metrics_from), (minutes, minutes_from) = both(
                lambda: self._metrics(scope, query, refresh),
                lambda: self._minutes(scope, query, refresh),
            )
        return UsageView(
            scope, query, metrics, minutes, Freshness.of([*metrics_from, *minutes_from])
        )

    # -- isnotai ---------------------------------------------------------------------------

    def fitted(self, scope: TenantScope, query: UsageQuery) -> UsageQuery:
        """Return the query, its default range moved inside the plan's history window.

        The window is the plan tier's, known only from an isnotai answer: the default range
        is read first (from the cache when it can be, so a refresh re-reads only what is
        shown), and a range the request named is never changed.
        """
        if not (
            query.defaulted and query.reads_metrics and scope.isnotai_key and scope.isnotai_region
        ):
            return query
        try:
            usage = self.metrics_usage(scope, query).value
        except UpstreamError:
            return query  # the read of the page itself shows the failure
        if usage.available_from is None:
            return query
        return fit_to_history(query, usage.available_from, self.now().date())

    def metrics_usage(
        self, scope: TenantScope, query: UsageQuery, *, refresh: bool = False
    ) -> Fetched[IsnotaiUsage]:
        """Read the tenant's isnotai usage for the query's range."""
        if not (scope.isnotai_key and scope.isnotai_region):
            raise ValueError(f"tenant {scope.name} has no isnotai integration")
        metric = None if query.metric == "all" else query.metric
        return self.isnotai.usage(
            scope.isnotai_key, scope.isnotai_region, query.start, query.end, metric, refresh=refresh
        )

    def _metrics(self, scope, query, refresh) -> tuple[MetricsSection | None, list[Fetched]]:
        """Return the isnotai section and the upstream results it was built from."""
        if not (query.reads_metrics and scope.isnotai_key and scope.isnotai_region):
            return None, []
        try:
            current, previous = both(
                lambda: self.metrics_usage(scope, query, refresh=refresh),
                lambda: self.metrics_usage(scope, query.previous, refresh=refresh),
            )
        except UpstreamError as exc:
            return MetricsSection(error=exc), []
        usage, before = current.value, previous.value
        now = self.now()
        # Days the plan does not keep have no run rate: project from the first one it keeps.
        kept_from = max(query.start, usage.available_from or query.start)
        comparison = query.compared(now.date())

        def compared(metric: str, level: bool) -> tuple[int | None, int | None] | None:
            if level:
                if query.end <= now.date():
                    return None  # the readings at the ends of both ranges, as reported
                # A range reaching past today: its latest reading, against the reading on
                # the same day of the previous range.
                back = query.reading_compared(now.date())
                return reading_on(usage, metric, now.date()), reading_on(before, metric, back)
            if comparison is not None and not comparison.cut:
                return None  # a range that is over compares its totals
            if comparison is None or "month" in (usage.granularity, before.granularity):
                return None, None  # no whole day yet, or no day to cut a month's answer at
            return (
                total_through(usage, metric, comparison.end),
                total_through(before, metric, comparison.previous_end),
            )

        def cut(level: bool) -> bool:
            kept = before.available_from
            if kept is None:
                return False
            # A level compares one reading, not a span: it stands if its day is kept.
            return not level or query.reading_compared(now.date()) < kept

        def panel(metric: str) -> MetricPanel:
            total = usage.totals.get(metric)
            level = metric in usage.levels
            buckets = metric_buckets(usage, metric, query.granularity)
            return MetricPanel(
                metric=metric,
                buckets=buckets,
                previous=metric_buckets(before, metric, query.granularity)
                if query.compare == "previous"
                else None,
                total=total,
                previous_total=before.totals.get(metric),
                projection=None if level else month_pace(buckets, now, kept_from, total),
                is_level=level,
                previous_cut=cut(level),
                compared=compared(metric, level),
            )

        section = MetricsSection(
            panels=[panel(metric) for metric in query.metrics],
            tier=usage.tier,
            history_start=usage.history_start(now.date()),
            other_panels=[panel(metric) for metric in other_metrics(usage, query)],
            available_from=usage.available_from,
            per_month=usage.granularity == "month" and query.granularity != "month",
        )
        return section, [current, previous]

    # -- EvoVoice --------------------------------------------------------------------------

    @property
    def client(self) -> EvovoiceClient:
        """Return the EvoVoice client; callers check `evovoice` first to say it is missing."""
        if self.evovoice is None:
            raise UpstreamError("EvoVoice", NOT_CONFIGURED)
        return self.evovoice

    def minutes_series(
        self, scope: TenantScope, query: UsageQuery, *, refresh: bool = False
    ) -> MinutesSeries:
        """Read the tenant's AI minutes per bucket, always in the tenant's own scope."""
        return self.client.minutes_series(
            query.start,
            query.end,
            query.granularity,
            scope.account_id,
            scope.customer_id,
            refresh=refresh,
        )

    def _minutes(self, scope, query, refresh) -> tuple[MinutesSection | None, list[Fetched]]:
        """Return the EvoVoice section and the upstream results it was built from."""
        if not scope.account_id:
            return None, []
        section = MinutesSection(scope.account_id, scope.customer_id)
        if self.evovoice is None:
            return _with_error(section, NOT_CONFIGURED), []
        old = query.previous
        comparison = query.compared(self.now().date())
        cut = comparison is not None and comparison.cut

        def whole(start: date, end: date) -> Fetched:
            return self.client.usage(
                start, end, scope.account_id, scope.customer_id, refresh=refresh
            )

        def previous():
            if query.compare == "previous":
                return self.minutes_series(scope, old, refresh=refresh)
            # A cut comparison reads the previous range's whole days instead (below).
            return None if cut else whole(old.start, old.end)

        reads = [lambda: self.minutes_series(scope, query, refresh=refresh), previous]
        if cut:
            reads += _whole_days(whole, comparison)
        try:
            series, prior, *settled = run_all(reads)
        except UpstreamError as exc:
            return MinutesSection(scope.account_id, scope.customer_id, error=exc), []
        previous_total, prior_buckets, prior_results = None, None, list(settled)
        if isinstance(prior, MinutesSeries):
            previous_total, prior_buckets = prior.total, minutes_buckets(prior)
            prior_results += prior.results
        elif prior is not None:
            previous_total = prior.value.minutes(scope.account_id, scope.customer_id)
            prior_results.append(prior)
        compared = None
        if comparison is None:
            compared = None, None  # no day of the range is over yet
        elif cut:
            compared = tuple(
                answer.value.minutes(scope.account_id, scope.customer_id) for answer in settled
            )
        buckets = minutes_buckets(series)
        section = MinutesSection(
            account_id=scope.account_id,
            customer_id=scope.customer_id,
            buckets=buckets,
            previous=prior_buckets,
            total=series.total,
            previous_total=previous_total,
            projection=month_pace(buckets, self.now(), total=series.total),
            customers=self._customers(scope, query),
            compared=compared,
        )
        return section, [*prior_results, *series.results]

    def _customers(self, scope: TenantScope, query: UsageQuery) -> Ranking | None:
        """Rank a whole account's customers over the range, as staff see them.

        The range's whole-account answer was just read for the total (its customers left
        out): this reads it again whole, from the cache. A breakdown that cannot be read
        leaves the rest of the section as it is.
        """
        if scope.customer_id is not None:
            return None
        try:
            whole = self.client.usage(query.start, query.end, scope.account_id)
        except UpstreamError:
            return None
        ranking = rank(whole.value, ("customers", scope.account_id), customer_id, "-minutes", "", 1)
        return ranking if ranking.count else None


def other_metrics(usage: IsnotaiUsage, query: UsageQuery) -> tuple[str, ...]:
    """Return the metric types shown besides the five: all isnotai sent, unless one is picked."""
    return usage.unknown_metrics if query.metric == "all" else ()


def _whole_days(whole, comparison: Comparison) -> list:
    """Return the reads of a cut comparison's totals: the range's whole days, then the
    same days of the previous range."""
    return [
        lambda: whole(comparison.start, comparison.end),
        lambda: whole(comparison.previous_start, comparison.previous_end),
    ]


def minutes_buckets(series: MinutesSeries) -> list[Bucket]:
    """Return an AI-minutes series as buckets (None: no record for the scope)."""
    return [Bucket(b.start, b.end, b.ai_minutes) for b in series.buckets]


def _with_error(section: MinutesSection, message: str) -> MinutesSection:
    error = UpstreamError("EvoVoice", message)
    return MinutesSection(section.account_id, section.customer_id, error=error)
