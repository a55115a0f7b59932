"""Every CSV export says how fresh its rows are: X-Data-Freshness."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from blueprints.exports import freshness_value
from clients.result import Fetched
from services.freshness import Freshness

END = datetime.now(UTC).date() - timedelta(days=2)
QUERY = f"start={END - timedelta(days=6)}&end={END}"
EXPORTS = {
    "/usage/metrics.csv": ("customer", "isnotai-us"),
    "/usage/ai-minutes.csv": ("customer", "evovoice"),
    "/staff/accounts.csv": ("staff", "evovoice"),
    "/staff/customers.csv": ("staff", "evovoice"),
}
FRESH = re.compile(r"^fresh; fetched-at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
STALE = re.compile(r'^stale; fetched-at=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ; reason="[ -~]+"$')


@pytest.fixture(autouse=True)
def _movable_clock(app, clock):
    app.extensions["upstreams"].http.clock = clock


@pytest.mark.parametrize("path", EXPORTS)
def test_exports_say_fresh_then_stale_with_when_and_why(signed_in, sims, clock, path):
    who, target = EXPORTS[path]
    client = signed_in[who]
    fresh = client.get(f"{path}?{QUERY}")
    assert fresh.status_code == 200
    assert FRESH.match(fresh.headers["X-Data-Freshness"]), fresh.headers["X-Data-Freshness"]

    clock.advance(hours=7)  # no longer fresh; the upstream then fails
    sims.state.add_fault(target, "503")
    stale = client.get(f"{path}?{QUERY}")
    assert stale.status_code == 200
    assert stale.get_data() == fresh.get_data()  # the saved rows
    header = stale.headers["X-Data-Freshness"]
    assert STALE.match(header), header
    assert "failed on its side (HTTP 503)" in header
    fetched_at = fresh.headers["X-Data-Freshness"].split("fetched-at=")[1]
    assert f"fetched-at={fetched_at};" in header  # when the saved rows were fetched


def test_the_header_is_one_printable_ascii_line():
    when = datetime(2026, 6, 1, 12, 30, 5, 123, tzinfo=UTC)
    stale = Fetched(None, when, "stale", 'EvoVoice said "no";\r\nX-Evil: 1 \\ zürich')
    value = freshness_value(Freshness.of([stale]))
    assert value.startswith("stale; fetched-at=2026-06-01T12:30:05Z; reason=")
    assert STALE.match(value), value
    assert value.count('"') == 2 and value.count(";") == 2
    assert freshness_value(Freshness(None)) == "fresh"
