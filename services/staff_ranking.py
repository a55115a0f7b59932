"""Sorted and searched views of one parsed EvoVoice answer, each sort computed once.

An answer with 100,000 customers is parsed once per cache entry by the client; sorting it
costs more than rendering a page, so each sort is kept in the answer itself (`orders`):
when the client's memo lets the answer go, its sorts go with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from clients.evovoice import AIUsage


@dataclass(frozen=True)
class Row:
    """One row of a ranking: an account, or a customer of an account."""

    account_id: str
    customer_id: str | None
    ai_minutes: int
    share: float | None  # percent of the ranking's whole

    @property
    def id(self) -> str:
        """Return the id the row is about: the customer's, else the account's."""
        return self.customer_id if self.customer_id is not None else self.account_id

    @classmethod
    def of(cls, record, share: float | None) -> Row:
        """Return the row of an account or customer record."""
        return cls(
            record.account_id, getattr(record, "customer_id", None), record.ai_minutes, share
        )


def _records(usage: AIUsage, scope: tuple) -> Sequence:
    if scope[0] == "accounts":
        return usage.accounts
    account = scope[1]
    if account is None:
        return usage.customers
    return [c for c in usage.customers if c.account_id == account]


def _by_id(kind: str) -> Callable:
    if kind == "accounts":
        return attrgetter("account_id")
    return attrgetter("account_id", "customer_id")


def _sort(usage: AIUsage, scope: tuple, sort: str) -> tuple:
    if sort == "id":
        return tuple(sorted(_records(usage, scope), key=_by_id(scope[0])))
    by_id = sorted_records(usage, scope, "id")
    if sort == "-id":
        return by_id[::-1]
    # Python's sort is stable (also with reverse=True): equal minutes stay in id order.
    return tuple(sorted(by_id, key=attrgetter("ai_minutes"), reverse=sort == "-minutes"))


def sorted_records(usage: AIUsage, scope: tuple, sort: str) -> tuple:
    """Return a scope's records in a sort order; ties in minutes are broken by id.

    scope is ("accounts",) or ("customers", account id or None for every account); sort is
    "minutes", "-minutes", "id" or "-id".
    """
    key = (scope, sort)
    found = usage.orders.get(key)
    if found is None:
        # Two first readers may both sort; setdefault keeps one, so both get the same order.
        found = usage.orders.setdefault(key, _sort(usage, scope, sort))
    return found


def matching(records: Sequence, ident: Callable[[object], str], search: str) -> Sequence:
    """Return the records whose id contains the search, ignoring case (all when it is empty)."""
    if not search:
        return records
    needle = search.casefold()
    return [r for r in records if needle in ident(r).casefold()]


def customer_records(records: Sequence, customer: str | None) -> Sequence:
    """Return the records of one exact customer id (all when none is given)."""
    if customer is None:
        return records
    return [r for r in records if r.customer_id == customer]
