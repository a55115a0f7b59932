"""The one cached upstream session: credential-keyed cache, freshness, retries, stale-on-error.

requests-cache stores the responses (SQLite or Redis, as signed JSON: see cache_store.py);
the policy is ours because the library's defaults do not fit an API proxy:
- its key ignores `Authorization`, so two tenants would share a response: our key is an
  HMAC over the request *and* the credential, and the credential is redacted from storage;
- it would cache a 200 whose body is malformed: we parse first and store only what parsed;
- stale-if-error must say *why* it is stale, and must not hide a refused credential (401, 403);
- a store that cannot be opened must not take the pages down: they read the upstreams.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.cookiejar import DefaultCookiePolicy
from typing import Any, TypeVar

import requests
from requests_cache import DO_NOT_CACHE, CachedResponse, CachedSession
from requests_cache.backends import BaseCache
from requests_cache.models import CachedRequest

from core.request_context import current_deadline, request_id

from .budget import UpstreamBudget
from .cache_store import is_redis_url, open_backend
from .concurrency import ProcessSlots
from .errors import (
    BadResponse,
    BudgetExceeded,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from .memo import beyond_memory, decoded_answers
from .result import Fetched
from .singleflight import RedisFlights, SingleFlight
from .telemetry import CACHE_EVENTS, UPSTREAM_CALLS, UPSTREAM_SECONDS

log = logging.getLogger(__name__)
T = TypeVar("T")

# Redacted from every stored request and response. requests-cache matches these names
# case-sensitively, so they are spelled exactly as requests sends them.
SECRET_HEADERS = (
    "Authorization",
    "authorization",
    "X-API-KEY",
    "x-api-key",
    "Cookie",
    "Set-Cookie",
)
# Stored with each answer (and so signed with it): an entry copied to another key, e.g.
# another tenant's, is not that key's answer.
ENTRY_KEY_HEADER = "X-Usage-Cache-Key"


@dataclass(frozen=True)
class HttpPolicy:
    """Timeouts, retries and freshness for upstream reads (seconds)."""

    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    deadline: float = 20.0
    retry_after_max: float = 5.0
    backoff_base: float = 0.2
    ttl_past: float = 6 * 3600
    ttl_today: float = 60
    stale_max: float = 24 * 3600
    max_response_bytes: int = 64 * 1024 * 1024

    def ttl_for(self, range_end, today) -> timedelta:
        """Keep a range that ended before today long; one that includes today briefly."""
        return timedelta(seconds=self.ttl_past if range_end < today else self.ttl_today)


@dataclass(frozen=True)
class UpstreamRequest:
    """One upstream read, described without the network."""

    api: str  # names the upstream in messages and logs, e.g. "isnotai (us)"
    namespace: str  # which upstream instance, for the cache key (not the resolved host)
    method: str
    base_url: str
    path: str
    scope: str  # the credential's identity; only its HMAC reaches the cache key
    ttl: timedelta
    params: Mapping[str, str] | None = None
    json_body: Mapping[str, Any] | None = None
    # Credential headers, or a callable giving them: called only when a request is sent,
    # so a cache hit never needs to sign in.
    headers: Mapping[str, str] | Callable[[], Mapping[str, str]] = field(default_factory=dict)
    # Names the decoder when one answer is read several ways (whole, or totals only):
    # decoded values and in-process flights are kept per view; the stored answer is shared.
    view: str = ""
    # How this view is made from the whole answer's decoded value (view ""), so a view
    # asked for while the whole answer is in memory costs neither a store read nor a parse.
    narrow: Callable[[Any], Any] | None = None
    # The process-wide limit on calls in flight to this upstream, if it has one.
    slots: ProcessSlots | None = None

    @property
    def url(self) -> str:
        """Return the absolute URL; a base URL may carry a path prefix."""
        return self.base_url.rstrip("/") + self.path


Decoder = Callable[[requests.Response], T]


def _memo_key(key: str, req: UpstreamRequest) -> str:
    return f"{key}|{req.view}" if req.view else key


class CachedUpstream:
    """Cached, retried, single-flight upstream reads for one process."""

    def __init__(
        self,
        cache_url: str,
        key_secret: str,
        policy: HttpPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        memo_records: int = 500_000,
        budget: UpstreamBudget | None = None,
    ) -> None:
        self.cache_url = cache_url
        self.policy = policy or HttpPolicy()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.budget = budget
        self._sleep = sleep
        self._key = hashlib.sha256(b"usage-cache-key\0" + key_secret.encode()).digest()
        self._signing_key = hashlib.sha256(b"usage-cache-sign\0" + key_secret.encode()).digest()
        # Why the store is not used (it could not be opened), or None while it is.
        self.cache_problem: str | None = None
        self._flights = SingleFlight()
        self._shared_flights = (
            RedisFlights(cache_url, self.policy.deadline) if is_redis_url(cache_url) else None
        )
        self._memo = decoded_answers(memo_records)
        self._lock = threading.Lock()
        self._session: CachedSession | None = None
        self._pid: int | None = None

    @property
    def memo_weight(self) -> int:
        """Return how many decoded records this process keeps in memory."""
        return self._memo.weight

    # -- the session -------------------------------------------------------------------

    @property
    def session(self) -> CachedSession:
        """Return this process's session, creating it on first use (after any fork)."""
        pid = os.getpid()
        if self._session is None or self._pid != pid:
            with self._lock:
                if self._session is None or self._pid != pid:
                    self._session = CachedSession(
                        backend=self._open_store(),
                        expire_after=DO_NOT_CACHE,  # reads and writes are explicit below
                        ignored_parameters=SECRET_HEADERS,
                        allowable_codes=(200,),
                    )
                    self._session.headers["Accept"] = "application/json"
                    # No shared cookie jar: one upstream's session cookies must never travel
                    # to another host, nor into a cached request. Clients send their own.
                    self._session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
                    self._pid = pid
        return self._session

    def _open_store(self) -> BaseCache:
        try:
            return open_backend(self.cache_url, self.policy.stale_max, self._signing_key)
        except Exception as exc:  # noqa: BLE001 - any unusable store: read the upstreams
            kind = type(exc).__name__
            # sqlite3 and OS errors name the file's problem; other text might echo the URL.
            detail = f"{kind}: {exc}" if isinstance(exc, sqlite3.Error | OSError) else kind
            self.cache_problem = f"the cache store could not be opened ({detail})"
            log.error(
                "%s; every read goes to the upstreams until the app restarts", self.cache_problem
            )
            return BaseCache()  # holds nothing: writes are skipped while degraded

    def close(self) -> None:
        """Close the session and its backend connections."""
        if self._session is not None:
            self._session.close()
            self._session = None

    # -- cache -------------------------------------------------------------------------

    def cache_key(self, req: UpstreamRequest) -> str:
        """Return the HMAC key of a request and its credential; the credential is not kept."""
        material = json.dumps(
            [
                req.namespace,
                req.method.upper(),
                req.path,
                sorted((req.params or {}).items()),
                req.json_body,
                req.scope,
            ],
            sort_keys=True,
            default=str,
        )
        return hmac.new(self._key, material.encode(), hashlib.sha256).hexdigest()

    def _read_cache(self, key: str) -> CachedResponse | None:
        """Return the stored answer for a key; anything unreadable or misplaced is a miss."""
        try:
            cached = self.session.cache.get_response(key)
        except Exception as exc:  # noqa: BLE001 - a broken cache must not break the page
            log.warning("cache read failed: %s", type(exc).__name__)
            return None
        if not isinstance(cached, CachedResponse):
            return None
        if cached.headers.get(ENTRY_KEY_HEADER) != key:
            log.warning("ignored a cache entry stored under another key")
            return None
        return cached

    def _write_cache(self, key: str, response: requests.Response, ttl: timedelta) -> None:
        if self.cache_problem:
            return
        response.headers[ENTRY_KEY_HEADER] = key
        try:
            self.session.cache.save_response(response, key, datetime.now(UTC) + ttl)
        except Exception as exc:  # noqa: BLE001 - likewise for writes
            log.warning("cache write failed: %s", type(exc).__name__)

    def _finding_key(self, name: str) -> str:
        return hmac.new(self._key, f"finding\0{name}".encode(), hashlib.sha256).hexdigest()

    def recall(self, name: str) -> dict | None:
        """Return a finding about an upstream kept by `keep` in the shared store, while fresh."""
        cached = self._read_cache(self._finding_key(name))
        if cached is None or cached.expires is None or cached.expires <= self.clock():
            return None
        try:
            found = cached.json()
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    def keep(self, name: str, finding: dict, ttl: timedelta) -> None:
        """Keep a small JSON finding about an upstream (e.g. how it reads a parameter) for
        `ttl`, in the store every worker shares, signed like any answer."""
        url = f"finding:{name}"
        response = CachedResponse(
            status_code=200, url=url, request=CachedRequest(method="GET", url=url)
        )
        response._content = json.dumps(finding).encode()
        self._write_cache(self._finding_key(name), response, ttl)

    # -- reads -------------------------------------------------------------------------

    def fetch(
        self, req: UpstreamRequest, decode: Decoder[T], *, refresh: bool = False
    ) -> Fetched[T]:
        """Return the decoded answer, from the cache when fresh; `refresh` bypasses it."""
        key = self.cache_key(req)
        cached = None
        if not refresh:
            remembered = self._memo.get(_memo_key(key, req), self.clock()) or self._narrowed(
                key, req
            )
            if remembered is None:
                beyond_memory()
                cached = self._read_cache(key)
                remembered = self._fresh(key, req, cached, decode)
            if remembered is not None:
                CACHE_EVENTS.labels(req.api, "hit").inc()
                return remembered
        else:
            beyond_memory()
            cached = self._read_cache(key)
        if self.budget is not None:
            # Charged before joining a flight, so one caller's empty budget is its own.
            try:
                self.budget.spend(req.api)
            except BudgetExceeded as exc:
                return self._stale_or_raise(req, cached, decode, exc)
        return self._flights.run(
            f"{_memo_key(key, req)}:{refresh}",
            lambda: self._fetch_upstream(req, key, decode, refresh, cached),
        )

    def _narrowed(self, key: str, req: UpstreamRequest) -> Fetched | None:
        """Return a view made from the whole answer held in memory, if it is held."""
        if req.narrow is None or not req.view:
            return None
        whole = self._memo.get(key, self.clock())
        if whole is None:
            return None
        # Not kept: made again in far less time than the memory it would hold.
        return replace(whole, value=req.narrow(whole.value))

    def _fresh(
        self, key: str, req: UpstreamRequest, cached, decode: Decoder[T]
    ) -> Fetched[T] | None:
        if cached is None or cached.expires is None or cached.expires <= self.clock():
            return None
        try:
            hit = Fetched(decode(cached), cached.created_at, "cache")
        except UpstreamError:
            return None
        self._memo.put(_memo_key(key, req), hit, cached.expires)
        return hit

    def _fetch_upstream(
        self, req: UpstreamRequest, key: str, decode: Decoder[T], refresh: bool, cached
    ) -> Fetched[T]:
        if self._shared_flights is None:
            return self._fetch_locked(req, key, decode, refresh, cached)
        with self._shared_flights.held(f"{key}:{refresh}"):
            return self._fetch_locked(req, key, decode, refresh, cached)

    def _fetch_locked(
        self, req: UpstreamRequest, key: str, decode: Decoder[T], refresh: bool, cached
    ) -> Fetched[T]:
        if not refresh:
            # Another flight may have filled the cache since this caller looked.
            cached = self._read_cache(key) or cached
            hit = self._fresh(key, req, cached, decode)
            if hit is not None:
                CACHE_EVENTS.labels(req.api, "hit").inc()
                return hit
        try:
            response, value = self.send(req, decode)
        except UpstreamError as exc:
            return self._stale_or_raise(req, cached, decode, exc)
        CACHE_EVENTS.labels(req.api, "miss").inc()
        fetched_at = datetime.now(UTC)
        self._write_cache(key, response, req.ttl)
        self._memo.put(
            _memo_key(key, req), Fetched(value, fetched_at, "cache"), fetched_at + req.ttl
        )
        return Fetched(value, fetched_at, "upstream")

    def _stale_or_raise(
        self, req: UpstreamRequest, cached, decode: Decoder[T], exc: UpstreamError
    ) -> Fetched[T]:
        """Return saved data standing in for a failed read, or raise the failure."""
        stale = self._stale(cached, decode, exc)
        if stale is None:
            raise exc
        log.warning("serving stale %s data: %s", req.api, exc.message)
        CACHE_EVENTS.labels(req.api, "stale").inc()
        return stale

    def _stale(self, cached, decode: Decoder[T], exc: UpstreamError) -> Fetched[T] | None:
        if cached is None or not exc.serve_stale:
            return None
        age = self.clock() - cached.created_at
        if age > timedelta(seconds=self.policy.stale_max):
            return None
        try:
            return Fetched(decode(cached), cached.created_at, "stale", exc.message)
        except UpstreamError:
            return None

    def _read_body(self, response: requests.Response, api: str) -> None:
        """Read the body, refusing one larger than the policy allows before it fills memory."""
        limit = self.policy.max_response_bytes
        refused = BadResponse(
            api, f"{api} answered with more than {limit:,} bytes, more than this app accepts"
        )
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            response.close()
            raise refused
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > limit:
                response.close()
                raise refused
            chunks.append(chunk)
        response._content = b"".join(chunks)

    def _attempt(
        self, req: UpstreamRequest, decode: Decoder[T], remaining: float
    ) -> tuple[requests.Response, T]:
        """Make one call and decode it, in one of the upstream's slots if it has a limit."""
        if req.slots is None:
            return self._call(req, decode, remaining)
        waited = time.monotonic()
        with req.slots.held(remaining) as held:
            if not held:
                raise UpstreamTimeout(
                    req.api, f"{req.api} is busy with this server's other reads; try again shortly"
                )
            return self._call(req, decode, remaining - (time.monotonic() - waited))

    def _call(
        self, req: UpstreamRequest, decode: Decoder[T], remaining: float
    ) -> tuple[requests.Response, T]:
        """Send one request and decode it, counting its outcome and latency."""
        policy = self.policy
        # Inside the slot: a sign-in made for these headers is a call in flight too.
        headers = dict(req.headers() if callable(req.headers) else req.headers)
        if rid := request_id.get():
            headers["X-Request-ID"] = rid
        started = time.perf_counter()
        outcome = "ok"
        try:
            response = self.session.request(
                req.method,
                req.url,
                params=req.params,
                json=req.json_body,
                headers=headers,
                timeout=(
                    max(0.01, min(policy.connect_timeout, remaining)),
                    max(0.01, min(policy.read_timeout, remaining)),
                ),
                allow_redirects=False,
                expire_after=DO_NOT_CACHE,
                stream=True,
            )
            self._read_body(response, req.api)
            return response, decode(response)
        except (requests.RequestException, UpstreamError) as exc:
            outcome = type(exc).__name__
            raise
        finally:
            UPSTREAM_CALLS.labels(req.api, outcome).inc()
            UPSTREAM_SECONDS.labels(req.api).observe(time.perf_counter() - started)

    def send(self, req: UpstreamRequest, decode: Decoder[T]) -> tuple[requests.Response, T]:
        """Call the upstream (no cache), retrying reads within the deadline; decode the answer."""
        policy = self.policy
        deadline = time.monotonic() + policy.deadline
        shared = current_deadline()
        if shared is not None:
            deadline = min(deadline, shared)
        attempt = 0
        # The upstream's own failure says more than our running out of time retrying it.
        failure: UpstreamError | None = None
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise failure or UpstreamTimeout(
                    req.api, f"{req.api} did not answer in time; try again in a moment"
                )
            try:
                return self._attempt(req, decode, remaining)
            except requests.Timeout:
                error: UpstreamError = failure or UpstreamTimeout(
                    req.api, f"{req.api} did not answer in time; try again in a moment"
                )
            except requests.ConnectionError:
                error = failure = UpstreamUnavailable(
                    req.api, f"could not connect to {req.api}; try again in a moment"
                )
            except RateLimited as exc:
                wait = exc.retry_after
                remaining = deadline - time.monotonic()
                if wait is not None and wait <= policy.retry_after_max and wait < remaining:
                    self._sleep(wait)
                    attempt += 1
                    continue
                raise
            except BadResponse as exc:
                if not exc.retryable:
                    raise
                error = failure = exc
            except UpstreamUnavailable as exc:
                error = failure = exc
            attempt += 1
            pause = policy.backoff_base * (2 ** (attempt - 1)) * (1 + random.random() / 2)  # noqa: S311
            if time.monotonic() + pause >= deadline:
                raise error
            self._sleep(pause)
