"""Sorted and searched views of one parsed EvoVoice answer, each sort computed once.

An answer with 100,000 customers is parsed once per cache entry by the client; sorting it
costs more than rendering a page, so each sort of each answer is kept beside the answer
while it lives (a weak reference: when the client's memo lets the answer go, its sorts go
too), and never for more than a few answers at once.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter

from clients.evovoice import AIUsage

MAX_ANSWERS = 8  # answers whose sorts are kept; each holds at most four orders of its rows

_lock = threading.Lock()
_sorts: OrderedDict[int, tuple[weakref.ref, dict]] = OrderedDict()


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


def _sort(usage: AIUsage, scope: tuple, sort: str, memo: dict) -> Sequence:
    if sort == "id":
        return tuple(sorted(_records(usage, scope), key=_by_id(scope[0])))
    by_id = sorted_records(usage, scope, "id", memo)
    if sort == "-id":
        return by_id[::-1]
    # Python's sort is stable (also with reverse=True): equal minutes stay in id order.
    return tuple(sorted(by_id, key=attrgetter("ai_minutes"), reverse=sort == "-minutes"))


def _forget(key: int) -> None:
    with _lock:
        entry = _sorts.get(key)
        if entry is not None and entry[0]() is None:
            del _sorts[key]


def _memo_for(usage: AIUsage) -> dict:
    key = id(usage)
    with _lock:
        entry = _sorts.get(key)
        if entry is None or entry[0]() is not usage:
            entry = (weakref.ref(usage), {})
            _sorts[key] = entry
            weakref.finalize(usage, _forget, key)
            while len(_sorts) > MAX_ANSWERS:
                _sorts.popitem(last=False)
        else:
            _sorts.move_to_end(key)
        return entry[1]


def sorted_records(usage: AIUsage, scope: tuple, sort: str, memo: dict | None = None) -> Sequence:
    """Return a scope's records in a sort order; ties in minutes are broken by id.

    scope is ("accounts",) or ("customers", account id or None for every account); sort is
    "minutes", "-minutes", "id" or "-id".
    """
    memo = _memo_for(usage) if memo is None else memo
    key = (scope, sort)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _sort(usage, scope, sort, memo)
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
