"""Turn a StaffView into what the staff templates print: cards, ranking charts, tables, fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from flask import url_for

from services.filters import DEFAULT_SORT, MAX_ID, MAX_SEARCH, SORTS

from .charts import (
    COUNT_AXIS,
    Chart,
    TableRow,
    bucket_note,
    pace_of,
    rounding_note,
    series_figure,
)
from .formatting import (
    NOTHING_OVER,
    ONGOING,
    Change,
    change_text,
    period_label,
    signed_pct,
    span_label,
    thousands,
)
from .staff_charts import ranking_figure
from .staff_sparkline import Sparkline, sparkline

if TYPE_CHECKING:
    from services.filters import Comparison, StaffQuery
    from services.shaping import Bucket
    from services.staff import Ranking, StaffView
    from services.staff_growth import Mover, Trend


@dataclass(frozen=True)
class Column:
    """A table heading; sortable ones link to their sort."""

    label: str
    url: str | None = None
    aria_sort: str | None = None  # ascending / descending while the table is sorted by it


@dataclass(frozen=True)
class RowView:
    """One printed table row; url drills down into the account or customer."""

    id: str
    url: str | None
    minutes: str
    share: str
    trend: Sparkline | None = None  # the accounts table: minutes per bucket
    change: str | None = None  # the accounts table: against the previous range, in words


@dataclass(frozen=True)
class MoverView:
    """One account that rose the most: by how much, from what, to what."""

    id: str
    url: str
    increase: str
    previous: str
    total: str
    change: str


@dataclass(frozen=True)
class MoversView:
    """The largest rises against the previous range, in minutes and in percent."""

    absolute: tuple[MoverView, ...]
    relative: tuple[MoverView, ...]
    ongoing: bool  # the range is still running and not compared: a part against a whole
    note: str = ""  # which whole days the rises compare, while the range holds today
    # The columns' names: the two ranges, or the two spans of whole days compared.
    columns: tuple[str, str] = ("Previous range", "This range")


@dataclass(frozen=True)
class TableView:
    """A sortable, paged table of accounts or customers."""

    id: str
    trends: bool  # rows carry a sparkline and a change (the accounts table)
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[RowView, ...]
    summary: str
    notice: str | None
    pages: dict[str, str | None]  # first / previous / next / last → URL, None when not there
    note: str = ""  # which whole days the rows' changes compare, while the range holds today


@dataclass(frozen=True)
class UnknownView:
    """An id EvoVoice does not list in the range, with links to the closest ids it does."""

    kind: str  # "account" or "customer"
    id: str
    suggestions: tuple[tuple[str, str], ...]  # (id, URL of its view)


@dataclass(frozen=True)
class RankingChart:
    """The top N bars and the rest in one, with the same numbers as a table."""

    id: str
    title: str
    label: str  # what a bar is: Account or Customer
    figure: dict  # Plotly figure data; the template embeds it with `tojson`
    has_data: bool
    rows: tuple[RowView, ...]
    note: str = ""  # said under the chart, when its bars need it


def _link(query: StaffQuery, **changes) -> str:
    return url_for("staff.page", **query.replace(**changes).params())


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _drill(query: StaffQuery, row) -> str:
    return _link(
        query, account=row.account_id, customer=row.customer_id, q="", sort=DEFAULT_SORT, page=1
    )


def _row(query: StaffQuery, row) -> RowView:
    return RowView(row.id, _drill(query, row), thousands(row.ai_minutes), _share(row.share))


def change_words(trend: Trend) -> str:
    """Say how a row moved against the previous range: a signed percent, "new" for an
    account with nothing before, else a dash (never colour alone)."""
    if trend.new:
        return "new"
    change = trend.change
    if change is None:
        return "–"
    arrow = "▲ " if change > 0 else "▼ " if change < 0 else ""
    return f"{arrow}{signed_pct(change)}"


def _trend_row(
    query: StaffQuery, row, trend: Trend | None, no_change: bool, granularity: str
) -> RowView:
    base = _row(query, row)
    if trend is None:
        return base
    return replace(
        base,
        trend=sparkline(trend.values, granularity),
        # A range still running is a part: against a whole previous range it would fall.
        change="–" if no_change else change_words(trend),
    )


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def ranking_chart(
    chart_id: str,
    title: str,
    ranking: Ranking,
    noun: str,
    urls: Sequence[str | None] = (),
    note: str = "",
) -> RankingChart:
    """Return the top N bars and the rest in one; `urls` are where the top rows lead, if
    anywhere (a customer's own tenant page leads nowhere: it shows every customer)."""
    links = [*urls, *[None] * (len(ranking.top) - len(urls))]
    rows = tuple(
        RowView(r.id, url, thousands(r.ai_minutes), _share(r.share))
        for r, url in zip(ranking.top, links, strict=True)
    )
    if ranking.other_count:
        rest = f"{_plural(ranking.other_count, 'other ' + noun)}"
        rows += (RowView(rest, None, thousands(ranking.other), _share(ranking.other_share)),)
    return RankingChart(
        id=chart_id,
        title=title,
        label=noun.capitalize(),
        figure=ranking_figure(
            ranking.top, ranking.other, ranking.other_count, noun, [u or "" for u in links]
        ),
        has_data=ranking.sum > 0,
        rows=rows,
        note=note,
    )


def _ranking_chart(chart_id: str, title: str, ranking: Ranking, noun: str, query) -> RankingChart:
    return ranking_chart(chart_id, title, ranking, noun, [_drill(query, r) for r in ranking.top])


_ARIA = {"id": "ascending", "-id": "descending", "minutes": "ascending", "-minutes": "descending"}


def _table(
    query: StaffQuery,
    ranking: Ranking,
    noun: str,
    trends: dict[str, Trend] | None = None,
    no_change: bool = False,
    granularity: str = "day",
    note: str = "",
) -> TableView:
    page = ranking.table
    by_id, by_minutes = query.sort.endswith("id"), query.sort.endswith("minutes")
    columns = (
        Column(
            noun.capitalize(),
            _link(query, sort="-id" if query.sort == "id" else "id", page=1),
            _ARIA[query.sort] if by_id else None,
        ),
        Column(
            "AI minutes",
            _link(query, sort="minutes" if query.sort == "-minutes" else "-minutes", page=1),
            _ARIA[query.sort] if by_minutes else None,
        ),
        Column("Share"),
    )
    if trends is not None:
        columns += (Column("Trend"), Column("Change"))
    found = f" matching “{query.q}”" if query.q else ""
    if page.rows:
        last = page.first + len(page.rows) - 1
        plural = "" if page.matching == 1 else "s"
        summary = f"{page.first:,}–{last:,} of {page.matching:,} {noun}{plural}{found}"
    else:
        summary = f"No {noun}s{found}"
    if query.q:
        summary += f" (of {ranking.count:,})"
    notice = None
    if page.clamped:
        notice = f"There is no page {page.requested:,}; showing the last page, {page.number:,}."

    def to(number: int, show: bool) -> str | None:
        return _link(query, page=number) if show else None

    if trends is None:
        rows = tuple(_row(query, r) for r in page.rows)
    else:
        rows = tuple(
            _trend_row(query, r, trends.get(r.account_id), no_change, granularity)
            for r in page.rows
        )
    return TableView(
        id=f"staff-{noun}s",
        trends=trends is not None,
        caption=f"{noun.capitalize()}s by AI minutes",
        columns=columns,
        rows=rows,
        summary=f"{summary} · page {page.number:,} of {page.pages:,}",
        notice=notice,
        pages={
            "first": to(1, page.number > 2),
            "previous": to(page.number - 1, page.number > 1),
            "next": to(page.number + 1, page.number < page.pages),
            "last": to(page.pages, page.number < page.pages - 1),
        },
        note=note,
    )


def uncompared(view: StaffView, today: date | None) -> bool:
    """Tell whether the range holds today (or later days) and no change was worked out from
    its whole days: part of a day against a whole one would fall, so none is shown."""
    running = today is not None and view.query.range.end >= today
    return running and view.comparison is None


def _whole_days(comparison: Comparison) -> str:
    """Say which whole days a cut comparison sets against which."""
    return (
        f"Changes compare whole days: {span_label(comparison.start, comparison.end)} against "
        f"{span_label(comparison.previous_start, comparison.previous_end)} "
        f"({comparison.describe()})."
    )


def _change(value: float | None, view: StaffView, today: date | None) -> Change:
    """Say a total's change against the previous range, named by its dates as the usage page
    does; while the range holds today, of its whole days against the same days back, said
    so; none when those were not worked out (part of a day against a whole one would fall)."""
    comparison = view.comparison
    if comparison is not None:
        days = span_label(comparison.previous_start, comparison.previous_end)
        return change_text(value, against=days, note=comparison.describe())
    if uncompared(view, today):
        # A range of today alone has no whole day yet; a larger one was not read again.
        only_today = view.query.range.start == today
        return change_text(None, NOTHING_OVER if only_today else ONGOING)
    r = view.query.range
    return change_text(value, against=span_label(r.previous_start, r.previous_end))


def _minutes_figure(buckets: list[Bucket], granularity: str, today: date | None) -> dict:
    """Return AI minutes per bucket as bars, partial buckets marked, hovers in thousands."""
    return series_figure(
        "AI minutes",
        buckets,
        None,
        line=False,
        unit_axis=COUNT_AXIS,
        granularity=granularity,
        today=today,
        fmt=thousands,
    )


def _minutes_rows(buckets: list[Bucket], granularity: str, today: date | None) -> list[TableRow]:
    return [
        TableRow(period_label(b), thousands(b.value), None, bucket_note(b, granularity, today))
        for b in buckets
    ]


def _series_chart(view: StaffView, ongoing: bool, today: date | None) -> Chart:
    series = view.series
    buckets = list(series.buckets)
    granularity = view.query.range.granularity
    return Chart(
        id="staff-series",
        title="AI minutes",
        figure=_minutes_figure(buckets, granularity, today),
        rows=_minutes_rows(buckets, granularity, today),
        total=thousands(series.total),
        total_label="in the range so far" if ongoing else "in the range",
        change=_change(series.change, view, today),
        pace=pace_of(series.projection, "AI minutes", thousands),
        has_data=series.has_data,
        compare=False,
        note=rounding_note(series.total, buckets, today),
    )


def _total_chart(view: StaffView, ongoing: bool, today: date | None) -> Chart:
    """The all-account total over the range, with its change and projection."""
    overview = view.overview
    assert overview is not None
    buckets = list(overview.buckets)
    so_far = " so far" if ongoing else ""
    return Chart(
        id="staff-total",
        title="AI minutes",
        figure=_minutes_figure(buckets, overview.granularity, today),
        rows=_minutes_rows(buckets, overview.granularity, today),
        total=thousands(overview.total),
        total_label=f"AI minutes across every account in the range{so_far}",
        change=_change(overview.change, view, today),
        pace=pace_of(overview.projection, "AI minutes", thousands),
        has_data=bool(buckets) and (bool(overview.total) or any(b.value for b in buckets)),
        compare=False,
        empty=_series_missing(overview.series_note),
        note=rounding_note(overview.total, buckets, today),
    )


def _series_missing(note: str | None) -> str:
    """Say why the overview has no buckets (and no trends), if it has none for a reason."""
    if note is None:
        return ""
    return (
        f"No chart or trends per bucket ({note}); the total, top accounts, movers and "
        "changes are complete."
    )


def _mover(query: StaffQuery, mover: Mover) -> MoverView:
    url = _link(query, account=mover.account_id, customer=None, q="", sort=DEFAULT_SORT, page=1)
    change = mover.change
    return MoverView(
        id=mover.account_id,
        url=url,
        increase=f"+{thousands(mover.increase)}",
        previous=thousands(mover.previous),
        total=thousands(mover.total),
        change="new" if change is None else signed_pct(change),
    )


def _movers(view: StaffView, today: date | None) -> MoversView:
    overview, query = view.overview, view.query
    assert overview is not None
    return MoversView(
        absolute=tuple(_mover(query, m) for m in overview.movers.absolute),
        relative=tuple(_mover(query, m) for m in overview.movers.relative),
        ongoing=uncompared(view, today),
        note=_whole_days(view.comparison) if view.comparison is not None else "",
        columns=(
            span_label(view.query.range.previous_start, view.query.range.previous_end),
            span_label(view.query.range.start, view.query.range.end),
        )
        if view.comparison is None
        else (
            span_label(view.comparison.previous_start, view.comparison.previous_end),
            span_label(view.comparison.start, view.comparison.end),
        ),
    )


REFUSED_SCOPE = "filter refused"


def scope_label(query: StaffQuery) -> str:
    """Name what the staff page shows: every account, an account, a customer of one."""
    if query.account is None and query.customer is None:
        return "every account and customer"
    if query.customer is None:
        return f"account {query.account}"
    if query.account is None:
        return f"customer {query.customer} · every account"
    return f"account {query.account} · customer {query.customer}"


def page_title(scope: str) -> str:
    """Return the tab's title for what is shown (base.html adds the app's name)."""
    return f"Staff · AI minutes · {scope}"


def _unknown(view: StaffView) -> UnknownView | None:
    unknown, query = view.unknown, view.query
    if unknown is None:
        return None
    fresh = {"q": "", "sort": DEFAULT_SORT, "page": 1}
    if unknown.kind == "account":
        links = [_link(query, account=i, customer=None, **fresh) for i in unknown.suggestions]
    else:
        links = [_link(query, customer=i, **fresh) for i in unknown.suggestions]
    return UnknownView(
        unknown.kind, unknown.id, tuple(zip(unknown.suggestions, links, strict=True))
    )


def present_staff(view: StaffView, today: date | None = None) -> dict:
    """Return the template context for a staff view: only what is shown; with `today`, a
    range that reaches past it is said to be still running, and one that holds it compares
    whole days only."""
    query = view.query
    # Today is not over: a range holding it has totals so far.
    ongoing = today is not None and query.range.end >= today
    not_compared = uncompared(view, today)
    note = _whole_days(view.comparison) if view.comparison is not None else ""
    context: dict = {
        "view": view,
        "top_chart": None,
        "table": None,
        "series_chart": None,
        "all_accounts_url": _link(
            query, account=None, customer=None, q="", sort=DEFAULT_SORT, page=1
        ),
        "account_url": _link(query, customer=None, q="", sort=DEFAULT_SORT, page=1),
        "unknown": _unknown(view),
        "ongoing": ongoing,
        "total_chart": None,
        "movers": None,
        "series_note": None,  # why the overview's buckets are coarser than asked
    }
    if view.overview is not None:
        overview = view.overview
        context["total"] = thousands(overview.total)
        context["change"] = _change(overview.change, view, today)
        context["top_chart"] = _ranking_chart(
            "staff-accounts", "Top accounts", overview.accounts, "account", query
        )
        context["table"] = _table(
            query,
            overview.accounts,
            "account",
            overview.trends,
            not_compared,
            overview.granularity,
            note,
        )
        if overview.buckets and overview.series_note:
            context["series_note"] = overview.series_note
        context["total_chart"] = _total_chart(view, ongoing, today)
        context["movers"] = _movers(view, today)
    if view.series is not None:
        context["series_chart"] = _series_chart(view, ongoing, today)
    if view.customers is not None:
        context["top_chart"] = _ranking_chart(
            "staff-customers", "Top customers", view.customers, "customer", query
        )
        context["table"] = _table(query, view.customers, "customer")
    return context


def sent_fields(args: Mapping[str, str]) -> dict:
    """Return the form's fields as sent, within the limits: for filters that did not parse."""
    return {
        "account": args.get("account", "")[:MAX_ID],
        "customer": args.get("customer", "")[:MAX_ID],
        "q": args.get("q", "")[:MAX_SEARCH],
        "sort": args.get("sort") if args.get("sort") in SORTS else DEFAULT_SORT,
        "account_options": (),
        "customer_options": (),
    }


def form_fields(query: StaffQuery, view: StaffView) -> dict:
    """Return the values of the form's account, customer, search and sort fields."""
    accounts = view.overview.accounts.top if view.overview else ()
    customers = view.customers.top if view.customers else ()
    return {
        "account": query.account or "",
        "customer": query.customer or "",
        "q": query.q,
        "sort": query.sort,
        "account_options": tuple(r.account_id for r in accounts),
        "customer_options": tuple(r.customer_id for r in customers),
    }
