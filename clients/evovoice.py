"""EvoVoice `GetAIUsage` (`/ai/usage`): AI minutes per account and customer.

The service credential (role SystemAdministrator) sees every account; callers must pass the
scope they are allowed, the client never widens or narrows it.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial
from itertools import repeat
from typing import Any

import orjson
import requests
from requests_cache import DO_NOT_CACHE

from core.periods import split

from .cached_http import CachedUpstream, UpstreamRequest
from .concurrency import ProcessSlots
from .errors import (
    AuthenticationFailed,
    BadResponse,
    InvalidRequest,
    SessionExpired,
    UpstreamError,
    UpstreamUnavailable,
    Wording,
    error_for_status,
)
from .fanout import run_all
from .responses import fast_body, json_body, retry_after_seconds, strict_body
from .result import Fetched

API = "EvoVoice"
# What every page and export says when the service account is not set up.
NOT_CONFIGURED = "EvoVoice is not configured (USAGE_EVOVOICE_USERNAME is empty)"
END_DATE_RULES = ("inclusive", "exclusive")
METHODS = ("auto", "get", "post")
# How long a detected endDate reading is trusted (shared by every worker through the cache).
END_DATE_TTL = timedelta(days=1)
# An upstream with no usage in this many recent days cannot tell; ask again after a while.
PROBE_DAYS = 7
UNDECIDED_TTL = timedelta(hours=1)
GUESSED_END_DATE = (
    "AI minutes may be off by a day at the end of each period: how EvoVoice counts its end "
    "date could not be checked yet (no usage in the last days to tell by)"
)
# Calls made with a session before giving up: the first, then after each new sign-in.
SESSION_ATTEMPTS = 3
WORDING = Wording(
    vendor=API,
    refused="the service account could not sign in to EvoVoice",
    forbidden="the service account lacks the SystemAdministrator role",
    missing="EvoVoice has no AI usage service at the configured URL",
    throttled="the dashboard",
)

log = logging.getLogger(__name__)


def date_params(start: date, end: date, end_date: str) -> dict[str, str]:
    """Return EvoVoice's `startDate`/`endDate` for the inclusive range [start, end].

    The one place that knows FACTS.md's open point: `endDate` read as the last day
    included (`inclusive`) or as the first day left out (`exclusive`, so [start, end+1)).
    """
    upstream_end = end + timedelta(days=1) if end_date == "exclusive" else end
    return {"startDate": start.isoformat(), "endDate": upstream_end.isoformat()}


# Slots: an answer holds up to hundreds of thousands of these, each built in less time.
@dataclass(frozen=True, slots=True, weakref_slot=True)
class AccountMinutes:
    """AI minutes of one account over a range (rounded by EvoVoice per call)."""

    account_id: str
    ai_minutes: int


@dataclass(frozen=True, slots=True, weakref_slot=True)
class CustomerMinutes:
    """AI minutes of one customer of an account over a range."""

    account_id: str
    customer_id: str
    ai_minutes: int


@dataclass(frozen=True)
class AIUsage:
    """A parsed `/ai/usage` answer for one range and scope."""

    start: date
    end: date
    accounts: tuple[AccountMinutes, ...]
    customers: tuple[CustomerMinutes, ...]
    # Orders of these records that readers computed (sorting 100,000 rows costs more than
    # a page), kept here so they live and go with the answer the client's memo holds.
    orders: dict[Hashable, tuple] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )
    # How many records EvoVoice listed, when this holds fewer (a totals-only reading): what
    # reading the answer whole would cost, which callers size further reads by.
    listed: int | None = field(default=None, compare=False, repr=False)

    @property
    def size(self) -> int:
        """Return how many records this answer holds (bounds the in-memory cache)."""
        return len(self.accounts) + len(self.customers)

    @property
    def listed_records(self) -> int:
        """Return how many records EvoVoice listed in the answer, held here or not."""
        return self.size if self.listed is None else self.listed

    def totals_for(self, account_id: str | None, customer_id: str | None) -> AIUsage:
        """Return only the records `minutes(account_id, customer_id)` reads."""
        accounts = (
            self.accounts
            if account_id is None
            else tuple(a for a in self.accounts if a.account_id == account_id)
        )
        customers = (
            ()
            if customer_id is None
            else tuple(c for c in self.customers if c.customer_id == customer_id)
        )
        return AIUsage(self.start, self.end, accounts, customers, listed=self.listed_records)

    def minutes(self, account_id: str | None = None, customer_id: str | None = None) -> int | None:
        """Return the minutes of a customer, an account, or (neither given) all accounts.

        None when EvoVoice listed no record for that customer or account: it reports no
        usage for it in the range, which is not the same as a record of 0 minutes.
        """
        if customer_id is not None:
            found = [
                c.ai_minutes
                for c in self.customers
                if c.customer_id == customer_id and account_id in (None, c.account_id)
            ]
        elif account_id is not None:
            found = [a.ai_minutes for a in self.accounts if a.account_id == account_id]
        else:
            return sum(a.ai_minutes for a in self.accounts)
        return sum(found) if found else None


@dataclass(frozen=True)
class MinutesBucket:
    """AI minutes in one bucket of a series."""

    start: date
    end: date
    ai_minutes: int | None  # None: no record for the scope in this bucket
    fetched: Fetched[AIUsage]


@dataclass(frozen=True)
class MinutesSeries:
    """AI minutes over time plus the range total from one whole-range call."""

    buckets: tuple[MinutesBucket, ...]
    total: int | None  # None: no record for the scope in the whole range
    whole: Fetched[AIUsage]

    @property
    def results(self) -> list[Fetched[AIUsage]]:
        """Return every upstream result the series was built from."""
        return [self.whole, *(b.fetched for b in self.buckets)]


def _text(item: dict, key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} is missing or not text")
    return value


def _minutes(item: dict) -> int:
    # ServiceStack omits null fields; a missing count is zero minutes.
    value = item.get("aiMinutes", 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("aiMinutes is not an integer")
    return value


def _records(body: dict, key: str) -> list:
    # ServiceStack omits empty (null) fields: a missing list is an empty one.
    items = body.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise BadResponse(API, f"EvoVoice answered with {key} that is not a list")
    return items


def parse_usage(body: object, start: date, end: date) -> AIUsage:
    """Turn an `/ai/usage` body into typed records; raise BadResponse if it is not that shape.

    `{}` is a legitimate answer with no usage (ServiceStack leaves empty lists out); an
    object holding only other fields is not this service's answer.
    """
    if not isinstance(body, dict):
        raise BadResponse(API, "EvoVoice answered with something other than a JSON object")
    if body and not ({"accountUsage", "customerUsage"} & body.keys()):
        raise BadResponse(API, "EvoVoice answered without accountUsage or customerUsage")
    try:
        accounts = tuple(
            AccountMinutes(_text(i, "accountId"), _minutes(i))
            for i in _records(body, "accountUsage")
        )
        customers = tuple(
            CustomerMinutes(_text(i, "accountId"), _text(i, "customerId"), _minutes(i))
            for i in _records(body, "customerUsage")
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise BadResponse(
            API, f"EvoVoice answered with an unreadable usage record ({exc})"
        ) from None
    return AIUsage(start, end, accounts, customers)


def read_usage(
    content: bytes,
    start: date,
    end: date,
    totals_of: tuple[str | None, str | None] | None = None,
) -> AIUsage:
    """Parse a 2xx `/ai/usage` body, as `parse_usage` does, in a fraction of its time.

    `totals_of` (account id, customer id) keeps only what `minutes()` reads in that scope,
    as `totals_for` does, without building a record for the customers it leaves out (a
    staff bucket of every account lists them all). Whatever the quick reading cannot take
    as it comes (an unreadable record, or an integer too large for orjson) is read again
    by `parse_usage` from json's decoding, so answers and errors stay exactly its own.
    A reading that keeps no customer (`totals_of` without a customer id) decodes only the
    account records when the customers are written as EvoVoice writes them (`_accounts_only`).
    """
    if totals_of is not None and totals_of[1] is None:
        usage = _accounts_only(content, start, end, totals_of)
        if usage is not None:
            return usage
    usage = _quick_usage(fast_body(content, API, "EvoVoice"), start, end, totals_of)
    if usage is None:
        usage = parse_usage(strict_body(content, API, "EvoVoice"), start, end)
        if totals_of is not None:
            usage = usage.totals_for(*totals_of)
    return usage


# A JSON string as json and orjson both read it: no raw control character, only JSON's
# escapes (a lone surrogate escape is json's to read, and read only by json: `_accounts_only`
# never decodes these).
_TEXT = rb'"[^"\\\x00-\x1f]*+(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*+)*+"'
# A customer record `parse_usage` reads, in the form EvoVoice writes it: compact, these
# fields in this order, aiMinutes an integer (json's, of any size) or left out (zero).
_CUSTOMER = (
    rb'\{"accountId":' + _TEXT + rb',"customerId":' + _TEXT
    + rb'(?:,"aiMinutes":-?+(?:0|[1-9][0-9]*+))?+\}'
)  # fmt: skip
_CUSTOMERS_KEY = b',"customerUsage":['
# The rest of the answer from the customer list on: only that list, to the answer's end.
_CUSTOMERS_TO_END = re.compile(
    re.escape(_CUSTOMERS_KEY)
    + rb"(?:"
    + _CUSTOMER
    + rb"(?:,"
    + _CUSTOMER
    + rb")*+)?+\]\}[ \t\r\n]*+"
)
# Inside a record checked by that pattern this occurs once, and in no string (where a quote
# is always escaped), so it counts the records.
_CUSTOMER_FIELD = b'"customerId":'


def _accounts_only(
    content: bytes, start: date, end: date, totals_of: tuple[str | None, str | None]
) -> AIUsage | None:
    """Return what `read_usage(content, start, end, totals_of)` returns for a reading that
    keeps no customer, having decoded only the account records; or None when the answer is
    not `{"accountUsage": [...], "customerUsage": [...]}` as EvoVoice writes it.

    Most of an every-account answer is its customer list (7 MB at 100,000 customers), and a
    reading of totals needs only its length and that `parse_usage` could read each record:
    one pattern checks the list's bytes without building a value per record.
    """
    at = content.find(_CUSTOMERS_KEY)
    if at == -1:
        return None
    try:
        # Valid JSON closed by one brace only if the key is in the top-level object, not
        # in a string nor deeper: that object's members before it.
        head = orjson.loads(content[:at] + b"}")
    except orjson.JSONDecodeError:
        return None
    rest = content[at:]
    if not (
        isinstance(head, dict)
        and head.keys() == {"accountUsage"}
        and _CUSTOMERS_TO_END.fullmatch(rest) is not None
        and _utf8(rest)
    ):
        return None
    usage = _quick_usage(head, start, end, totals_of)
    if usage is None:
        return None
    accounts = len(head["accountUsage"] or ())
    return replace(usage, listed=accounts + rest.count(_CUSTOMER_FIELD))


def _utf8(data: bytes) -> bool:
    """Tell whether json reads these bytes as UTF-8 (it lets encoded surrogates pass)."""
    if data.isascii():
        return True
    try:
        data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return False
    return True


def _all_of(items: list, key: str, kind: type, default: object = None) -> bool:
    # One C-level pass over every item (no Python frame per record): all values of `key`
    # are exactly of `kind` (a bool is not an int here, as in `_minutes`).
    return set(map(type, map(dict.get, items, repeat(key), repeat(default)))) <= {kind}


def _quick_usage(
    body: object, start: date, end: date, totals_of: tuple[str | None, str | None] | None
) -> AIUsage | None:
    """Return `parse_usage(body, ...)` (narrowed to `totals_of`), or None when any check of
    `parse_usage` might not pass: the caller then lets `parse_usage` say why."""
    if not isinstance(body, dict) or (body and not {"accountUsage", "customerUsage"} & body.keys()):
        return None
    found: list[list] = []
    for key in ("accountUsage", "customerUsage"):
        # As in `_records`: a missing (null) list is an empty one, anything else not a list.
        items = body.get(key)
        items = [] if items is None else items
        if type(items) is not list:
            return None
        found.append(items)
    account_items, customer_items = found
    if not all(set(map(type, items)) <= {dict} for items in found):
        return None
    if not (
        _all_of(account_items, "accountId", str)
        and _all_of(account_items, "aiMinutes", int, 0)
        and _all_of(customer_items, "accountId", str)
        and _all_of(customer_items, "customerId", str)
        and _all_of(customer_items, "aiMinutes", int, 0)
    ):
        return None
    listed = None
    if totals_of is not None:
        listed = len(account_items) + len(customer_items)
        account_id, customer_id = totals_of
        if account_id is not None:
            account_items = [i for i in account_items if i["accountId"] == account_id]
        customer_items = (
            []
            if customer_id is None
            else [i for i in customer_items if i["customerId"] == customer_id]
        )
    get: Callable[..., Any] = dict.get
    accounts = tuple(
        map(
            AccountMinutes,
            map(get, account_items, repeat("accountId")),
            map(get, account_items, repeat("aiMinutes"), repeat(0)),
        )
    )
    customers = tuple(
        map(
            CustomerMinutes,
            map(get, customer_items, repeat("accountId")),
            map(get, customer_items, repeat("customerId")),
            map(get, customer_items, repeat("aiMinutes"), repeat(0)),
        )
    )
    return AIUsage(start, end, accounts, customers, listed=listed)


def error_for(response: requests.Response, secrets: tuple[str, ...] = ()) -> UpstreamError:
    """Map a non-2xx EvoVoice answer (often an empty body) to a typed error."""
    status = response.status_code
    body = json_body(response)
    found = body.get("responseStatus") if isinstance(body, dict) else None
    status_info: dict = found if isinstance(found, dict) else {}
    code = status_info.get("errorCode") if isinstance(status_info.get("errorCode"), str) else None
    listed = status_info.get("errors")
    errors: list = listed if isinstance(listed, list) else []
    field = next(
        (
            e["fieldName"]
            for e in errors
            if isinstance(e, dict) and isinstance(e.get("fieldName"), str)
        ),
        None,
    )
    return error_for_status(
        status,
        API,
        WORDING,
        said=status_info.get("message"),
        code=code,
        field=field,
        retry_after=retry_after_seconds(response),
        sent=response.request,
        secrets=secrets,
    )


@dataclass(frozen=True)
class _Ask:
    """One read with the exact dates EvoVoice is sent, before the verb and session are chosen."""

    dates: dict[str, str]  # startDate and endDate as sent
    start: date
    end: date
    account_id: str | None
    customer_id: str | None
    refresh: bool
    totals_only: bool

    def params(self) -> dict[str, str]:
        """Return the query (or JSON body) for this read."""
        params = dict(self.dates)
        if self.account_id is not None:
            params["accountId"] = self.account_id
        if self.customer_id is not None:
            params["customerId"] = self.customer_id
        return params


class EvovoiceClient:
    """Reads AI minutes with the service credential, signing in with a session or HTTP Basic.

    What FACTS.md leaves open is settled here at run time unless configured: how `endDate`
    is read (`end_date_rule`, `detect_end_date`), the verb `/ai/usage` accepts (`verb`), and
    whether the deployment signs in at `/auth/credentials` (`auth` turns to `basic` on 404).
    """

    def __init__(
        self,
        upstream: CachedUpstream,
        base_url: Callable[[], str],
        username: str,
        password: str,
        *,
        auth: str = "credentials",
        end_date: str = "inclusive",
        method: str = "auto",
        concurrency: int = 8,
        namespace: str = "evovoice",
    ) -> None:
        if auth not in ("credentials", "basic"):
            raise ValueError("auth must be 'credentials' or 'basic'")
        if end_date not in ("auto", *END_DATE_RULES):
            raise ValueError("end_date must be 'auto', 'inclusive' or 'exclusive'")
        if method not in METHODS:
            raise ValueError("method must be 'auto', 'get' or 'post'")
        self.upstream = upstream
        self._base_url = base_url  # resolved late: demo simulators start on first use
        self._username = username
        self._password = password
        # How calls authenticate now: `credentials` (a session) turns to `basic` for good
        # when the deployment has no /auth/credentials.
        self.auth = auth
        self.end_date = end_date  # as configured: auto, inclusive or exclusive
        self.method = method  # as configured: auto, get or post
        self.concurrency = concurrency
        # Every request thread of this process shares these: at most `concurrency` calls
        # to EvoVoice in flight at once, however many pages are being built.
        self.slots = ProcessSlots(concurrency)
        self.namespace = namespace
        self._login_lock = threading.Lock()
        self._cookie: str | None = None  # our own jar: the session cookies go to EvoVoice only
        self._verb_lock = threading.Lock()
        self._verb: str | None = {"get": "GET", "post": "POST"}.get(method)
        self._end_date_lock = threading.Lock()
        # (rule, until, detected): an undetected rule is the documented guess, said on reads.
        self._end_date_known: tuple[str, datetime, bool] | None = None

    def base_url(self) -> str:
        """Return EvoVoice's base URL."""
        return self._base_url()

    @property
    def verb(self) -> str | None:
        """Return the verb `/ai/usage` is read with (GET or POST), None until auto learns it."""
        return self._verb

    # -- authentication ----------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        if self.auth == "credentials":
            cookie = self._cookie or self._login()
            if cookie is not None:
                return {"Cookie": cookie}
        token = base64.b64encode(f"{self._username}:{self._password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def _login(self) -> str | None:
        """Sign in, unless another thread signed in meanwhile.

        Return None when the deployment has no /auth/credentials: calls then use HTTP
        Basic, which EvoVoice accepts on every request, and nobody tries to sign in again.
        """
        with self._login_lock:
            if self.auth != "credentials":
                return None
            if self._cookie is not None:
                return self._cookie
            if not (self._username and self._password):
                raise AuthenticationFailed(
                    API, "no EvoVoice service credential is configured (USAGE_EVOVOICE_USERNAME)"
                )
            try:
                response = self.upstream.session.post(
                    self._base_url().rstrip("/") + "/auth/credentials",
                    json={
                        "provider": "credentials",
                        "userName": self._username,
                        "password": self._password,
                        "rememberMe": True,
                    },
                    timeout=(
                        self.upstream.policy.connect_timeout,
                        self.upstream.policy.read_timeout,
                    ),
                    expire_after=DO_NOT_CACHE,
                    allow_redirects=False,
                )
            except requests.RequestException:
                raise UpstreamUnavailable(API, "could not reach EvoVoice to sign in") from None
            if response.status_code == 404:
                self.auth = "basic"
                log.warning(
                    "EvoVoice has no /auth/credentials (HTTP 404); from now on every call "
                    "signs with HTTP Basic (the docs allow it)"
                )
                return None
            if response.status_code != 200:
                error = error_for(response)
                if response.status_code == 401:
                    error.message = "the service account could not sign in to EvoVoice"
                raise error
            cookies = {c.name: c.value for c in response.cookies if c.name in ("ss-id", "ss-pid")}
            if "ss-id" not in cookies:
                raise BadResponse(API, "EvoVoice accepted the sign-in but set no session cookie")
            self._cookie = "; ".join(f"{k}={v}" for k, v in sorted(cookies.items()))
            return self._cookie

    def _forget(self, rejected: str) -> None:
        """Drop a session EvoVoice refused, unless another thread already replaced it."""
        with self._login_lock:
            if self._cookie == rejected:
                self._cookie = None

    # -- how endDate is read -----------------------------------------------------------

    def end_date_rule(self, account_id: str | None = None) -> str:
        """Return how EvoVoice reads `endDate`: as configured, else as detected.

        A detection is kept for a day in the shared cache (every worker reads it) and
        looked up again hourly; until one is known no read is made, so nothing wrong is shown.
        """
        return self._end_date(account_id)[0]

    def _end_date(self, account_id: str | None) -> tuple[str, bool]:
        """Return the rule and whether it is known (configured or detected), not guessed."""
        if self.end_date != "auto":
            return self.end_date, True
        known = self._end_date_known
        if known is not None and known[1] > self.upstream.clock():
            return known[0], known[2]
        with self._end_date_lock:
            now = self.upstream.clock()
            known = self._end_date_known
            if known is None or known[1] <= now:
                rule, detected = self._settled_end_date(account_id)
                known = (rule, now + UNDECIDED_TTL, detected)
                self._end_date_known = known
            return known[0], known[2]

    def _settled_end_date(self, account_id: str | None) -> tuple[str, bool]:
        name = f"{self.namespace}|end-date"
        found = (self.upstream.recall(name) or {}).get("endDate")
        if found in END_DATE_RULES:
            return found, True
        rule = self.detect_end_date(account_id)
        if rule is None and account_id is not None:
            rule = self.detect_end_date()
        if rule is None:
            log.warning(
                "could not tell how EvoVoice reads endDate (no usage in the last %d days); "
                "reading it as inclusive, as documented, and asking again in an hour",
                PROBE_DAYS,
            )
            return "inclusive", False
        log.info("EvoVoice reads endDate as %s (detected)", rule)
        self.upstream.keep(name, {"endDate": rule}, END_DATE_TTL)
        return rule, True

    def detect_end_date(self, account_id: str | None = None) -> str | None:
        """Probe how EvoVoice reads `endDate`: `inclusive`, `exclusive`, or None if unknown.

        Read inclusively a one-day range [D, D] holds D's usage; read exclusively it is
        empty. So ask [D, D] for yesterday: usage there settles it in one call (the usual
        case). When empty, ask [D, D+1]: read inclusively it holds only D+1's usage, which
        [D+1, D+1] then shows too; read exclusively it is D's. EvoVoice rounds per call, so
        two days under 30 s each may show 1 minute together: only 2 or more prove an
        exclusive reading. A day without usage says nothing: walk back up to PROBE_DAYS.
        Probes skip the cache, in `account_id`'s scope (None: every account).
        """
        today = self.upstream.clock().date()
        for back in range(1, PROBE_DAYS + 1):
            day = today - timedelta(days=back)
            after = day + timedelta(days=1)
            try:
                if self._probe(day, day, account_id):
                    return "inclusive"
            except InvalidRequest:
                return "exclusive"  # it refuses [D, D) as empty: an inclusive server has one day
            two_days = self._probe(day, after, account_id)
            # From the second day back, [D+1, D+1] is the day before's [D, D]: empty.
            if two_days and back == 1 and self._probe(after, after, account_id):
                return "inclusive"
            if two_days > 1:
                return "exclusive"
        return None

    def _probe(self, start: date, upstream_end: date, account_id: str | None) -> int:
        """Return the most minutes any record has for these exact startDate and endDate, or
        at least 2 when it is more: detection tells apart only none, 1, and more than 1.

        Accounts' totals settle it whenever one has 2 or more (a day of usage, the usual
        case) or no customer is listed, without a record per customer; else the customers
        are read too, from the answer just stored (asked again only if nothing is stored).
        """
        params = {"startDate": start.isoformat(), "endDate": upstream_end.isoformat()}
        ask = _Ask(params, start, upstream_end, account_id, None, True, True)
        totals = self._read(ask).value
        most = max((a.ai_minutes for a in totals.accounts), default=0)
        if most >= 2 or totals.listed_records == len(totals.accounts):
            return most
        usage = self._read(replace(ask, refresh=False, totals_only=False)).value
        minutes = [a.ai_minutes for a in usage.accounts] + [c.ai_minutes for c in usage.customers]
        return max(minutes, default=0)

    # -- reads -------------------------------------------------------------------------

    def usage(
        self,
        start: date,
        end: date,
        account_id: str | None = None,
        customer_id: str | None = None,
        *,
        refresh: bool = False,
        totals_only: bool = False,
    ) -> Fetched[AIUsage]:
        """Return AI minutes for [start, end] (inclusive) in the given scope.

        `totals_only` keeps just what `minutes(account_id, customer_id)` needs, not every
        customer of the account: a series of buckets then stays small in memory.
        """
        rule, known = self._end_date(account_id)
        params = date_params(start, end, rule)
        ask = _Ask(params, start, end, account_id, customer_id, refresh, totals_only)
        fetched = self._read(ask)
        return fetched if known else replace(fetched, caveat=GUESSED_END_DATE)

    def _read(self, ask: _Ask) -> Fetched[AIUsage]:
        """Ask with these exact dates, signing in again when EvoVoice refuses the session."""
        for _ in range(SESSION_ATTEMPTS):
            try:
                return self._with_verb(ask)
            except SessionExpired:
                # The refused session is already forgotten: the next call signs in, once
                # for every caller that was refused it.
                continue
        raise AuthenticationFailed(
            API,
            "EvoVoice accepted the service account's sign-in but refused its new session "
            "(HTTP 401); try again shortly",
            status=401,
        )

    def _with_verb(self, ask: _Ask) -> Fetched[AIUsage]:
        verb = self._verb or "GET"
        try:
            fetched = self._fetch(verb, ask)
        except UpstreamError as exc:
            # Only a guessed GET turns (another thread may have learned POST meanwhile).
            if verb != "GET" or self._verb == "GET" or exc.status not in (404, 405):
                raise
            # A deployment that routes only the reference sample's form: POST + JSON body.
            fetched = self._fetch("POST", ask)
            verb = "POST"
        self._learn_verb(verb)
        return fetched

    def _learn_verb(self, verb: str) -> None:
        if self._verb is not None:
            return
        with self._verb_lock:
            if self._verb is None:
                self._verb = verb
                if verb == "POST":
                    log.warning(
                        "EvoVoice answered GET /ai/usage with 404/405: "
                        "reading it with POST and a JSON body from now on"
                    )

    def _fetch(self, verb: str, ask: _Ask) -> Fetched[AIUsage]:
        params, start, end = ask.params(), ask.start, ask.end
        totals_of = (ask.account_id, ask.customer_id) if ask.totals_only else None
        sent: dict[str, str] = {}

        def headers() -> dict[str, str]:
            sent.clear()
            sent.update(self._auth_headers())
            return sent

        request = UpstreamRequest(
            api=API,
            namespace=self.namespace,
            method=verb,
            base_url=self._base_url(),
            path="/ai/usage",
            params=params if verb == "GET" else None,
            json_body=params if verb == "POST" else None,
            headers=headers,
            # The password is part of the identity: a changed or wrong one never reads
            # answers cached for another. Only an HMAC of it reaches the cache key.
            scope=f"{self._username}\0{self._password}",
            ttl=self.upstream.policy.ttl_for(end, self.upstream.clock().date()),
            view="totals" if ask.totals_only else "",
            narrow=(lambda usage: usage.totals_for(*totals_of)) if totals_of else None,
            slots=self.slots,
        )

        def decode(response: requests.Response) -> AIUsage:
            if response.status_code == 401 and "Cookie" in sent:
                self._forget(sent["Cookie"])
                raise SessionExpired(API, "the EvoVoice session expired", status=401)
            if not 200 <= response.status_code < 300:
                raise error_for(response, secrets=(self._password,))
            return read_usage(response.content, start, end, totals_of)

        return self.upstream.fetch(request, decode, refresh=ask.refresh)

    def minutes_series(
        self,
        start: date,
        end: date,
        granularity: str,
        account_id: str | None = None,
        customer_id: str | None = None,
        *,
        refresh: bool = False,
    ) -> MinutesSeries:
        """Return AI minutes per bucket, each bucket cached on its own, and the range total.

        The total comes from one whole-range call: EvoVoice rounds per call, so summing
        rounded buckets would drift from what EvoVoice bills.
        """
        spans = split(start, end, granularity)
        self.end_date_rule(account_id)  # settled here, before any bucket is asked for

        def one(span: tuple[date, date]) -> Fetched[AIUsage]:
            return self.usage(
                span[0], span[1], account_id, customer_id, refresh=refresh, totals_only=True
            )

        calls = [partial(one, span) for span in [(start, end), *spans]]
        # As many at once as EvoVoice has slots: the whole range, then the first buckets,
        # and each read that ends hands the next one over (a window, not rounds). More would
        # only queue at the slots, ahead of a read retried after its session expired.
        whole, *fetched = run_all(calls, at_once=self.concurrency)
        buckets = tuple(
            MinutesBucket(s, e, f.value.minutes(account_id, customer_id), f)
            for (s, e), f in zip(spans, fetched, strict=True)
        )
        return MinutesSeries(buckets, whole.value.minutes(account_id, customer_id), whole)
