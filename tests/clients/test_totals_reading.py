"""Totals-only readings of `/ai/usage`: account totals and a record count, no customer records.

A totals reading of an every-account answer decodes only its account records when the
customer list is written as EvoVoice writes it; these tests hold it to what a whole parse
gives (totals, records listed, and errors), on the simulator's real answers over HTTP.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from clients.cached_http import CachedUpstream
from clients.errors import BadResponse
from clients.evovoice import EvovoiceClient, _accounts_only, parse_usage, read_usage
from simulators.data import EVOVOICE_SERVICE_USER, evovoice_expected

from .test_evovoice_client import parsed_or_refused

START, END = date(2024, 3, 4), date(2024, 3, 31)
HUGE = 100_000
SCOPES = [(None, None), ("acct-northwind", None), ("acct-nobody", None)]


def answer(sims, start: date, end: date, **scope: str) -> bytes:
    """Return EvoVoice's body for the range, as the simulator sends it over HTTP."""
    got = requests.get(
        sims.evovoice_url + "/ai/usage",
        params={"startDate": start.isoformat(), "endDate": end.isoformat(), **scope},
        auth=EVOVOICE_SERVICE_USER,
        timeout=60,
    )
    assert got.status_code == 200
    return got.content


@pytest.mark.parametrize("totals_of", SCOPES)
def test_a_totals_reading_of_a_huge_answer_gives_the_whole_parse_totals_and_count(sims, totals_of):
    sims.state.update(extra_customers=HUGE)
    content = answer(sims, START, END)
    whole = parse_usage(json.loads(content), START, END)
    assert len(whole.customers) > 90_000 and len(content) > 5_000_000

    totals = read_usage(content, START, END, totals_of)

    assert totals == whole.totals_for(*totals_of)
    assert totals.customers == () and totals.size == len(totals.accounts)
    assert totals.listed_records == whole.size
    assert totals.minutes(totals_of[0]) == whole.minutes(totals_of[0])
    # Read from the account records alone: the customer list was checked, not decoded.
    assert _accounts_only(content, START, END, totals_of) == totals


def test_a_client_totals_read_of_a_huge_answer_matches_its_whole_read(cache_url, clock, sims):
    sims.state.update(extra_customers=HUGE)
    # The default timeouts: the simulator builds 7 MB answers in the tests' process.
    upstream = CachedUpstream(cache_url, "totals-reading-test-secret-0123456789", clock=clock)
    username, password = EVOVOICE_SERVICE_USER
    evovoice = EvovoiceClient(upstream, lambda: sims.evovoice_url, username, password)
    try:
        totals = evovoice.usage(START, END, totals_only=True)
        assert upstream.memo_weight < 10  # account records only, not 100,000 customers
        whole = evovoice.usage(START, END)  # the same stored answer, read whole
        assert whole.source == "cache"
        body = evovoice_expected(START, END, extra_customers=HUGE)
        assert totals.value.listed_records == whole.value.size
        assert whole.value.size == len(body["accountUsage"]) + len(body["customerUsage"])
        assert totals.value == whole.value.totals_for(None, None)
        assert totals.value.minutes() == sum(a["aiMinutes"] for a in body["accountUsage"])
    finally:
        upstream.close()


# Ids as EvoVoice may write them: hostile text, escapes, non-ASCII, a lone surrogate.
TEXTS = st.one_of(
    st.sampled_from(["a", "b", "c\u00e9", "</x>", 'o"b', "t\\u", "\ud800", "\u2028", "]}"]),
    st.text(max_size=6),
)
VALUES = st.one_of(
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, 1, None, True, 1.5, "7", [], {}]),
)
CUSTOMERS = st.lists(
    st.one_of(
        # Mostly the form EvoVoice writes, which the account-only reading checks in bytes.
        st.builds(
            lambda a, c, m: {"accountId": a, "customerId": c, "aiMinutes": m},
            TEXTS,
            TEXTS,
            st.integers(-(2**70), 2**70),
        ),
        st.builds(lambda a, c: {"accountId": a, "customerId": c}, TEXTS, TEXTS),
        st.dictionaries(
            st.sampled_from(["accountId", "customerId", "aiMinutes", "other"]), TEXTS | VALUES
        ),
        VALUES,
    ),
    max_size=6,
)
ACCOUNTS = st.lists(
    st.builds(lambda a, m: {"accountId": a, "aiMinutes": m}, st.sampled_from(["a", "b"]), VALUES),
    max_size=3,
)


@given(
    accounts=ACCOUNTS | st.none(),
    customers=CUSTOMERS,
    ascii_only=st.booleans(),
    trailer=st.sampled_from(["", "\n", ',"other":1', ',"customerUsage":[]']),
    totals_of=st.sampled_from(SCOPES),
)
@settings(max_examples=500, deadline=None)
def test_a_compact_answer_read_for_totals_is_what_parsing_it_gives(
    accounts, customers, ascii_only, trailer, totals_of
):
    listed = json.dumps(
        {"accountUsage": accounts, "customerUsage": customers},
        separators=(",", ":"),
        ensure_ascii=ascii_only,
    )
    text = listed + trailer if trailer == "\n" else listed[:-1] + trailer + "}"
    content = text.encode("utf-8", "surrogatepass")
    whole = parsed_or_refused(content, START, END, totals_of)
    if whole is None:
        return
    totals = read_usage(content, START, END, totals_of)
    assert totals == whole.totals_for(*totals_of)
    assert totals.listed_records == whole.size


@pytest.mark.parametrize(
    "customers",
    [
        b'[{"accountId":"a","customerId":"\xff","aiMinutes":1}]',  # not UTF-8
        b'[{"accountId":"a","customerId":"\x01","aiMinutes":1}]',  # a raw control character
        b'[{"accountId":"a","customerId":"\\x","aiMinutes":1}]',  # not a JSON escape
        b'[{"accountId":"a","customerId":"b","aiMinutes":01}]',  # not a JSON number
    ],
)
def test_a_customer_list_json_refuses_is_refused_by_a_totals_reading(customers):
    content = b'{"accountUsage":[{"accountId":"a","aiMinutes":3}],"customerUsage":' + customers
    content += b"}"
    with pytest.raises(BadResponse) as refused:
        read_usage(content, START, END, (None, None))
    assert "not JSON" in refused.value.message


def test_encoded_surrogates_read_for_totals_as_json_reads_them():
    # json lets UTF-8 encoded surrogates pass (orjson does not): a whole parse reads them.
    content = (
        b'{"accountUsage":[{"accountId":"a","aiMinutes":3}],'
        b'"customerUsage":[{"accountId":"a","customerId":"\xed\xa0\x80","aiMinutes":1}]}'
    )
    whole = parse_usage(json.loads(content), START, END)
    totals = read_usage(content, START, END, (None, None))
    assert totals == whole.totals_for(None, None) and totals.listed_records == 2
