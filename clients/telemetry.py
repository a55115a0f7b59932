"""What the clients count: upstream calls by API and outcome, their latency, cache use."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

UPSTREAM_CALLS = Counter(
    "usage_upstream_requests_total",
    "Upstream HTTP attempts by API and outcome (ok, or the error's kind).",
    ["api", "outcome"],
)
UPSTREAM_SECONDS = Histogram(
    "usage_upstream_request_seconds",
    "Upstream HTTP attempt latency by API.",
    ["api"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20),
)
CACHE_EVENTS = Counter(
    "usage_cache_events_total",
    "Upstream reads answered from the cache (hit), fetched (miss), or served stale (stale).",
    ["api", "event"],
)
