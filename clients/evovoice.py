"""EvoVoice `GetAIUsage` (`/ai/usage`): AI minutes per account and customer.

The service credential (role SystemAdministrator) sees every account; callers must pass the
scope they are allowed, the client never widens or narrows it.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta

import requests
from requests_cache import DO_NOT_CACHE

from core.periods import split

from .cached_http import CachedUpstream, UpstreamRequest
from .concurrency import ProcessSlots
from .deadline import carried
from .errors import (
    AuthenticationFailed,
    BadResponse,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    SessionExpired,
    UpstreamError,
    UpstreamUnavailable,
)
from .responses import json_body, retry_after_seconds, success_body
from .result import Fetched

API = "EvoVoice"
# FACTS.md leaves open whether `endDate` is inclusive; this is the one place that assumes it.
END_DATE_INCLUSIVE = True


def date_params(start: date, end: date) -> dict[str, str]:
    """Return EvoVoice's `startDate`/`endDate` for the inclusive range [start, end]."""
    upstream_end = end if END_DATE_INCLUSIVE else end + timedelta(days=1)
    return {"startDate": start.isoformat(), "endDate": upstream_end.isoformat()}


@dataclass(frozen=True)
class AccountMinutes:
    """AI minutes of one account over a range (rounded by EvoVoice per call)."""

    account_id: str
    ai_minutes: int


@dataclass(frozen=True)
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

    @property
    def size(self) -> int:
        """Return how many records this answer holds (bounds the in-memory cache)."""
        return len(self.accounts) + len(self.customers)

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
        return AIUsage(self.start, self.end, accounts, customers)

    def minutes(self, account_id: str | None = None, customer_id: str | None = None) -> int:
        """Return the minutes of a customer, an account, or (neither given) all accounts."""
        if customer_id is not None:
            return sum(
                c.ai_minutes
                for c in self.customers
                if c.customer_id == customer_id and account_id in (None, c.account_id)
            )
        if account_id is not None:
            return sum(a.ai_minutes for a in self.accounts if a.account_id == account_id)
        return sum(a.ai_minutes for a in self.accounts)


@dataclass(frozen=True)
class MinutesBucket:
    """AI minutes in one bucket of a series."""

    start: date
    end: date
    ai_minutes: int
    fetched: Fetched[AIUsage]


@dataclass(frozen=True)
class MinutesSeries:
    """AI minutes over time plus the range total from one whole-range call."""

    buckets: tuple[MinutesBucket, ...]
    total: int
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


def parse_usage(body: object, start: date, end: date) -> AIUsage:
    """Turn an `/ai/usage` body into typed records; raise BadResponse if it is not that shape."""
    if not isinstance(body, dict) or not ({"accountUsage", "customerUsage"} & body.keys()):
        raise BadResponse(API, "EvoVoice answered without accountUsage or customerUsage")
    try:
        accounts = tuple(
            AccountMinutes(_text(i, "accountId"), _minutes(i))
            for i in body.get("accountUsage") or []
        )
        customers = tuple(
            CustomerMinutes(_text(i, "accountId"), _text(i, "customerId"), _minutes(i))
            for i in body.get("customerUsage") or []
        )
    except (AttributeError, TypeError, ValueError) as exc:
        raise BadResponse(
            API, f"EvoVoice answered with an unreadable usage record ({exc})"
        ) from None
    return AIUsage(start, end, accounts, customers)


def error_for(response: requests.Response) -> UpstreamError:
    """Map a non-2xx EvoVoice answer (often an empty body) to a typed error."""
    status = response.status_code
    body = json_body(response)
    status_info = body.get("responseStatus") if isinstance(body, dict) else None
    status_info = status_info if isinstance(status_info, dict) else {}
    code = status_info.get("errorCode") if isinstance(status_info.get("errorCode"), str) else None
    errors = status_info.get("errors") if isinstance(status_info.get("errors"), list) else []
    field = next(
        (
            e["fieldName"]
            for e in errors
            if isinstance(e, dict) and isinstance(e.get("fieldName"), str)
        ),
        None,
    )
    kw = {"status": status, "code": code, "field": field}
    if status == 400:
        what = f"the {field} parameter" if field else "the request"
        return InvalidRequest(API, f"EvoVoice rejected {what} as invalid", **kw)
    if status == 401:
        return AuthenticationFailed(API, "the service account could not sign in to EvoVoice", **kw)
    if status == 403:
        return PermissionDenied(API, "the service account lacks the SystemAdministrator role", **kw)
    if status == 404:
        return NotFound(API, "EvoVoice has no AI usage service at the configured URL", **kw)
    if status == 429:
        wait = retry_after_seconds(response)
        when = f"retry in {wait:.0f} s" if wait is not None else "retry in a minute"
        return RateLimited(
            API, f"EvoVoice rate limited the dashboard; {when}", retry_after=wait, **kw
        )
    if status >= 500:
        return UpstreamUnavailable(
            API, f"EvoVoice failed on its side (HTTP {status}); try again shortly", **kw
        )
    return UpstreamError(API, f"EvoVoice answered with unexpected HTTP {status}", **kw)


class EvovoiceClient:
    """Reads AI minutes with the service credential, signing in with a session or HTTP Basic."""

    def __init__(
        self,
        upstream: CachedUpstream,
        base_url: Callable[[], str],
        username: str,
        password: str,
        *,
        auth: str = "credentials",
        concurrency: int = 8,
        namespace: str = "evovoice",
    ) -> None:
        if auth not in ("credentials", "basic"):
            raise ValueError("auth must be 'credentials' or 'basic'")
        self.upstream = upstream
        self._base_url = base_url  # resolved late: demo simulators start on first use
        self._username = username
        self._password = password
        self.auth = auth
        self.concurrency = concurrency
        # Every request thread of this process shares these: at most `concurrency` calls
        # to EvoVoice in flight at once, however many pages are being built.
        self.slots = ProcessSlots(concurrency)
        self.namespace = namespace
        self._login_lock = threading.Lock()
        self._cookie: str | None = None  # our own jar: the session cookies go to EvoVoice only

    def base_url(self) -> str:
        """Return EvoVoice's base URL."""
        return self._base_url()

    # -- authentication ----------------------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        if self.auth == "basic":
            token = base64.b64encode(f"{self._username}:{self._password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        cookie = self._cookie or self._login()
        return {"Cookie": cookie}

    def _login(self) -> str:
        """Sign in, unless another thread signed in meanwhile."""
        with self._login_lock:
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
        sent: dict[str, str] = {}

        def headers() -> dict[str, str]:
            sent.update(self._auth_headers())
            return sent

        try:
            return self._fetch(
                start, end, account_id, customer_id, headers, refresh, sent, totals_only
            )
        except SessionExpired:
            # The session expired upstream: sign in again once (in a slot, like any call).
            self._forget(sent["Cookie"])
            return self._fetch(
                start, end, account_id, customer_id, self._auth_headers, refresh, None, totals_only
            )

    def _fetch(
        self, start, end, account_id, customer_id, headers, refresh, session, totals_only
    ) -> Fetched[AIUsage]:
        params = date_params(start, end)
        if account_id is not None:
            params["accountId"] = account_id
        if customer_id is not None:
            params["customerId"] = customer_id
        request = UpstreamRequest(
            api=API,
            namespace=self.namespace,
            method="GET",
            base_url=self._base_url(),
            path="/ai/usage",
            params=params,
            headers=headers,
            # The password is part of the identity: a changed or wrong one never reads
            # answers cached for another. Only an HMAC of it reaches the cache key.
            scope=f"{self._username}\0{self._password}",
            ttl=self.upstream.policy.ttl_for(end, self.upstream.clock().date()),
            view="totals" if totals_only else "",
            slots=self.slots,
        )

        def decode(response: requests.Response) -> AIUsage:
            if response.status_code == 401 and session and "Cookie" in session:
                raise SessionExpired(API, "the EvoVoice session expired", status=401)
            if not 200 <= response.status_code < 300:
                raise error_for(response)
            usage = parse_usage(success_body(response, API, "EvoVoice"), start, end)
            return usage.totals_for(account_id, customer_id) if totals_only else usage

        return self.upstream.fetch(request, decode, refresh=refresh)

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

        def one(span: tuple[date, date]) -> Fetched[AIUsage]:
            return self.usage(
                span[0], span[1], account_id, customer_id, refresh=refresh, totals_only=True
            )

        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(spans) + 1))) as pool:
            whole_future = pool.submit(carried(one), (start, end))
            futures = [pool.submit(carried(one), span) for span in spans]
            fetched = [future.result() for future in futures]
            whole = whole_future.result()
        buckets = tuple(
            MinutesBucket(s, e, f.value.minutes(account_id, customer_id), f)
            for (s, e), f in zip(spans, fetched, strict=True)
        )
        return MinutesSeries(buckets, whole.value.minutes(account_id, customer_id), whole)
