"""The staff pages: every account, one account's customers, pickers, exports and tenants."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from html import unescape
from urllib.parse import urlencode

import pytest

from core.periods import split
from presenters.formatting import signed_pct
from services.staff import PAGE_SIZE
from simulators.data import evovoice_expected

from ..helpers_html import body_rows, text
from ..helpers_staff import accounts_by_minutes, customers_by_minutes, past, today

NORTHWIND = "acct-northwind"
HOSTILE = "acct-</script><script>alert(1)</script>"
QUOTES = 'acct-o\'brien & "sons"'
UNICODE = "zürich-東京-Ωmega"
STAFF = "staff@example.com"
CUSTOMER = "acme@example.com"


@pytest.fixture
def people(make_tenant, make_user):
    make_tenant("acme", integration="acme", account=NORTHWIND)
    make_tenant("initech", integration="initech", account=HOSTILE)
    make_tenant("minutes-only", account=UNICODE, customer="kunde-müller")
    make_user(CUSTOMER, tenant="acme")
    make_user(STAFF, role="staff")


@pytest.fixture
def staff(client, people, login):
    return login(client, STAFF)


def previous(start: date, end: date) -> tuple[date, date]:
    """Return the previous range of a daily view: whole weeks back, weekday over weekday."""
    days = (end - start).days + 1
    shift = timedelta(weeks=-(-days // 7))
    return start - shift, end - shift


def upstream_calls(sims) -> list[dict]:
    return [c for c in sims.state.calls() if c["path"] in ("/v1/usage", "/ai/usage")]


def figures(html: str) -> dict[str, dict]:
    blocks = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)
    return {name: json.loads(body) for name, body in blocks}


def table(html: str, table_id: str) -> list[tuple[str, str, str]]:
    """Return (id, minutes, share) of each row of a staff table, as a person reads them."""
    # The accounts table has a trend and a change after these (see test_staff_growth.py).
    return [(text(i), m, s) for i, m, s, *_ in body_rows(html, table_id)]


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def share(part: int, whole: int) -> str:
    return f"{part / whole * 100:.1f} %"


# -- the role rule ----------------------------------------------------------------------------

ROUTES = [
    ("get", "/staff?preset=7d", {}),
    ("get", "/staff?preset=7d", {"HX-Request": "true"}),
    ("post", "/staff/refresh?preset=7d", {}),
    ("post", "/staff/refresh?preset=7d", {"HX-Request": "true"}),
    ("get", "/staff/accounts/options?q=a", {"HX-Request": "true"}),
    ("get", f"/staff/customers/options?account={NORTHWIND}&q=c", {"HX-Request": "true"}),
    ("get", "/staff/accounts.csv?preset=7d", {}),
    ("get", f"/staff/customers.csv?preset=7d&account={NORTHWIND}", {}),
    ("get", "/staff/tenants", {}),
]


@pytest.mark.parametrize(("method", "url", "headers"), ROUTES)
def test_customers_get_403_everywhere_and_nothing_is_read(
    client, people, login, sims, method, url, headers
):
    login(client, CUSTOMER)
    sims.state.clear_calls()
    response = getattr(client, method)(url, headers=headers)
    assert response.status_code == 403
    assert "for staff only" in response.get_data(as_text=True)
    assert upstream_calls(sims) == []


@pytest.mark.parametrize(("method", "url", "headers"), ROUTES)
def test_signed_out_callers_are_sent_to_sign_in(client, people, method, url, headers):
    response = getattr(client, method)(url, headers=headers)
    if headers.get("HX-Request"):
        assert response.status_code == 401
        assert "/login" in response.headers["HX-Redirect"]
    else:
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_staff_land_on_the_staff_page(staff):
    assert staff.get("/").headers["Location"] == "/staff"


# -- every account ----------------------------------------------------------------------------


def test_every_account_total_change_chart_and_table(staff):
    start, end, query = past(10)
    response = staff.get(f"/staff?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    body = evovoice_expected(start, end)
    expected = accounts_by_minutes(body)
    total = sum(m for _, m in expected)
    before = sum(a["aiMinutes"] for a in evovoice_expected(*previous(start, end))["accountUsage"])
    assert f'<span class="big">{total:,}</span> AI minutes across every account' in html
    change = (total - before) / before * 100
    earlier_start, earlier_end = previous(start, end)
    assert f"{signed_pct(change)} vs {earlier_start} – {earlier_end}" in text(html)  # by dates

    bars = figures(html)["staff-accounts-data"]["data"][0]
    assert bars["x"] == [m for _, m in expected]  # five accounts: all in the top ten, no other
    assert sum(bars["x"]) == total
    assert [unescape(t) for t, _ in bars["customdata"]] == [i for i, _ in expected]
    # Each bar drills into its account, as the table's link does.
    links = re.findall(r'<th scope="row"><a href="([^"]+)"', html.split('id="staff-accounts"')[1])
    assert [url for _, url in bars["customdata"]] == [unescape(u) for u in links]

    assert table(html, "staff-accounts") == [(i, f"{m:,}", share(m, total)) for i, m in expected]


def test_an_account_shows_its_series_its_customers_and_top_customers(staff, sims):
    sims.state.update(extra_customers=200)
    start, end, query = past(20)
    html = staff.get(f"/staff?{query}&granularity=week&account={NORTHWIND}").get_data(as_text=True)
    charts = figures(html)
    spans = split(start, end, "week")
    per_bucket = [
        evovoice_expected(s, e, account_id=NORTHWIND, extra_customers=200)["accountUsage"][0][
            "aiMinutes"
        ]
        for s, e in spans
    ]
    assert charts["staff-series-data"]["data"][-1]["y"] == per_bucket
    body = evovoice_expected(start, end, account_id=NORTHWIND, extra_customers=200)
    whole = body["accountUsage"][0]["aiMinutes"]
    assert f'<span class="big">{whole:,}</span> in the range' in html
    # EvoVoice rounds each answer: where the weeks do not add up to the range, it is said.
    if sum(per_bucket) != whole:
        assert f"the periods below, each rounded on its own, add up to {sum(per_bucket):,}" in (
            text(html)
        )
    else:
        assert "each rounded on its own" not in html

    customers = customers_by_minutes(body, NORTHWIND)
    assert len(customers) > PAGE_SIZE  # 4 named + 40 synthetic (those with usage)
    minutes_sum = sum(m for _, m in customers)
    bars = charts["staff-customers-data"]["data"][0]
    assert [unescape(t) for t, _ in bars["customdata"][:10]] == [c for c, _ in customers[:10]]
    assert all(
        f"customer={c}" in url
        for (_, url), (c, _) in zip(bars["customdata"][:10], customers[:10], strict=True)
    )
    assert bars["x"][:10] == [m for _, m in customers[:10]]
    assert bars["x"][10] == sum(m for _, m in customers[10:])
    assert bars["customdata"][10] == [f"{len(customers) - 10} other customers", ""]
    assert sum(bars["x"]) == minutes_sum

    assert table(html, "staff-customers") == [
        (c, f"{m:,}", share(m, minutes_sum)) for c, m in customers[:PAGE_SIZE]
    ]
    assert f"1–25 of {len(customers)} customers · page 1 of 2" in html


def test_a_customer_shows_its_series_and_total(staff):
    start, end, query = past(35)
    customer = "kunde-müller"
    html = staff.get(
        f"/staff?{query}&granularity=month&account={UNICODE}&customer={customer}"
    ).get_data(as_text=True)
    series = figures(html)["staff-series-data"]["data"][-1]["y"]

    def minutes(s, e):
        body = evovoice_expected(s, e, account_id=UNICODE, customer_id=customer)
        return sum(c["aiMinutes"] for c in body["customerUsage"])

    assert series == [minutes(s, e) for s, e in split(start, end, "month")]
    assert f'<span class="big">{minutes(start, end):,}</span> in the range' in html
    assert "staff-customers" not in html  # no customers table for one customer
    assert "All customers of this account" in html


def test_a_customer_without_an_account_is_read_across_accounts(staff, sims):
    start, end, query = past(7)
    customer = "cust-alpha"
    html = staff.get(f"/staff?{query}&customer={customer}").get_data(as_text=True)
    total = sum(
        c["aiMinutes"] for c in evovoice_expected(start, end, customer_id=customer)["customerUsage"]
    )
    assert f'<span class="big">{total:,}</span> in the range' in html
    assert "in every account" in html
    calls = [c for c in upstream_calls(sims) if c["path"] == "/ai/usage"]
    assert calls and all("accountId" not in c["query"] for c in calls)


# -- sorting, paging, search --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        ("-minutes", lambda r: (-r[1], r[0]), False),
        ("minutes", lambda r: (r[1], r[0]), False),
        ("id", lambda r: r[0], False),
        ("-id", lambda r: r[0], True),
    ],
)
def test_both_tables_sort_each_way_with_ties_broken_by_id(staff, sims, sort, key, reverse):
    sims.state.update(extra_customers=200)
    start, end, query = past(5)
    accounts = sorted(
        accounts_by_minutes(evovoice_expected(start, end, extra_customers=200)),
        key=key,
        reverse=reverse,
    )
    html = staff.get(f"/staff?{query}&sort={sort}").get_data(as_text=True)
    assert [r[0] for r in table(html, "staff-accounts")] == [a for a, _ in accounts]

    body = evovoice_expected(start, end, account_id=UNICODE, extra_customers=200)
    customers = sorted(customers_by_minutes(body, UNICODE), key=key, reverse=reverse)
    html = staff.get(f"/staff?{query}&account={UNICODE}&sort={sort}").get_data(as_text=True)
    assert [r[0] for r in table(html, "staff-customers")] == [c for c, _ in customers][:PAGE_SIZE]


def test_sort_headers_link_to_the_other_direction_and_keep_the_filters(staff):
    _, _, query = past(5)
    html = staff.get(f"/staff?{query}&account={NORTHWIND}&q=c&sort=id").get_data(as_text=True)
    head = re.search(r'<table id="staff-customers"[^>]*>.*?</thead>', html, re.S).group(0)
    links = [unescape(u) for u in re.findall(r'<a href="([^"]+)"', head)]
    assert len(links) == 2
    assert "sort=-id" in links[0] and "sort=" not in links[1]  # -minutes is the default
    for link in links:
        assert "account=acct-northwind" in link and "q=c" in link and "start=" in link
    assert 'aria-sort="ascending"' in head


def test_page_two_and_a_page_past_the_end(staff, sims):
    sims.state.update(extra_customers=200)
    start, end, query = past(5)
    body = evovoice_expected(start, end, account_id=NORTHWIND, extra_customers=200)
    customers = customers_by_minutes(body, NORTHWIND)
    base = f"/staff?{query}&account={NORTHWIND}&sort=id"
    by_id = sorted(c for c, _ in customers)

    html = staff.get(f"{base}&page=2").get_data(as_text=True)
    assert [r[0] for r in table(html, "staff-customers")] == by_id[PAGE_SIZE : 2 * PAGE_SIZE]
    pager = re.search(r'<nav class="pager".*?</nav>', html, re.S).group(0)
    previous_link = unescape(re.search(r'href="([^"]+)"[^>]*>‹ Previous', pager).group(1))
    assert "sort=id" in previous_link and "account=acct-northwind" in previous_link
    assert "page=" not in previous_link  # page 1 is the canonical default

    # Past the end: the last page, with a note saying so (the URL's other filters still hold).
    response = staff.get(f"{base}&page=99")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "There is no page 99; showing the last page, 2." in html
    assert [r[0] for r in table(html, "staff-customers")] == by_id[PAGE_SIZE:]


def test_search_is_a_case_insensitive_substring_of_ids(staff, sims):
    sims.state.update(extra_customers=200)
    start, end, query = past(5)
    html = staff.get(f"/staff?{query}&q=NORTH").get_data(as_text=True)
    assert [r[0] for r in table(html, "staff-accounts")] == [NORTHWIND]
    assert "1–1 of 1 account matching “NORTH” (of 5)" in html

    html = staff.get(f"/staff?{query}&account={UNICODE}&q=CUST-00").get_data(as_text=True)
    body = evovoice_expected(start, end, account_id=UNICODE, extra_customers=200)
    found = [c for c, _ in customers_by_minutes(body, UNICODE) if "cust-00" in c]
    assert found and [r[0] for r in table(html, "staff-customers")] == found[:PAGE_SIZE]

    html = staff.get(f"/staff?{query}&q=nothing-like-this").get_data(as_text=True)
    assert "No accounts matching “nothing-like-this”" in html


# -- pickers ------------------------------------------------------------------------------------


def test_pickers_return_at_most_twenty_matching_options(staff, sims):
    sims.state.update(extra_customers=200)
    _, _, query = past(5)
    options = staff.get(f"/staff/accounts/options?{query}&q=ACCT", headers={"HX-Request": "true"})
    text = options.get_data(as_text=True)
    values = [unescape(v) for v in re.findall(r'<option value="([^"]*)">', text)]
    assert set(values) == {NORTHWIND, HOSTILE, QUOTES, "acct-quiet"}
    assert "<script>" not in text and "acct-&lt;/script&gt;" in text

    response = staff.get(f"/staff/customers/options?{query}&account={NORTHWIND}&q=CUST-0")
    values = re.findall(r'<option value="([^"]*)">', response.get_data(as_text=True))
    start, end, _ = past(5)
    body = evovoice_expected(start, end, account_id=NORTHWIND, extra_customers=200)
    busiest = [c for c, _ in customers_by_minutes(body, NORTHWIND) if "cust-0" in c]
    assert len(busiest) > 20 and values == busiest[:20]

    response = staff.get(f"/staff/customers/options?{query}&account={NORTHWIND}&q=ALPHA")
    text = response.get_data(as_text=True)
    assert re.findall(r'<option value="([^"]*)">', text) == ["cust-alpha"]


def test_the_page_has_debounced_pickers_and_a_plain_form(staff):
    html = staff.get("/staff?preset=7d").get_data(as_text=True)
    form = re.search(r'<form id="filters".*?</form>', html, re.S).group(0)
    assert 'method="get"' in form and 'action="/staff"' in form
    assert 'hx-target="#results"' in form and 'hx-push-url="true"' in form
    assert form.count('hx-trigger="input changed delay:300ms"') == 2
    assert 'list="account-options"' in form and 'list="customer-options"' in form
    assert 'name="q"' in form and 'name="sort"' in form


# -- page or fragment -------------------------------------------------------------------------


def test_a_fragment_is_the_results_and_the_scope_fields(staff):
    response = staff.get(f"/staff?preset=7d&account={NORTHWIND}", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in html and 'id="filters"' not in html
    assert 'id="scope-fields" class="scope-fields" hx-swap-oob="true"' in html
    assert 'value="acct-northwind"' in html
    assert "HX-Request" in response.headers["Vary"]
    form_sent = staff.get(
        f"/staff?preset=7d&start=&end=&granularity=day&account={NORTHWIND}&customer=&q=&sort=-minutes",
        headers={"HX-Request": "true"},
    )
    assert (
        form_sent.headers["HX-Push-Url"]
        == "/staff?granularity=day&preset=7d&account=acct-northwind"
    )
    restore = staff.get(
        "/staff?preset=7d", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.get_data(as_text=True)


@pytest.fixture
def roomy_deadline(app_config):
    """Give reads time enough to parse 100,000 customers on a slow, measured (coverage) run."""
    app_config["USAGE_UPSTREAM_DEADLINE"] = 30.0
    app_config["USAGE_PAGE_DEADLINE"] = 30.0


def test_a_fragment_stays_small_with_100000_customers(roomy_deadline, staff, sims):
    sims.state.update(extra_customers=100_000)
    end = today() - timedelta(days=1)
    query = f"start={end - timedelta(days=2)}&end={end}&granularity=month"
    for extra in ("", f"&account={NORTHWIND}", f"&account={NORTHWIND}&page=400&sort=minutes"):
        response = staff.get(f"/staff?{query}{extra}", headers={"HX-Request": "true"})
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert len(response.data) < 200_000
        table_id = "staff-customers" if "account=" in extra else "staff-accounts"
        assert len(table(html, table_id)) <= PAGE_SIZE
        assert html.count("<tr>") <= 50  # one page, the top ten and other, a few buckets
        assert html.count("<option") <= 2 * 20
    count = re.search(r"of ([\d,]+) customers", html).group(1)
    assert int(count.replace(",", "")) > 10_000  # one account's share of the 100,000
    assert "page 400 of" in html


# -- exports ------------------------------------------------------------------------------------


def test_accounts_csv_is_every_row_exactly(staff, sims):
    start, end, query = past(10)
    response = staff.get(f"/staff/accounts.csv?{query}&page=2")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = csv_rows(response)
    assert rows[0] == ["account_id", "ai_minutes"]
    expected = accounts_by_minutes(evovoice_expected(start, end))
    assert rows[1:] == [[a, str(m)] for a, m in expected]
    rows = csv_rows(staff.get(f"/staff/accounts.csv?{query}&q=O&sort=id"))
    assert rows[1:] == sorted([a, str(m)] for a, m in expected if "o" in a.casefold())
    rows = csv_rows(staff.get(f"/staff/accounts.csv?{query}&account={UNICODE}"))
    assert rows[1:] == [[a, str(m)] for a, m in expected if a == UNICODE]


def test_customers_csv_is_every_row_not_one_page(staff, sims):
    sims.state.update(extra_customers=200)
    start, end, query = past(10)
    body = evovoice_expected(start, end, extra_customers=200)
    everyone = sorted(
        ([c["accountId"], c["customerId"], c["aiMinutes"]] for c in body["customerUsage"]),
        key=lambda r: (-r[2], r[0], r[1]),
    )
    rows = csv_rows(staff.get(f"/staff/customers.csv?{query}"))
    assert rows[0] == ["account_id", "customer_id", "ai_minutes"]
    assert len(rows) - 1 == len(everyone) > PAGE_SIZE
    assert rows[1:] == [[a, c, str(m)] for a, c, m in everyone]

    rows = csv_rows(staff.get(f"/staff/customers.csv?{query}&account={NORTHWIND}&q=CUST-0"))
    want = [r for r in everyone if r[0] == NORTHWIND and "cust-0" in r[1]]
    assert len(want) > PAGE_SIZE
    assert rows[1:] == [[a, c, str(m)] for a, c, m in want]

    rows = csv_rows(
        staff.get(f"/staff/customers.csv?{query}&account={NORTHWIND}&customer=cust-bravo")
    )
    assert rows[1:] == [[a, c, str(m)] for a, c, m in everyone if c == "cust-bravo"]

    rows = csv_rows(staff.get(f"/staff/customers.csv?{query}&q=northwind"))  # accounts matching
    assert rows[1:] == [[a, c, str(m)] for a, c, m in everyone if a == NORTHWIND]


def test_csv_keeps_hostile_ids_exact(staff):
    start, end, query = past(5)
    rows = csv_rows(staff.get(f"/staff/customers.csv?{query}&account={HOSTILE}&sort=id"))
    body = evovoice_expected(start, end, account_id=HOSTILE)
    assert rows[1:] == sorted(
        [HOSTILE, c["customerId"], str(c["aiMinutes"])] for c in body["customerUsage"]
    )


# -- hostile ids ----------------------------------------------------------------------------


@pytest.mark.parametrize("account", [None, HOSTILE, QUOTES])
def test_hostile_ids_render_as_text_in_html_and_json(staff, account):
    _, _, query = past(5)
    url = f"/staff?{query}&{urlencode({'account': account})}" if account else f"/staff?{query}"
    html = staff.get(url).get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<b>bold</b>" not in html
    if account != QUOTES:
        assert "acct-&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html
    if account != HOSTILE:
        assert "acct-o&#39;brien &amp; &#34;sons&#34;" in html
    for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S):
        assert "<" not in block and "\u2028" not in block and "&" not in block
    if account == HOSTILE:
        bars = figures(html)["staff-customers-data"]["data"][0]
        assert "&lt;b&gt;bold&lt;/b&gt;" in [t for t, _ in bars["customdata"]]  # shown as text
        assert "&lt;b&gt;bold&lt;/b&gt;" in html  # the table, escaped by Jinja


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("sort=name", "sort must be one of"),
        ("page=0", "page must be a whole number"),
        ("page=two", "page must be a whole number"),
        ("page=10001", "page must be a whole number"),
        ("q=" + "x" * 201, "at most 200 characters"),
        ("account=" + "a" * 501, "account must be at most 500 characters"),
        ("customer=" + "c" * 501, "customer must be at most 500 characters"),
        ("account=a%00b", "must not contain control characters"),
        ("preset=1y", "preset must be one of"),
        ("start=2026-02-30", "start must be a date"),
        ("granularity=hour", "granularity must be one of"),
    ],
)
def test_bad_input_is_named_and_never_reaches_upstream(staff, sims, query, words):
    sims.state.clear_calls()
    for headers in ({}, {"HX-Request": "true"}):
        response = staff.get(f"/staff?{query}", headers=headers)
        assert response.status_code == 400
        assert words in response.get_data(as_text=True)
    for path in ("accounts.csv", "customers.csv", "accounts/options", "customers/options"):
        response = staff.get(f"/staff/{path}?{query}")
        assert response.status_code == 400, path
    assert upstream_calls(sims) == []


def test_metric_and_compare_are_not_staff_parameters(staff):
    assert staff.get("/staff?preset=7d&metric=nonsense&compare=maybe").status_code == 200


# -- freshness, refresh, errors -------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "status", "words"),
    [
        ("403", 502, "lacks the SystemAdministrator role"),
        ("wrong-shape", 502, "without accountUsage"),
        ("429", 503, "rate limited"),
    ],
)
def test_upstream_errors_are_shown_as_messages(staff, sims, kind, status, words):
    sims.state.add_fault("evovoice", kind)
    for extra in ("", f"&account={NORTHWIND}"):
        response = staff.get(f"/staff?preset=7d{extra}")
        html = response.get_data(as_text=True)
        assert response.status_code == status
        assert words in html and "Try again" in html and "Traceback" not in html
    csv_response = staff.get("/staff/accounts.csv?preset=7d")
    assert csv_response.status_code == status and words in csv_response.get_data(as_text=True)


def test_stale_data_is_shown_with_a_banner(app, staff, sims, clock):
    app.extensions["upstreams"].http.clock = clock
    _, _, query = past(5)
    assert staff.get(f"/staff?{query}").status_code == 200
    clock.advance(hours=7)
    sims.state.add_fault("evovoice", "503")
    response = staff.get(f"/staff?{query}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Showing saved data" in html and "failed on its side" in html
    assert "staff-accounts-data" in html


def test_a_second_view_reads_nothing_upstream(staff, sims):
    _, _, query = past(5)
    staff.get(f"/staff?{query}&account={NORTHWIND}")
    sims.state.clear_calls()
    html = staff.get(f"/staff?{query}&account={NORTHWIND}&sort=id&page=1").get_data(as_text=True)
    assert upstream_calls(sims) == []
    assert "updated <time" in html


def test_series_numbers_live_no_longer_than_their_cache_entries(app, staff, sims, clock):
    app.extensions["upstreams"].http.clock = clock
    url = f"/staff?preset=7d&account={NORTHWIND}"  # includes today: fresh for 60 s
    staff.get(url)
    sims.state.clear_calls()
    staff.get(url)
    assert upstream_calls(sims) == []
    clock.advance(minutes=2)
    staff.get(url)
    buckets = {c["query"].get("startDate") for c in upstream_calls(sims)}
    assert str(today()) in buckets  # today's bucket was read again


def test_refresh_bypasses_the_cache_and_is_rate_limited(staff, sims):
    _, _, query = past(5)
    staff.get(f"/staff?{query}")
    sims.state.clear_calls()
    response = staff.post(f"/staff/refresh?{query}", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "staff-accounts-data" in response.get_data(as_text=True)
    assert upstream_calls(sims)
    plain = staff.post(f"/staff/refresh?{query}&q=north")
    assert plain.status_code == 303 and plain.headers["Location"].startswith("/staff?")
    assert "q=north" in plain.headers["Location"]
    staff.post(f"/staff/refresh?{query}")
    limited = staff.post(f"/staff/refresh?{query}")  # tests/blueprints/test_refresh_limit.py
    assert limited.status_code == 303


def test_without_evovoice_the_page_says_so(app_config, make_user, login):
    from flask_migrate import upgrade

    from app import create_app

    config = {**app_config, "USAGE_EVOVOICE_USERNAME": "", "USAGE_EVOVOICE_PASSWORD": ""}
    application = create_app(config)
    with application.app_context():
        upgrade()
        from core.extensions import db
        from models import User

        user = User(email=STAFF, role="staff")
        user.set_password("correct horse battery")
        db.session.add(user)
        db.session.commit()
    try:
        client = login(application.test_client(), STAFF)
        response = client.get("/staff?preset=7d")
        assert response.status_code == 200
        assert "EvoVoice is not configured" in response.get_data(as_text=True)
        assert client.get("/staff/accounts.csv").status_code == 502
        options = client.get("/staff/accounts/options?q=a")
        assert options.status_code == 200 and "<option" not in options.get_data(as_text=True)
    finally:
        application.extensions["upstreams"].http.close()


# -- tenants --------------------------------------------------------------------------------


def test_the_tenants_page_lists_sources_and_links(staff):
    html = staff.get("/staff/tenants").get_data(as_text=True)
    assert html.count('<tr>\n        <th scope="row">') == 3
    assert 'href="/usage?tenant=acme"' in html and 'href="/usage?tenant=initech"' in html
    assert "aik_v1_…" in html and "· US" in html
    assert "acct-&lt;/script&gt;" in html and "<script>alert" not in html
    assert "customer <code>kunde-müller</code>" in html
    assert "/staff?account=acct-northwind" in html
    assert staff.get("/usage?tenant=acme&preset=7d").status_code == 200
