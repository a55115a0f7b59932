"""Every upstream fault on every surface: saved data with a stale banner when there is some,
otherwise a specific message with 502, 503 or 504; bounded time; nothing cached. A refused
credential (401, 403) is shown as such even when saved data exists."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from services.embed_tokens import mint

from .conftest import signing_key

DEADLINE = 1.5
# (fault kind, extra fault arguments, status without saved data, words in the message)
FAULTS = [
    ("timeout", {"hang_seconds": 10}, 504, "did not answer in time"),
    ("503", {}, 502, "failed on its side"),
    ("429", {"retry_after": 30}, 503, "retry in 30 s"),
    ("429", {}, 503, "retry in a minute"),
    ("malformed", {}, 502, "not JSON"),
    ("html", {}, 502, "failed on its side"),
    ("401", {}, 502, None),
    ("403", {}, 502, None),
]
WORDS_401 = {"isnotai-us": "refused the API key", "evovoice": "refused its new session"}
WORDS_403 = {"isnotai-us": "may not read", "evovoice": "lacks the SystemAdministrator role"}
END = datetime.now(UTC).date() - timedelta(days=2)
START = END - timedelta(days=6)
QUERY = f"start={START}&end={END}"
SURFACES = {
    "page": (f"/usage?{QUERY}", {}),
    "fragment": (f"/usage?{QUERY}&granularity=week", {"HX-Request": "true"}),
    "metrics export": (f"/usage/metrics.csv?{QUERY}", {}),
    "minutes export": (f"/usage/ai-minutes.csv?{QUERY}", {}),
    "metrics widget": ("/embed/metrics?preset=7d", {"widget": True}),
    "minutes widget": ("/embed/ai-minutes?preset=7d", {"widget": True}),
}
# Which upstream each surface reads.
READS = {
    "page": ("isnotai-us", "evovoice"),
    "fragment": ("isnotai-us", "evovoice"),
    "metrics export": ("isnotai-us",),
    "minutes export": ("evovoice",),
    "metrics widget": ("isnotai-us",),
    "minutes widget": ("evovoice",),
}
CASES = [
    (surface, target, fault)
    for surface, targets in READS.items()
    for target in targets
    for fault in FAULTS
]
REFUSALS = ("401", "403")
STALE_CASES = [case for case in CASES if case[2][0] not in REFUSALS]
REFUSED_CASES = [case for case in CASES if case[2][0] in REFUSALS]


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "USAGE_UPSTREAM_DEADLINE": DEADLINE,
        "USAGE_READ_TIMEOUT": 0.5,
        "USAGE_RETRY_AFTER_MAX": 0,
    }


@pytest.fixture
def customer(app, client, make_tenant, make_user, login, clock):
    app.extensions["upstreams"].http.clock = clock
    make_tenant("acme", integration="acme", account="acct-northwind")
    make_user("acme@example.com", tenant="acme")
    return login(client, "acme@example.com")


def ask(client, surface):
    url, options = SURFACES[surface]
    headers = dict(options)
    if headers.pop("widget", False):
        key = signing_key(client.application, "acme")
        headers["X-Embed-Token"] = mint(key, ttl=timedelta(minutes=30))
    started = time.monotonic()
    response = client.get(url, headers=headers)
    return response, time.monotonic() - started


def words_for(fault, target):
    kind, _, _, words = fault
    return {"401": WORDS_401, "403": WORDS_403}.get(kind, {}).get(target, words)


def upstream_calls(sims, target):
    path = "/ai/usage" if target == "evovoice" else "/v1/usage"
    return [c for c in sims.state.calls() if c["path"] == path]


@pytest.mark.parametrize(
    ("surface", "target", "fault"),
    CASES,
    ids=lambda v: str(v[0]) if isinstance(v, tuple) else str(v),
)
def test_without_saved_data_the_failure_is_named(customer, sims, surface, target, fault):
    kind, extra, status, _ = fault
    sims.state.add_fault(target, kind, **extra)
    response, elapsed = ask(customer, surface)
    body = response.get_data(as_text=True)
    assert response.status_code == status, body[:300]
    assert words_for(fault, target) in body
    assert "Traceback" not in body
    if surface in ("page", "fragment"):
        assert "Try again" in body
    assert elapsed < DEADLINE + 2
    # Nothing was cached from the failure: once the fault is gone the upstream is asked.
    sims.state.clear_faults()
    sims.state.clear_calls()
    assert ask(customer, surface)[0].status_code == 200
    assert upstream_calls(sims, target)


def saved_then_expired(customer, clock, surface):
    """Load the surface once, then move past its freshness; return the first response."""
    first, _ = ask(customer, surface)
    assert first.status_code == 200
    if "widget" in surface:
        clock.advance(minutes=2)  # presets include today: fresh for 60 s
    else:
        clock.advance(hours=7)  # past the 6 h freshness of a range that ended before today
    return first


@pytest.mark.parametrize(
    ("surface", "target", "fault"),
    STALE_CASES,
    ids=lambda v: str(v[0]) if isinstance(v, tuple) else str(v),
)
def test_with_saved_data_it_is_shown_as_stale(customer, sims, clock, surface, target, fault):
    kind, extra, _, _ = fault
    first = saved_then_expired(customer, clock, surface)
    sims.state.add_fault(target, kind, **extra)
    response, elapsed = ask(customer, surface)
    body = response.get_data(as_text=True)
    assert response.status_code == 200, body[:300]
    assert elapsed < DEADLINE + 2
    if "export" in surface:
        assert body == first.get_data(as_text=True)  # the saved numbers, exactly
        freshness = response.headers["X-Data-Freshness"]
        assert freshness.startswith("stale; fetched-at=")
        assert words_for(fault, target) in freshness
    else:
        assert "Showing saved data" in body
        assert words_for(fault, target) in body


@pytest.mark.parametrize(
    ("surface", "target", "fault"),
    REFUSED_CASES,
    ids=lambda v: str(v[0]) if isinstance(v, tuple) else str(v),
)
def test_a_refused_credential_is_never_hidden_behind_saved_data(
    customer, sims, clock, surface, target, fault
):
    kind, extra, status, _ = fault
    first = saved_then_expired(customer, clock, surface)
    sims.state.add_fault(target, kind, **extra)
    response, _ = ask(customer, surface)
    body = response.get_data(as_text=True)
    assert response.status_code == status, body[:300]
    assert words_for(fault, target) in body
    assert "Showing saved data" not in body
    assert body != first.get_data(as_text=True)


def test_an_answer_of_the_wrong_shape_is_an_error_and_never_cached(customer, sims):
    # 8 MiB, under the 64 MiB limit, of JSON that has `data: []` but not the documented keys.
    sims.state.add_fault("isnotai-us", "oversized", times=1)
    response, _ = ask(customer, "metrics export")
    assert response.status_code == 502
    assert "without the documented usage data" in response.get_data(as_text=True)
    sims.state.clear_calls()
    assert ask(customer, "metrics export")[0].status_code == 200
    assert len(upstream_calls(sims, "isnotai-us")) == 1  # asked again: nothing was cached
