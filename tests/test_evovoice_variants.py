"""Every way EvoVoice may answer what its docs leave open, against every number shown.

Each variant is a switch of the simulator (`/_sim/settings`). For each, the customer page
(`/usage`), its AI-minutes export, the staff page of the same scope and both staff exports
are read through the app, set up
as in production (`USAGE_EVOVOICE_END_DATE` and `USAGE_EVOVOICE_METHOD` left on `auto`),
and every number is compared, as an integer, with the oracle in `simulators.data`. A bucket
or total EvoVoice keeps no record for has no number (the page shows "–", the CSV an empty
cell), never 0.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest

from core.periods import split
from simulators.data import evovoice_expected, evovoice_minutes
from tests.helpers_html import text as words

START, END = date(2024, 3, 4), date(2024, 3, 17)
RANGE = {"start": START.isoformat(), "end": END.isoformat(), "granularity": "day"}
# name → (account, customer): a whole account, a customer idle on some days, one always idle.
TENANTS = {
    "northwind": ("acct-northwind", None),
    "sparse": ("acct-quiet", "cust-sparse"),
    "idle": ("acct-quiet", "cust-idle"),
}
# variant → (simulator switches, the oracle's switches for the bodies it answers)
VARIANTS = {
    "as-documented": ({}, {}),
    "end-date-exclusive": ({"evovoice_end_date": "exclusive"}, {}),
    "post-only-404": ({"evovoice_verbs": "post-404"}, {}),
    "post-only-405": ({"evovoice_verbs": "post-405"}, {}),
    "idle-is-empty-object": ({"evovoice_idle": "omitted"}, {"idle": "omitted"}),
    "zero-customers-listed": (
        {"evovoice_zero_customers": "listed"},
        {"zero_customers": "listed"},
    ),
    "basic-only": ({"evovoice_auth": "basic-only"}, {}),
    "sessions-expire": ({"evovoice_session_uses": 10}, {}),
    # With endDate configured no probe settles the verb first: buckets learn it in parallel.
    "post-only-end-date-configured": ({"evovoice_verbs": "post-405"}, {}),
}
# The app as deployed by default (conftest pins endDate for tests that count calls).
DEFAULTS = {"USAGE_EVOVOICE_END_DATE": "auto", "USAGE_EVOVOICE_METHOD": "auto"}
APP_SETTINGS = {"post-only-end-date-configured": {"USAGE_EVOVOICE_END_DATE": "inclusive"}}
_ROW = re.compile(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td>')
# A row of a series' table: its heading is a period (a date, kept on one line).
_PERIOD_ROW = re.compile(
    r'<tr><th scope="row">((?:<span class="nowrap">)?\d{4}-[^<]*(?:</span>)?)</th><td>(.*?)</td>'
)
_TOTAL = re.compile(r'<span class="big">([^<]*)</span>')


def shown(text: str) -> int | None:
    """Read a number as the page prints it ("1,234"; "–" for none)."""
    text = words(text).strip()
    return None if text == "–" else int(text.replace(",", ""))


def cell(text: str) -> int | None:
    return None if text == "" else int(text)


def read_csv(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))


def expected_buckets(account, customer, oracle_switches) -> list[tuple[date, int | None]]:
    return [
        (s, evovoice_minutes(s, e, account, customer, **oracle_switches))
        for s, e in split(START, END, "day")
    ]


@pytest.fixture
def app_config(app_config, variant):
    return {**app_config, **DEFAULTS, **APP_SETTINGS.get(variant, {})}


@pytest.fixture
def staff(app, make_tenant, make_user, login):
    for name, (account, customer) in TENANTS.items():
        make_tenant(name, account=account, customer=customer)
    make_user("staff@example.com", role="staff")
    return login(app.test_client(), "staff@example.com")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_number_matches_the_oracle(staff, sims, variant):
    switches, oracle_switches = VARIANTS[variant]
    sims.state.update(**switches)

    for name, (account, customer) in TENANTS.items():
        want = expected_buckets(account, customer, oracle_switches)
        total = evovoice_minutes(START, END, account, customer, **oracle_switches)

        page = staff.get("/usage", query_string={"tenant": name, **RANGE})
        assert page.status_code == 200, (name, page.get_data(as_text=True)[:500])
        html = page.get_data(as_text=True)
        minutes = html[html.index('id="minutes-title"') :]
        by_customer = minutes.find('id="chart-ai-minutes-customers-title"')
        series = minutes if by_customer < 0 else minutes[:by_customer]
        rows = [(date.fromisoformat(words(p)), shown(v)) for p, v in _PERIOD_ROW.findall(series)]
        assert rows == want, name
        # A whole account's tenant also ranks its customers, as EvoVoice lists them.
        listed = evovoice_expected(START, END, account, **oracle_switches).get("customerUsage", [])
        ranked = sorted(listed, key=lambda r: (-r["aiMinutes"], r["customerId"]))
        if customer is None and ranked:
            top = [(words(i), shown(v)) for i, v in _ROW.findall(minutes[by_customer:])][:10]
            assert top == [(r["customerId"], r["aiMinutes"]) for r in ranked[:10]], name
        else:
            assert by_customer < 0, name
        assert shown(_TOTAL.search(minutes).group(1)) == total, name
        who = f"customer {customer}" if customer else f"account {account}"
        assert (f"No usage recorded for {who} in this range." in minutes) == (total is None)
        assert "could not sign in" not in html

        export = read_csv(
            staff.get("/usage/ai-minutes.csv", query_string={"tenant": name, **RANGE})
        )
        assert [(date.fromisoformat(r["period"]), cell(r["ai_minutes"])) for r in export] == want
        assert {(r["account_id"], r["customer_id"]) for r in export} == {(account, customer or "")}

        scoped = staff.get(
            "/staff", query_string={"account": account, "customer": customer or "", **RANGE}
        )
        assert scoped.status_code == 200, name
        series = scoped.get_data(as_text=True)
        # Staff are told an id EvoVoice does not list in the range is not there.
        assert ('id="staff-unknown"' in series) == (total is None), name
        if total is None:
            continue
        assert shown(_TOTAL.search(series).group(1)) == total, name
        assert [
            (date.fromisoformat(words(p)), shown(v)) for p, v in _PERIOD_ROW.findall(series)
        ] == want
        assert (f"No usage recorded for {who} in this range." in series) == (total is None)

    body = evovoice_expected(START, END, **oracle_switches)
    accounts = read_csv(staff.get("/staff/accounts.csv", query_string=RANGE))
    assert {r["account_id"]: int(r["ai_minutes"]) for r in accounts} == {
        a["accountId"]: a["aiMinutes"] for a in body.get("accountUsage", ())
    }
    assert len(accounts) == len(body.get("accountUsage", ()))
    customers = read_csv(staff.get("/staff/customers.csv", query_string=RANGE))
    assert {(r["account_id"], r["customer_id"]): int(r["ai_minutes"]) for r in customers} == {
        (c["accountId"], c["customerId"]): c["aiMinutes"] for c in body.get("customerUsage", ())
    }
    assert len(customers) == len(body.get("customerUsage", ()))


@pytest.mark.parametrize("variant", ["as-documented"])
def test_the_oracle_tells_the_variants_apart(variant):
    """Guard the test above: its tenants and range see 0, no record and real minutes."""
    sparse = expected_buckets("acct-quiet", "cust-sparse", {})
    assert None in [m for _, m in sparse] and any(m for _, m in sparse)
    assert {m for _, m in expected_buckets("acct-quiet", "cust-idle", {})} == {None}
    assert {
        m for _, m in expected_buckets("acct-quiet", "cust-idle", {"zero_customers": "listed"})
    } == {0}
    assert all(m for _, m in expected_buckets("acct-northwind", None, {}))
    # The last day counts: a reading that drops it changes the total.
    assert evovoice_minutes(START, END, "acct-northwind") != evovoice_minutes(
        START, END - timedelta(days=1), "acct-northwind"
    )


@pytest.mark.parametrize("variant", ["as-documented"])
@pytest.mark.parametrize("reading", ["inclusive", "exclusive"])
def test_an_end_date_that_cannot_be_detected_is_said_on_every_surface(staff, sims, reading):
    # Nothing used anywhere lately: no probe can tell the readings apart, so the numbers
    # rest on the documented guess, and every surface says so.
    sims.state.update(evovoice_end_date=reading, evovoice_quiet_days=10)
    page = staff.get("/usage", query_string={"tenant": "northwind", **RANGE})
    assert page.status_code == 200
    assert "Check these numbers:" in page.get_data(as_text=True)
    assert "end date could not be checked yet" in page.get_data(as_text=True)
    scoped = staff.get("/staff", query_string={"account": "acct-northwind", **RANGE})
    assert "Check these numbers:" in scoped.get_data(as_text=True)
    export = staff.get("/usage/ai-minutes.csv", query_string={"tenant": "northwind", **RANGE})
    assert 'caveat="AI minutes may be off by a day' in export.headers["X-Data-Freshness"]
    sims.state.update(evovoice_quiet_days=0)


@pytest.mark.parametrize("variant", ["end-date-exclusive"])
def test_a_detected_end_date_carries_no_caveat(staff, sims, variant):
    sims.state.update(evovoice_end_date="exclusive")
    page = staff.get("/usage", query_string={"tenant": "northwind", **RANGE})
    assert "Check these numbers:" not in page.get_data(as_text=True)
    export = staff.get("/usage/ai-minutes.csv", query_string={"tenant": "northwind", **RANGE})
    assert "caveat=" not in export.headers["X-Data-Freshness"]
