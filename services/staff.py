"""Staff views of AI minutes: every account, one account's customers, or one customer.

EvoVoice answers every customer of every account in one response, so everything here works
on the answer the client already parsed (memoised per cache entry) and hands the page only
what it shows: the top N, one page of rows, at most a few dozen picker options.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TypeVar

from clients.errors import UpstreamError
from clients.evovoice import NOT_CONFIGURED, AIUsage, EvovoiceClient
from clients.fanout import both, run_all, within_page
from clients.result import Fetched
from core.periods import split

from .filters import Comparison, StaffQuery, UsageQuery
from .freshness import Freshness
from .shaping import Bucket, MinutesTotals, MonthPace, change_pct, month_pace, up_to
from .staff_growth import (
    COMPARE_BUDGET,
    AccountBuckets,
    BucketMemo,
    Movers,
    Trend,
    account_buckets,
    all_accounts,
    fresh_until,
    movers,
    overview_granularity,
    total_buckets,
    totals_of,
    trends,
)
from .staff_ranking import Row, customer_records, matching, sorted_records
from .staff_series import SeriesMemo, SeriesNumbers, expiry, numbers_of

T = TypeVar("T")

PAGE_SIZE = 25
TOP_N = 10
OPTIONS_LIMIT = 20
SUGGESTIONS = 5


# -- what the page shows --------------------------------------------------------------------


@dataclass(frozen=True)
class TablePage:
    """One page of a sorted, searched table, and where it lies in the whole."""

    rows: tuple[Row, ...]
    number: int
    pages: int
    matching: int  # rows matching the search, on every page
    first: int  # 1-based position of the first row shown (0 when none)
    requested: int  # the page asked for; differs from `number` when it was past the end

    @property
    def clamped(self) -> bool:
        """Tell whether the page asked for was past the end, so the last one is shown."""
        return self.requested != self.number


@dataclass(frozen=True)
class Ranking:
    """Rows ranked by AI minutes: the top N plus everything else, and one table page."""

    top: tuple[Row, ...]
    other: int  # minutes of every row not in the top N
    other_count: int
    sum: int  # minutes of every row (shares are of this)
    count: int  # every row, before the search
    table: TablePage

    @property
    def other_share(self) -> float | None:
        """Return the other rows' share of the whole, in percent."""
        return _share(self.other, self.sum)


@dataclass(frozen=True)
class Series(MinutesTotals):
    """AI minutes over time for an account or customer, with its range total."""

    buckets: tuple[Bucket, ...]
    total: int | None  # None: EvoVoice listed no record for the scope in the range
    previous_total: int | None
    projection: MonthPace | None
    compared: tuple[int | None, int | None] | None = None  # see MinutesTotals


@dataclass(frozen=True)
class Overview:
    """Every account: the total with its change and its buckets, the accounts ranked, how
    each account on the table's page moved, and the accounts that rose the most."""

    total: int | None  # None: EvoVoice listed no account at all
    previous_total: int | None
    projection: MonthPace | None
    accounts: Ranking
    buckets: tuple[Bucket, ...] = ()
    trends: dict[str, Trend] = field(default_factory=dict)  # the table page's accounts
    movers: Movers = field(default_factory=lambda: Movers((), ()))
    granularity: str = "day"  # of the buckets and trends (coarser than asked on big answers)
    series_note: str | None = None  # why there are no buckets or trends
    # While the range holds today: its whole days' total and the same days' back, which
    # stand in for (total, previous_total) in the change (`UsageQuery.compared`).
    compared: tuple[int | None, int | None] | None = None

    @property
    def change(self) -> float | None:
        """Return the change against the previous range, in percent."""
        return change_pct(*(self.compared or (self.total, self.previous_total)))

    def up_to(self, today: date) -> Overview:
        """Return the overview with no value in a bucket after today (not data yet)."""
        buckets = up_to(self.buckets, today)
        future = [b.start > today for b in self.buckets]
        trends = {
            account: replace(
                trend,
                values=tuple(
                    None if later else v for v, later in zip(trend.values, future, strict=True)
                ),
            )
            for account, trend in self.trends.items()
        }
        return replace(self, buckets=tuple(buckets), trends=trends)


@dataclass(frozen=True)
class UnknownId:
    """An account or customer id EvoVoice does not list in the range, and the closest it does."""

    kind: str  # "account" or "customer"
    id: str
    suggestions: tuple[str, ...]


@dataclass(frozen=True)
class StaffView:
    """Everything the staff page shows for one query."""

    query: StaffQuery
    freshness: Freshness = field(default_factory=lambda: Freshness(None))
    overview: Overview | None = None  # no account or customer chosen
    series: Series | None = None  # an account or a customer chosen
    customers: Ranking | None = None  # an account chosen, no customer
    error: UpstreamError | None = None
    configured: bool = True
    unknown: UnknownId | None = None  # the chosen account or customer is not listed
    # The whole days the changes compare while the range holds today (or later days); None
    # when the range is over, or when no change could be worked out from whole days.
    comparison: Comparison | None = None

    @property
    def status(self) -> int:
        """Return the HTTP status: 200, or the failure's (5xx).

        An id EvoVoice does not list is an answer (nothing in this range, and the closest
        ids), not a refused request: a 4xx here would mean the request was never read.
        """
        if self.error:
            return self.error.page_status
        return 200


def _share(minutes: int, whole: int) -> float | None:
    return minutes / whole * 100 if whole else None


def paginate(rows: Sequence[T], page: int, size: int = PAGE_SIZE) -> tuple[Sequence[T], int, int]:
    """Return one page of rows, its number (past the end: the last) and the page count."""
    pages = max(1, -(-len(rows) // size))
    number = min(page, pages)
    return rows[(number - 1) * size : number * size], number, pages


def rank(
    usage: AIUsage,
    scope: tuple,
    ident: Callable[[object], str],
    sort: str,
    search: str,
    page: int,
    *,
    top_n: int = TOP_N,
    page_size: int = PAGE_SIZE,
) -> Ranking:
    """Rank a scope of a parsed answer: top N by minutes, and one page of the searched table."""
    by_minutes = sorted_records(usage, scope, "-minutes")
    whole = sum(r.ai_minutes for r in by_minutes)
    found = matching(sorted_records(usage, scope, sort), ident, search)
    shown, number, pages = paginate(found, page, page_size)

    def row(record) -> Row:
        return Row.of(record, _share(record.ai_minutes, whole))

    top = by_minutes[:top_n]
    return Ranking(
        top=tuple(row(r) for r in top),
        other=whole - sum(r.ai_minutes for r in top),
        other_count=len(by_minutes) - len(top),
        sum=whole,
        count=len(by_minutes),
        table=TablePage(
            rows=tuple(row(r) for r in shown),
            number=number,
            pages=pages,
            matching=len(found),
            first=(number - 1) * page_size + 1 if shown else 0,
            requested=page,
        ),
    )


def closest(text: str, ids: Sequence[str], limit: int = SUGGESTIONS) -> tuple[str, ...]:
    """Return up to `limit` ids a mistyped or partial `text` most likely meant.

    Ids containing the text come first (in the order given), then the most similar ones.
    """
    folded = text.casefold()
    containing = [i for i in ids if folded in i.casefold()][:limit]
    similar = difflib.get_close_matches(text, ids, n=limit)
    return tuple(dict.fromkeys([*containing, *similar]))[:limit]


def account_id(record) -> str:
    """Return a record's account id."""
    return record.account_id


def customer_id(record) -> str:
    """Return a record's customer id."""
    return record.customer_id


class StaffService:
    """Reads every account's AI minutes with the service credential and shapes them."""

    def __init__(
        self,
        evovoice: EvovoiceClient | None,
        now=lambda: datetime.now(UTC),
        series_memo: SeriesMemo | None = None,
        bucket_memo: BucketMemo | None = None,
        compare_budget: int = COMPARE_BUDGET,
    ) -> None:
        self.evovoice = evovoice
        self.compare_budget = compare_budget
        self.now = now
        self.series_memo = series_memo
        self.bucket_memo = bucket_memo

    # -- reads ------------------------------------------------------------------------------

    @property
    def client(self) -> EvovoiceClient:
        """Return the EvoVoice client; callers check `evovoice` first to say it is missing."""
        if self.evovoice is None:
            raise UpstreamError("EvoVoice", NOT_CONFIGURED)
        return self.evovoice

    def usage(self, query: StaffQuery, *, refresh: bool = False) -> Fetched[AIUsage]:
        """Read the whole range in the query's scope (one call; EvoVoice rounds per call)."""
        r = query.range
        return self.client.usage(r.start, r.end, query.account, query.customer, refresh=refresh)

    def view(self, query: StaffQuery, *, refresh: bool = False) -> StaffView:
        """Read what the query needs (current and previous range concurrently) and shape it.

        Past the page's deadline the view is made of saved answers while the reads go on.
        """
        if self.evovoice is None:
            return StaffView(query, configured=False)
        return within_page(lambda: self._view(query, refresh), lambda: self._view(query, False))

    def _view(self, query: StaffQuery, refresh: bool) -> StaffView:
        try:
            return self._scoped(query, refresh) if query.scoped else self._all(query, refresh)
        except UpstreamError as exc:
            return StaffView(query, error=exc)

    def _totals(self, query: StaffQuery, start: date, end: date, refresh: bool) -> Fetched[AIUsage]:
        """Read a span in the query's scope for its totals only (each account's, for every
        account), without a record per customer: `listed_records` says how many it lists."""
        return self.client.usage(
            start, end, query.account, query.customer, refresh=refresh, totals_only=True
        )

    def _previous(self, query: StaffQuery, refresh: bool) -> Fetched[AIUsage]:
        # Only the scope's totals are compared.
        old = query.range.previous
        return self._totals(query, old.start, old.end, refresh)

    def _cut(self, r: UsageQuery) -> Comparison | None:
        """Return the whole days a change compares while the range holds today or later
        days (None when the range is over, or while none of its days is)."""
        compared = r.compared(self.now().date())
        return compared if compared is not None and compared.cut else None

    def _all(self, query: StaffQuery, refresh: bool) -> StaffView:
        r = query.range
        # Every account's totals are all this view shows of the range: its answer's customer
        # records stay unread (exports and pickers read them from the same cache entry).
        current, previous = both(
            lambda: self._totals(query, r.start, r.end, refresh),
            lambda: self._previous(query, refresh),
        )
        usage = current.value
        total = usage.minutes()
        ranking = rank(usage, ("accounts",), account_id, query.sort, query.q, query.page)
        now, before = totals_of(usage), totals_of(previous.value)
        # The buckets come after the range and its previous one: on a cold cache with a
        # large answer per bucket, a page past its deadline then has those saved at least,
        # and shows the total, ranking and movers while the buckets are still read.
        listed = current.value.listed_records
        granularity, note = overview_granularity(r, listed)
        cut = self._cut(r)
        if cut is not None and listed * 2 > self.compare_budget:
            cut = None  # too large an answer to read again: "no comparison" (COMPARE_BUDGET)
        (buckets, series_error), whole_days = both(
            lambda: (
                self._overview_buckets(query, granularity, current, refresh)
                if granularity is not None
                else (None, None)
            ),
            lambda: self._whole_days(cut, refresh) if cut is not None else None,
        )
        if series_error is not None:
            note = series_error.message
        minutes = list(buckets.minutes) if buckets is not None else []
        compared: tuple[dict[str, int], dict[str, int]] | None = None
        if cut is not None and whole_days is not None:
            compared = (whole_days.minutes[1], whole_days.minutes[0])
        over_time = (
            total_buckets(split(r.start, r.end, granularity), minutes)
            if minutes and granularity
            else ()
        )
        overview = Overview(
            total=total,
            previous_total=previous.value.minutes(),
            projection=month_pace(over_time, self.now(), total=total),
            accounts=ranking,
            buckets=over_time,
            trends=trends(
                (row.account_id for row in ranking.table.rows), now, before, minutes, compared
            ),
            movers=movers(*(compared or (now, before))),
            granularity=granularity or r.granularity,
            series_note=note,
            compared=None
            if compared is None
            else (all_accounts(compared[0]), all_accounts(compared[1])),
        )
        results: list[Fetched] = [current, previous]
        if buckets is not None:
            results.extend(buckets.results)
        if compared is not None and whole_days is not None:
            results.extend(whole_days.results)
        comparison = cut if compared is not None else None
        return StaffView(query, Freshness.of(results), overview=overview, comparison=comparison)

    def _whole_days(self, cut: Comparison, refresh: bool) -> AccountBuckets | None:
        """Return every account's minutes in the previous range's whole days and in the
        range's, each one read as `/usage` reads them (EvoVoice rounds per call, so summed
        day buckets would differ), remembered while their answers are fresh; or None when
        EvoVoice did not answer: the page then says there is no comparison, and stands."""
        spans = [(cut.previous_start, cut.previous_end), (cut.start, cut.end)]
        key = ("whole days", *spans)
        memo = self.bucket_memo
        if memo is not None and not refresh:
            found = memo.get(key, self.now())
            if found is not None:
                return found

        def read(span: tuple) -> Callable[[], Fetched[AIUsage]]:
            return lambda: self.client.usage(span[0], span[1], refresh=refresh, totals_only=True)

        try:
            fetched = run_all([read(s) for s in spans], at_once=self.client.concurrency)
        except UpstreamError:
            return None
        numbers = account_buckets(fetched)
        if memo is not None:
            memo.put(key, numbers, fresh_until(fetched, self.client.upstream.policy.ttl_for))
        return numbers

    def _overview_buckets(
        self, query: StaffQuery, granularity: str, current: Fetched[AIUsage], refresh: bool
    ) -> tuple[AccountBuckets | None, UpstreamError | None]:
        """Return every account's minutes per bucket (remembered while their answers are
        fresh), or the error that kept a bucket from being read: the rest of the overview
        stands without them."""
        r = query.range
        spans = split(r.start, r.end, granularity)
        if len(spans) == 1:
            return account_buckets([current]), None  # one bucket is the range, read already
        key = (r.start, r.end, granularity)
        memo = self.bucket_memo
        if memo is not None and not refresh:
            found = memo.get(key, self.now())
            if found is not None:
                return found, None

        def bucket(span: tuple) -> Callable[[], Fetched[AIUsage]]:
            # Account totals only: small in memory, and cached per bucket like the series
            # of one account, so a later view reads them from the cache.
            return lambda: self.client.usage(span[0], span[1], refresh=refresh, totals_only=True)

        try:
            fetched = run_all([bucket(s) for s in spans], at_once=self.client.concurrency)
        except UpstreamError as exc:
            return None, exc
        numbers = account_buckets(fetched)
        if memo is not None:
            memo.put(key, numbers, fresh_until(fetched, self.client.upstream.policy.ttl_for))
        return numbers, None

    def _series(self, query: StaffQuery, refresh: bool) -> SeriesNumbers:
        """Return the scope's minutes per bucket (remembered while their answers are fresh)."""
        r = query.range
        key = (r.start, r.end, r.granularity, query.account, query.customer)
        memo = self.series_memo
        if memo is not None and not refresh:
            found = memo.get(key, self.now())
            if found is not None:
                return found
        series = self.client.minutes_series(
            r.start, r.end, r.granularity, query.account, query.customer, refresh=refresh
        )
        numbers = numbers_of(series)
        if memo is not None:
            memo.put(key, numbers, expiry(series, self.client.upstream.policy.ttl_for))
        return numbers

    def _unknown(self, query: StaffQuery, scoped: Fetched[AIUsage]) -> StaffView | None:
        """Return the view for an account or customer EvoVoice does not list, if it is one.

        Its numbers would be a range of empty buckets, as if it had used nothing; the staff
        member more likely mistyped it, so the closest listed ids are offered instead.
        """
        if scoped.value.minutes(query.account, query.customer) is not None:
            return None
        fetched = self.usage(query.replace(account=None, customer=None))
        usage = fetched.value
        accounts = [r.account_id for r in sorted_records(usage, ("accounts",), "-minutes")]
        if query.account is not None and query.account not in accounts:
            kind, text, ids = "account", query.account, accounts
        else:
            scope = ("customers", query.account)
            records = sorted_records(usage, scope, "-minutes")
            kind, text = "customer", query.customer or ""
            ids = list(dict.fromkeys(r.customer_id for r in records))
        unknown = UnknownId(kind, text, closest(text, ids))
        return StaffView(query, Freshness.of([scoped, fetched]), unknown=unknown)

    def _scoped(self, query: StaffQuery, refresh: bool) -> StaffView:
        # One whole-range read tells whether the id is listed before a series of empty
        # buckets is read for it.
        unknown = self._unknown(query, self.usage(query, refresh=refresh))
        if unknown is not None:
            return unknown
        r = query.range
        cut = self._cut(r)
        reads: list[Callable[[], object]] = [
            lambda: self._series(query, refresh),
            lambda: self._previous(query, refresh),
        ]
        if cut is not None:
            # One scope's answers are small: whole days are always worth their reads.
            reads.append(lambda: self._scoped_days(query, cut, refresh))
        series, previous, *more = run_all(reads)
        scope = (query.account, query.customer)
        compared, days = None, None
        if cut is not None and more[0] is not None:
            days = more[0]
            compared = (days[1].value.minutes(*scope), days[0].value.minutes(*scope))
        shaped = Series(
            buckets=series.buckets,
            total=series.total,
            previous_total=previous.value.minutes(*scope),
            projection=month_pace(series.buckets, self.now(), total=series.total),
            compared=compared,
        )
        results: list[Fetched] = [*series.results, previous, *(days or ())]
        customers = None
        if query.customer is None:
            # The series read this whole-range answer moments ago (or it is still fresh).
            whole = self.usage(query)
            results.append(whole)
            scope = ("customers", query.account)
            customers = rank(whole.value, scope, customer_id, query.sort, query.q, query.page)
        comparison = cut if compared is not None else None
        return StaffView(
            query,
            Freshness.of(results),
            series=shaped,
            customers=customers,
            comparison=comparison,
        )

    def _scoped_days(
        self, query: StaffQuery, cut: Comparison, refresh: bool
    ) -> list[Fetched[AIUsage]] | None:
        """Return the scope's previous whole days and the range's, each one read (as on
        `/usage`), or None when EvoVoice did not answer (the page then says so)."""
        spans = [(cut.previous_start, cut.previous_end), (cut.start, cut.end)]

        def read(span: tuple) -> Callable[[], Fetched[AIUsage]]:
            return lambda: self._totals(query, span[0], span[1], refresh)

        try:
            return run_all([read(s) for s in spans], at_once=self.client.concurrency)
        except UpstreamError:
            return None

    # -- pickers and exports -----------------------------------------------------------------

    def account_options(self, query: StaffQuery) -> list[str]:
        """Return up to OPTIONS_LIMIT account ids matching the search, busiest first."""
        usage = self.usage(query.replace(account=None, customer=None)).value
        found = matching(sorted_records(usage, ("accounts",), "-minutes"), account_id, query.q)
        return [r.account_id for r in found[:OPTIONS_LIMIT]]

    def customer_options(self, query: StaffQuery) -> list[str]:
        """Return up to OPTIONS_LIMIT customer ids (of the account, if any), busiest first."""
        usage = self.usage(query.replace(customer=None)).value
        scope = ("customers", query.account)
        options: dict[str, None] = {}  # one customer id may appear under several accounts
        for record in matching(sorted_records(usage, scope, "-minutes"), customer_id, query.q):
            options.setdefault(record.customer_id)
            if len(options) == OPTIONS_LIMIT:
                break
        return list(options)

    def account_rows(self, query: StaffQuery) -> tuple[list[tuple[str, int]], Freshness]:
        """Return every row of the accounts table (all pages), sorted as on the page, and
        how fresh they are.

        With an account chosen that is its one row; otherwise `q` searches account ids.
        """
        fetched = self.usage(query.replace(customer=None))
        usage = fetched.value
        ordered: Sequence = sorted_records(usage, ("accounts",), query.sort)
        if query.account is not None:
            ordered = [r for r in ordered if r.account_id == query.account]
        else:
            ordered = matching(ordered, account_id, query.q)
        return [(r.account_id, r.ai_minutes) for r in ordered], Freshness.of([fetched])

    def customer_rows(self, query: StaffQuery) -> tuple[list[tuple[str, str, int]], Freshness]:
        """Return every customer row in scope (all pages), sorted as on the page, and how
        fresh they are.

        `q` searches what the page's table lists: account ids when no account or customer is
        chosen (the customers of the accounts shown), customer ids otherwise.
        """
        fetched = self.usage(query)
        usage = fetched.value
        ordered: Sequence = sorted_records(usage, ("customers", query.account), query.sort)
        if query.scoped:
            ordered = customer_records(ordered, query.customer)
            ordered = matching(ordered, customer_id, query.q)
        else:
            ordered = matching(ordered, account_id, query.q)
        rows = [(r.account_id, r.customer_id, r.ai_minutes) for r in ordered]
        return rows, Freshness.of([fetched])
