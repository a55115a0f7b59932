"""Staff views of AI minutes: every account, one account's customers, or one customer.

EvoVoice answers every customer of every account in one response, so everything here works
on the answer the client already parsed (memoised per cache entry) and hands the page only
what it shows: the top N, one page of rows, at most a few dozen picker options.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TypeVar

from clients.deadline import both
from clients.errors import UpstreamError
from clients.evovoice import AIUsage, EvovoiceClient
from clients.result import Fetched

from .filters import FilterError, UsageQuery, parse_query
from .freshness import Freshness
from .shaping import Bucket, MinutesTotals, change_pct, projection
from .staff_ranking import Row, customer_records, matching, sorted_records
from .staff_series import SeriesMemo, SeriesNumbers, expiry, numbers_of

T = TypeVar("T")

SORTS = ("-minutes", "minutes", "id", "-id")
DEFAULT_SORT = "-minutes"
PAGE_SIZE = 25
TOP_N = 10
OPTIONS_LIMIT = 20
MAX_PAGE = 10_000
MAX_SEARCH = 200
MAX_ID = 500
_RANGE_PARAMS = ("start", "end", "preset", "granularity")


@dataclass(frozen=True)
class StaffQuery:
    """What the staff page shows: a range, an optional account and customer, one table page."""

    range: UsageQuery
    account: str | None = None
    customer: str | None = None
    q: str = ""
    sort: str = DEFAULT_SORT
    page: int = 1

    @property
    def scoped(self) -> bool:
        """Tell whether an account or a customer is chosen (else: every account)."""
        return self.account is not None or self.customer is not None

    def replace(self, **changes) -> StaffQuery:
        """Return this query with some fields changed."""
        return replace(self, **changes)

    def params(self) -> dict[str, str]:
        """Return the canonical query parameters (for links, exports and the form)."""
        params = {"granularity": self.range.granularity}
        if self.range.preset:
            params["preset"] = self.range.preset
        else:
            params["start"] = self.range.start.isoformat()
            params["end"] = self.range.end.isoformat()
        if self.account is not None:
            params["account"] = self.account
        if self.customer is not None:
            params["customer"] = self.customer
        if self.q:
            params["q"] = self.q
        if self.sort != DEFAULT_SORT:
            params["sort"] = self.sort
        if self.page != 1:
            params["page"] = str(self.page)
        return params


def _text(args: Mapping[str, str], name: str) -> str:
    value = args.get(name)
    return value if isinstance(value, str) else ""


def _no_controls(name: str, value: str) -> None:
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise FilterError(name, f"{name} must not contain control characters")


def _exact_id(args: Mapping[str, str], name: str) -> str | None:
    value = _text(args, name)
    if not value.strip():
        return None
    if len(value) > MAX_ID:
        raise FilterError(name, f"{name} must be at most {MAX_ID} characters long")
    _no_controls(name, value)
    return value  # exact: ids are compared as EvoVoice sends them


def parse_staff_query(args: Mapping[str, str], today: date) -> StaffQuery:
    """Parse the staff page's parameters; raise FilterError naming the first bad one."""
    query = parse_query({k: args[k] for k in _RANGE_PARAMS if args.get(k) is not None}, today)
    account, customer = _exact_id(args, "account"), _exact_id(args, "customer")
    search = _text(args, "q").strip()
    if len(search) > MAX_SEARCH:
        raise FilterError("q", f"q (the search) must be at most {MAX_SEARCH} characters long")
    _no_controls("q", search)
    sort = _text(args, "sort").strip() or DEFAULT_SORT
    if sort not in SORTS:
        raise FilterError("sort", f"sort must be one of {', '.join(SORTS)} (got {sort[:40]!r})")
    page_text = _text(args, "page").strip() or "1"
    if not (page_text.isascii() and page_text.isdigit() and 1 <= int(page_text) <= MAX_PAGE):
        raise FilterError(
            "page", f"page must be a whole number from 1 to {MAX_PAGE} (got {page_text[:40]!r})"
        )
    return StaffQuery(query, account, customer, search, sort, int(page_text))


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
    projection: int | None


@dataclass(frozen=True)
class Overview:
    """Every account: the total with its change, and the accounts ranked."""

    total: int
    previous_total: int | None
    projection: int | None
    accounts: Ranking

    @property
    def change(self) -> float | None:
        """Return the change against the previous range, in percent."""
        return change_pct(self.total, self.previous_total)


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

    @property
    def status(self) -> int:
        """Return the HTTP status: 200, or the failure's (502, 503 or 504)."""
        return self.error.page_status if self.error else 200


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
    ) -> None:
        self.evovoice = evovoice
        self.now = now
        self.series_memo = series_memo

    # -- reads ------------------------------------------------------------------------------

    def usage(self, query: StaffQuery, *, refresh: bool = False) -> Fetched[AIUsage]:
        """Read the whole range in the query's scope (one call; EvoVoice rounds per call)."""
        r = query.range
        return self.evovoice.usage(r.start, r.end, query.account, query.customer, refresh=refresh)

    def view(self, query: StaffQuery, *, refresh: bool = False) -> StaffView:
        """Read what the query needs (current and previous range concurrently) and shape it."""
        if self.evovoice is None:
            return StaffView(query, configured=False)
        try:
            return self._scoped(query, refresh) if query.scoped else self._all(query, refresh)
        except UpstreamError as exc:
            return StaffView(query, error=exc)

    def _previous(self, query: StaffQuery, refresh: bool) -> Fetched[AIUsage]:
        old = query.range.previous
        return self.evovoice.usage(
            old.start, old.end, query.account, query.customer, refresh=refresh
        )

    def _all(self, query: StaffQuery, refresh: bool) -> StaffView:
        current, previous = both(
            lambda: self.usage(query, refresh=refresh), lambda: self._previous(query, refresh)
        )
        usage = current.value
        total = usage.minutes()
        r = query.range
        overview = Overview(
            total=total,
            previous_total=previous.value.minutes(),
            projection=projection(total, r.start, r.end, self.now()),
            accounts=rank(usage, ("accounts",), account_id, query.sort, query.q, query.page),
        )
        return StaffView(query, Freshness.of([current, previous]), overview=overview)

    def _series(self, query: StaffQuery, refresh: bool) -> SeriesNumbers:
        """Return the scope's minutes per bucket (remembered while their answers are fresh)."""
        r = query.range
        key = (r.start, r.end, r.granularity, query.account, query.customer)
        memo = self.series_memo
        if memo is not None and not refresh:
            found = memo.get(key, self.now())
            if found is not None:
                return found
        series = self.evovoice.minutes_series(
            r.start, r.end, r.granularity, query.account, query.customer, refresh=refresh
        )
        numbers = numbers_of(series)
        if memo is not None:
            memo.put(key, numbers, expiry(series, self.evovoice.upstream.policy.ttl_for))
        return numbers

    def _scoped(self, query: StaffQuery, refresh: bool) -> StaffView:
        r = query.range
        series, previous = both(
            lambda: self._series(query, refresh), lambda: self._previous(query, refresh)
        )
        shaped = Series(
            buckets=series.buckets,
            total=series.total,
            previous_total=previous.value.minutes(query.account, query.customer),
            projection=projection(series.total, r.start, r.end, self.now()),
        )
        results = [*series.results, previous]
        customers = None
        if query.customer is None:
            # The series read this whole-range answer moments ago (or it is still fresh).
            whole = self.usage(query)
            results.append(whole)
            scope = ("customers", query.account)
            customers = rank(whole.value, scope, customer_id, query.sort, query.q, query.page)
        return StaffView(query, Freshness.of(results), series=shaped, customers=customers)

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
        ordered = sorted_records(usage, ("accounts",), query.sort)
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
        ordered = sorted_records(usage, ("customers", query.account), query.sort)
        if query.scoped:
            ordered = customer_records(ordered, query.customer)
            ordered = matching(ordered, customer_id, query.q)
        else:
            ordered = matching(ordered, account_id, query.q)
        rows = [(r.account_id, r.customer_id, r.ai_minutes) for r in ordered]
        return rows, Freshness.of([fetched])
