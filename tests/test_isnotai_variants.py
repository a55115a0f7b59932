"""Every way isnotai may answer what its documentation leaves open, against the oracle.

Each variant is a switch of the isnotai simulator (and, where the dashboard cannot detect
it, the matching USAGE_* setting). For each, the customer page (/usage) and both customer
exports (/usage/metrics.csv, /usage/ai-minutes.csv) must show exactly the numbers the
simulator's oracle computes: every chart value, card total, table cell and CSV row.
"""

from __future__ import annotations

import csv
import html as html_lib
import io
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest

from clients.isnotai import METRICS
from core.periods import split
from presenters.formatting import bytes_column, human_bytes
from simulators.data import (
    EXTRA_METRIC,
    TIER_WINDOW_DAYS,
    evovoice_expected,
    isnotai_expected,
    isnotai_integration,
)
from simulators.isnotai import _METRIC_CASES
from tests.helpers_html import text

NORTHWIND = "acct-northwind"
PER_MONTH = "isnotai reports this range per month"
NOT_ON_PLAN = "not available on the"  # ... Free / Pro plan: the plan is named


@dataclass(frozen=True)
class Variant:
    """One way of answering: simulator switches, and the setting that matches it."""

    sim: dict
    app: dict = field(default_factory=dict)


VARIANTS = {
    "default": Variant({}),
    "month": Variant({"isnotai_granularity": "month"}),
    "month-as-first-date": Variant(
        {"isnotai_granularity": "month", "isnotai_month_label": "first-day"}
        | {"isnotai_period_format": "date"}
    ),
    "month-as-first-datetime": Variant(
        {"isnotai_granularity": "month", "isnotai_month_label": "first-day"}
    ),
    "zone-plus-2": Variant({"isnotai_period_zone": "+02:00"}),
    "zone-minus-8": Variant({"isnotai_period_zone": "-08:00"}),
    "hours": Variant({"isnotai_granularity": "hour", "isnotai_period_format": "zulu"}),
    "hours-zone-plus-2": Variant({"isnotai_granularity": "hour", "isnotai_period_zone": "+02:00"}),
    "hours-zone-minus-8": Variant({"isnotai_granularity": "hour", "isnotai_period_zone": "-08:00"}),
    **{
        f"metric-{case}": Variant({"isnotai_metric_case": case})
        for case in ("lower", "upper", "snake", "upper_snake", "kebab", "words")
    },
    "unknown-metric": Variant({"isnotai_extra_metric": True}),
    "unknown-metric-snake": Variant({"isnotai_extra_metric": True, "isnotai_metric_case": "snake"}),
    "strict-date-times": Variant({"isnotai_date_params": "strict"}),
    "strict-date-times-unnamed": Variant({"isnotai_date_params": "strict-unnamed"}),
    "end-read-as-instant": Variant(
        {"isnotai_date_params": "instant", "isnotai_granularity": "hour"}
    ),
    "end-left-out": Variant({"isnotai_date_params": "instant-exclusive"}),
    "end-left-out-hours": Variant(
        {"isnotai_date_params": "instant-exclusive", "isnotai_granularity": "hour"}
    ),
    "empty-outside-window": Variant({"isnotai_window": "empty"}),
    "int64-big": Variant({"isnotai_values": "big"}),
    "int64-strings": Variant({"isnotai_values": "string"}),
    "int64-big-strings": Variant({"isnotai_values": "big-string", "isnotai_totals": "canonical"}),
    "totals-none": Variant({"isnotai_totals": "none"}),
    "totals-unknown": Variant({"isnotai_totals": "unknown"}),
    "storage-flow": Variant({"isnotai_storage": "flow"}, {"USAGE_ISNOTAI_STORAGE": "flow"}),
    "storage-flow-monthly": Variant(
        {"isnotai_storage": "flow", "isnotai_granularity": "month"},
        {"USAGE_ISNOTAI_STORAGE": "flow"},
    ),
}


@pytest.fixture
def variant(request) -> Variant:
    return VARIANTS[getattr(request, "param", "default")]


@pytest.fixture
def app_config(app_config, variant):
    return {**app_config, **variant.app}


@pytest.fixture
def tenants(make_tenant, make_user):
    make_tenant("acme", integration="acme", account=NORTHWIND)  # Pro: 30 days
    make_tenant("globex", integration="globex")  # Enterprise: 7 years
    make_tenant("initech", integration="initech")  # Free: 7 days
    for name in ("acme", "globex", "initech"):
        make_user(f"{name}@example.com", tenant=name)


def today() -> date:
    return datetime.now(UTC).date()


# -- the oracle -------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What one metric must show over a range."""

    label: str  # the chart title (the upstream's spelling for a metric none of the five)
    spans: list[tuple[date, date]]
    values: list[int | None]
    available: list[bool]
    total: int | None
    in_bytes: bool


def expected_metrics(name: str, start: date, end: date, granularity: str, sim: dict) -> dict:
    """Return metric -> Expected, from the oracle's daily values, as the page must show them."""
    if sim.get("isnotai_granularity") == "month":
        granularity = "month"  # isnotai gives no finer buckets, so none are drawn
    levels = {"StorageBytes"} if sim.get("isnotai_storage", "level") == "level" else set()
    metrics = (*METRICS, EXTRA_METRIC) if sim.get("isnotai_extra_metric") else METRICS
    daily = isnotai_expected(
        name,
        start,
        end,
        today=today(),
        metrics=metrics,
        big=sim.get("isnotai_values") in ("big", "big-string"),
    )
    first_kept = today() - timedelta(days=TIER_WINDOW_DAYS[isnotai_integration(name).tier] - 1)
    spans = split(start, end, granularity)
    expected = {}
    for metric in metrics:
        level = metric in levels
        by_day = daily[metric]
        values = []
        for s, e in spans:
            inside = [v for d, v in sorted(by_day.items()) if s <= d <= e]
            values.append(None if not inside else inside[-1] if level else sum(inside))
        days = [v for _, v in sorted(by_day.items())]
        total = None if not days else days[-1] if level else sum(days)
        label = metric
        if metric == EXTRA_METRIC:
            label = _METRIC_CASES[sim.get("isnotai_metric_case", "canonical")](metric)
        expected[metric] = Expected(
            label,
            spans,
            values,
            [e >= first_kept for _, e in spans],
            total,
            metric == "StorageBytes",
        )
    return expected


# -- reading the page -------------------------------------------------------------------


def charts(page: str) -> dict[str, dict]:
    """Return chart title -> its figure's values, card total and table cells."""
    found = {}
    for block in re.findall(r'<figure class="chart card".*?</figure>', page, re.S):
        if '<span class="big">' not in block:
            continue  # a ranking (a whole account's customers), not a series with a card
        title = html_lib.unescape(re.search(r'<h3 id="[^"]+">(.*?)</h3>', block, re.S)[1])
        figure = re.search(
            r'<script type="application/json" id="[^"]+">(.*?)</script>', block, re.S
        )
        found[title] = {
            "y": json.loads(figure[1])["data"][-1]["y"] if figure else None,
            "total": html_lib.unescape(re.search(r'<span class="big">(.*?)</span>', block)[1]),
            "rows": [
                # A partial period's note ("(partial)", "(so far)") is not part of its dates.
                (text(period).split(" (")[0], text(value))
                for period, value, *_ in re.findall(
                    r'<tr><th scope="row">(.*?)</th><td>(.*?)</td>', block
                )
            ],
        }
    return found


def shown(value: int | None, in_bytes: bool) -> str:
    if value is None:
        return "–"
    return human_bytes(value) if in_bytes else f"{value:,}"


def period(span: tuple[date, date]) -> str:
    s, e = span
    return s.isoformat() if s == e else f"{s.isoformat()} – {e.isoformat()}"


LABELS = {
    "ApiCalls": "API calls",
    "Events": "Events",
    "Sessions": "Sessions",
    "StorageBytes": "Storage",
    "BotAnalyses": "Bot analyses",
}


def check_page(client, name, start, end, granularity, sim):
    response = client.get(f"/usage?start={start}&end={end}&granularity={granularity}")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    page = response.get_data(as_text=True)
    on_page = charts(page)
    expected = expected_metrics(name, start, end, granularity, sim)
    for metric, want in expected.items():
        got = on_page[LABELS.get(metric, want.label)]
        values = [v if ok else None for v, ok in zip(want.values, want.available, strict=True)]
        if any(v is not None for v in values):
            assert got["y"] == values, metric
        else:
            assert got["y"] is None, metric
        assert got["total"] == shown(want.total, want.in_bytes), metric
        # A column of bytes shares one unit, the largest value's.
        cell = bytes_column(want.values) if want.in_bytes else lambda v: shown(v, False)
        tier = isnotai_integration(name).tier
        cells = [
            (period(span), cell(v) if ok else f"{NOT_ON_PLAN} {tier.capitalize()} plan")
            for span, v, ok in zip(want.spans, want.values, want.available, strict=True)
        ]
        assert got["rows"] == cells, metric
        # A day before the window is never a number, least of all 0.
        assert all(v is None for v, ok in zip(want.values, want.available, strict=True) if not ok)
    coarser = sim.get("isnotai_granularity") == "month" and granularity != "month"
    assert (PER_MONTH in page) == coarser
    assert ("Other metrics reported by isnotai" in page) == bool(sim.get("isnotai_extra_metric"))
    tier = isnotai_integration(name).tier
    assert (NOT_ON_PLAN in page) == (start < end - timedelta(days=TIER_WINDOW_DAYS[tier] - 1))


def check_metrics_csv(client, name, start, end, granularity, sim):
    response = client.get(f"/usage/metrics.csv?start={start}&end={end}&granularity={granularity}")
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0] == ["period", "metric", "value"]
    want = [
        [span[0].isoformat(), exp.label, str(value)]
        for exp in expected_metrics(name, start, end, granularity, sim).values()
        for span, value in zip(exp.spans, exp.values, strict=True)
        if value is not None
    ]
    assert rows[1:] == want


def check_minutes_csv(client, start, end, granularity):
    response = client.get(
        f"/usage/ai-minutes.csv?start={start}&end={end}&granularity={granularity}"
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    want = [
        [
            s.isoformat(),
            NORTHWIND,
            "",
            str(evovoice_expected(s, e, account_id=NORTHWIND)["accountUsage"][0]["aiMinutes"]),
        ]
        for s, e in split(start, end, granularity)
    ]
    assert rows[1:] == want


# -- the test ---------------------------------------------------------------------------

# (tenant, days back from today, granularity): an Enterprise range over a month boundary,
# a Pro one reaching before its 30-day window, and a Free one before its 7-day window.
VIEWS = [("globex", 40, "day"), ("acme", 40, "week"), ("initech", 12, "day")]


@pytest.mark.parametrize("variant", list(VARIANTS), indirect=True)
def test_every_number_matches_the_oracle(app, tenants, login, sims, variant):
    sims.state.update(**variant.sim)
    end = today()
    for name, back, granularity in VIEWS:
        client = login(app.test_client(), f"{name}@example.com")
        start = end - timedelta(days=back - 1)
        check_page(client, name, start, end, granularity, variant.sim)
        check_metrics_csv(client, name, start, end, granularity, variant.sim)
        if name == "acme":
            check_minutes_csv(client, start, end, granularity)


def test_a_projection_runs_from_the_first_day_the_plan_keeps(app, tenants, login):
    client = login(app.test_client(), "initech@example.com")  # Free: 7 days of a 30-day range
    page = client.get("/usage?preset=30d").get_data(as_text=True)
    end = today()
    first_kept = end - timedelta(days=6)
    # The pace runs to the end of the calendar month, from the 1st or the first day kept.
    since = max(first_kept, end.replace(day=1))
    month_end = split(end.replace(day=1), end.replace(day=28) + timedelta(days=4), "month")[0][1]
    events = isnotai_expected("initech", end - timedelta(days=29), end)["Events"]
    so_far = sum(v for day, v in events.items() if day >= since)
    block = re.search(r'id="chart-Events-title".*?</figure>', page, re.S)[0]
    found = re.search(r"(month|[-\d]+) to date ([\d,]+) · on pace for ([\d,]+)", block)
    counted, shown_so_far, shown_pace = found.groups()
    assert counted == ("month" if since.day == 1 else since.isoformat())
    assert int(shown_so_far.replace(",", "")) == so_far
    begun = datetime.combine(since, datetime.min.time(), UTC)
    # The rate is never taken over less than a day (a month's first hours).
    elapsed = max((datetime.now(UTC) - begun).total_seconds() / 86400, 1.0)
    days = (month_end - since).days + 1
    assert int(shown_pace.replace(",", "")) == pytest.approx(so_far / elapsed * days, rel=0.005)
