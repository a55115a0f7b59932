"""The every-account view reads its ranges for account totals only: its numbers, and the read
sizes it decides by, stay those of the answers read whole.

Over HTTP against the EvoVoice simulator with many customers, checked against the oracle in
`simulators.data` (each answer as EvoVoice sends it, every record of it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from clients.cached_http import CachedUpstream
from clients.evovoice import EvovoiceClient
from core.periods import split
from services.filters import parse_staff_query
from services.staff import StaffService
from simulators.data import EVOVOICE_SERVICE_USER, evovoice_expected

from ..helpers_staff import accounts_by_minutes, past

DAY = timedelta(days=1)
MANY = 20_000


@pytest.fixture
def roomy(cache_url, clock, sims):
    """Return an EvoVoice client with the default timeouts (answers of megabytes), and its
    cache."""
    upstream = CachedUpstream(cache_url, "staff-totals-test-secret-0123456789", clock=clock)
    username, password = EVOVOICE_SERVICE_USER
    client = EvovoiceClient(
        upstream, lambda: sims.evovoice_url, username, password, end_date="inclusive"
    )
    yield client, upstream
    upstream.close()


def records(body: dict) -> int:
    return len(body.get("accountUsage", ())) + len(body.get("customerUsage", ()))


def minutes(body: dict) -> int:
    return sum(a["aiMinutes"] for a in body.get("accountUsage", ()))


def test_every_account_numbers_are_the_whole_answers_and_no_customer_is_held(roomy, sims):
    sims.state.update(extra_customers=MANY)
    client, upstream = roomy
    start, end, _ = past(30)
    today = end + DAY
    query = parse_staff_query({"start": str(start), "end": str(end), "granularity": "day"}, today)
    view = StaffService(client).view(query)

    assert view.error is None and view.overview is not None
    overview = view.overview
    body = evovoice_expected(start, end, extra_customers=MANY)
    old = query.range.previous
    assert overview.total == minutes(body)
    assert overview.previous_total == minutes(
        evovoice_expected(old.start, old.end, extra_customers=MANY)
    )
    assert [(r.id, r.ai_minutes) for r in overview.accounts.top] == accounts_by_minutes(body)
    assert overview.accounts.count == len(body["accountUsage"])
    # Too many records to read per day: the note counts every record EvoVoice listed,
    # customers included, though none was decoded.
    assert overview.granularity != "day"
    assert f"EvoVoice lists {records(body):,} records" in (overview.series_note or "")
    spans = split(start, end, overview.granularity)
    assert [(b.start, b.end, b.value) for b in overview.buckets] == [
        (s, e, minutes(evovoice_expected(s, e, extra_customers=MANY))) for s, e in spans
    ]
    assert upstream.memo_weight < 10 * (len(spans) + 3)  # account records, not customers


def test_the_comparison_budget_counts_every_record_of_the_range(roomy, sims):
    """Whole days are compared only while twice the range's records fit the budget: the
    count read for totals is the whole answer's, to the record."""
    sims.state.update(extra_customers=300)
    client, _ = roomy
    today = datetime.now(UTC).date()
    start = today - 9 * DAY
    query = parse_staff_query({"start": str(start), "end": str(today)}, today)
    listed = records(evovoice_expected(start, today, extra_customers=300, today=today))
    assert listed > 200

    within = StaffService(client, compare_budget=2 * listed).view(query)
    past_it = StaffService(client, compare_budget=2 * listed - 1).view(query)

    assert within.comparison is not None and within.comparison.end == today - DAY
    assert past_it.overview is not None and past_it.comparison is None


def test_a_whole_read_after_the_overview_still_lists_every_customer(roomy, sims):
    sims.state.update(extra_customers=2_000)
    client, _ = roomy
    start, end, _ = past(7)
    query = parse_staff_query({"start": str(start), "end": str(end)}, end + DAY)
    service = StaffService(client)
    assert service.view(query).overview is not None
    sims.state.clear_calls()
    rows, _ = service.customer_rows(query)
    body = evovoice_expected(start, end, extra_customers=2_000)
    assert len(rows) == len(body["customerUsage"]) > 1_000
    assert sims.state.calls("evovoice", "/ai/usage") == []  # from the stored answer
