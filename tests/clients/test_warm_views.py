"""A view whose every read the process remembers starts no thread: its reads, and the page's
wait for them, run on the request's own thread."""

from __future__ import annotations

import pytest

from clients.fanout import PAGE_THREADS, THREADS

FRAGMENT = {"HX-Request": "true"}


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("customer", "/usage?preset=30d&granularity=week"),
        ("customer", "/usage?preset=90d&compare=previous"),
        ("staff", "/staff?preset=30d"),
        ("staff", "/staff?preset=30d&account=acct-northwind"),
    ],
)
def test_a_warm_view_reads_on_the_request_thread_alone(signed_in, sims, who, url):
    client = signed_in[who]
    cold = client.get(url, headers=FRAGMENT)
    assert cold.status_code == 200
    assert sims.state.calls()  # the cold view read the upstreams, on threads
    sims.state.clear_calls()
    handed = THREADS.submitted, PAGE_THREADS.submitted
    warm = client.get(url, headers=FRAGMENT)
    assert warm.status_code == 200
    assert sims.state.calls() == []
    assert (THREADS.submitted, PAGE_THREADS.submitted) == handed
