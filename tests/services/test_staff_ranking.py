"""The sorts of a parsed EvoVoice answer: each computed once, ties by id, gone with the answer."""

from __future__ import annotations

import gc
import weakref
from datetime import UTC, datetime, timedelta

import pytest

from clients.evovoice import parse_usage
from services.staff_ranking import sorted_records

SCOPES = [("accounts",), ("customers", None), ("customers", "acct-northwind")]
SORTS = ["minutes", "-minutes", "id", "-id"]


def past_days(days: int):
    end = datetime.now(UTC).date() - timedelta(days=1)
    return end - timedelta(days=days - 1), end


def ident(record) -> tuple:
    return (record.account_id, getattr(record, "customer_id", ""))


@pytest.fixture
def answer(evovoice, sims):
    # Hundreds of synthetic customers: many share a count of minutes, so ties are tested.
    sims.state.update(extra_customers=200)
    return evovoice.usage(*past_days(5)).value


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("sort", SORTS)
def test_each_sort_of_an_answer_is_computed_once(answer, scope, sort):
    first = sorted_records(answer, scope, sort)
    assert len(first) > 0
    assert sorted_records(answer, scope, sort) is first


# Accounts listed out of order, two pairs tied in minutes; customers tied across accounts.
TIED = {
    "accountUsage": [
        {"accountId": "acct-c", "aiMinutes": 7},
        {"accountId": "acct-a", "aiMinutes": 7},
        {"accountId": "acct-d"},
        {"accountId": "acct-b", "aiMinutes": 0},
    ],
    "customerUsage": [
        {"accountId": "acct-c", "customerId": "z", "aiMinutes": 3},
        {"accountId": "acct-a", "customerId": "y", "aiMinutes": 3},
        {"accountId": "acct-a", "customerId": "x", "aiMinutes": 4},
        {"accountId": "acct-a", "customerId": "w", "aiMinutes": 3},
    ],
}


def test_ties_in_minutes_are_broken_by_id_in_every_sort(answer):
    for scope in SCOPES[1:]:
        check_ties_broken_by_id(answer, scope)


@pytest.mark.parametrize("scope", [("accounts",), ("customers", None), ("customers", "acct-a")])
def test_ties_in_a_small_answer_are_broken_by_id(scope):
    day = datetime.now(UTC).date()
    check_ties_broken_by_id(parse_usage(TIED, day, day), scope)


def check_ties_broken_by_id(answer, scope) -> None:
    records = sorted_records(answer, scope, "id")
    minutes = [r.ai_minutes for r in records]
    assert len(set(minutes)) < len(minutes)  # there are ties to break
    expected = {
        "minutes": sorted(records, key=lambda r: (r.ai_minutes, ident(r))),
        "-minutes": sorted(records, key=lambda r: (-r.ai_minutes, ident(r))),
        "id": sorted(records, key=ident),
        "-id": sorted(records, key=ident, reverse=True),
    }
    for sort, order in expected.items():
        assert list(sorted_records(answer, scope, sort)) == order, sort


def test_another_answer_has_sorts_of_its_own(evovoice):
    start, end = past_days(5)
    one = evovoice.usage(start, end).value
    other = evovoice.usage(start - timedelta(days=1), end).value
    assert other is not one
    assert sorted_records(one, ("accounts",), "id") is not sorted_records(
        other, ("accounts",), "id"
    )


def test_the_sorts_go_when_the_clients_memo_lets_the_answer_go(evovoice):
    start, end = past_days(5)
    answer = evovoice.usage(start, end).value
    gone = weakref.ref(answer)
    # Records die only when nothing holds them: not the answer, and not a sort of it.
    record = weakref.ref(answer.customers[0])
    for scope in SCOPES:
        for sort in SORTS:
            sorted_records(answer, scope, sort)
    del answer
    gc.collect()
    assert gone() is not None  # the client's memo still holds it, sorts and all
    assert sorted_records(gone(), ("accounts",), "id") is sorted_records(
        gone(), ("accounts",), "id"
    )
    # A refresh puts a new answer in the client's memo in place of this one.
    assert evovoice.usage(start, end, refresh=True).value is not gone()
    gc.collect()
    assert gone() is None
    assert record() is None
