"""Who is growing, under every way EvoVoice may answer: the staff overview's total per day,
each account's trend and change, and the top movers, against the oracle in
`simulators.data` (the variants and their switches are those of test_evovoice_variants.py).

An account EvoVoice lists no record for on a day has no point in its trend (not a 0), and
one it did not list in the previous range is "new", not a change from 0.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest

from core.periods import split
from simulators.data import evovoice_expected, evovoice_minutes

from .helpers_html import body_rows, text
from .helpers_staff import change_words
from .test_evovoice_variants import (  # noqa: F401 - fixtures used by name
    APP_SETTINGS,
    DEFAULTS,
    END,
    RANGE,
    START,
    VARIANTS,
    app_config,
    staff,
)

PREVIOUS = (START - (END - START) - timedelta(days=1), START - timedelta(days=1))


def minutes_by_account(start, end, switches) -> dict[str, int]:
    body = evovoice_expected(start, end, **switches)
    return {a["accountId"]: a["aiMinutes"] for a in body.get("accountUsage", ())}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_who_is_growing_matches_the_oracle(staff, sims, variant):  # noqa: F811
    switches, oracle = VARIANTS[variant]
    sims.state.update(**switches)
    response = staff.get("/staff", query_string=RANGE)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    html = response.get_data(as_text=True)
    days = split(START, END, "day")

    figure = re.search(r'id="staff-total-data">(.*?)</script>', html, re.S)
    assert figure is not None, variant
    totals = json.loads(figure.group(1))["data"][-1]["y"]
    assert totals == [evovoice_minutes(s, e, **oracle) for s, e in days]

    now = minutes_by_account(START, END, oracle)
    before = minutes_by_account(*PREVIOUS, oracle)
    table = {text(cells[0]): cells for cells in body_rows(html, "staff-accounts")}
    assert set(table) == set(now)
    for account, cells in table.items():
        trend, change = cells[3], text(cells[4])
        assert change == change_words(now[account], before.get(account)), (variant, account)
        per_day = [evovoice_minutes(s, e, account, **oracle) for s, e in days]
        known = [v for v in per_day if v is not None]
        points = sum(len(p.split()) for p in re.findall(r'points="([^"]+)"', trend))
        assert points + trend.count("<circle") == len(known), (variant, account)
        if known:
            assert f"highest {max(known):,}, last {known[-1]:,}" in unescape(trend)

    risen = {a: m - before.get(a, 0) for a, m in now.items() if m > before.get(a, 0)}
    assert risen and any(before.get(a) for a in risen)  # both lists have rows to check
    shown = [text(c[0]) for c in body_rows(html, "staff-movers-minutes")]
    assert shown == sorted(risen, key=lambda a: (-risen[a], a))[:5], variant
    relative = [a for a in risen if before.get(a)]
    shown = [text(c[0]) for c in body_rows(html, "staff-movers-percent")]
    assert shown == sorted(relative, key=lambda a: (-risen[a] / before[a], a))[:5], variant
