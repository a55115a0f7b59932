"""CSV exports: cells a spreadsheet would run as formulas are neutralised, whatever hides them."""

from __future__ import annotations

import csv
import io

import pytest

from blueprints.exports import neutralise

FORMULAS = [
    "=1+1",
    " =1+1",
    "\n=1+1",
    "\r\n+1",
    "\t@SUM(A1)",
    "\u00a0-1+2",  # no-break space
    "\uff1dcmd|' /C calc'!A0",  # full-width equals sign
    "\uff0b1",  # full-width plus
    "\uff0d1",  # full-width hyphen-minus
    "\uff20SUM(A1)",  # full-width commercial at
    "\u3000\uff1d1+1",  # ideographic space, then a full-width equals sign
    "\u200b=1+1",  # zero-width space
    "\ufe66HYPERLINK(1)",  # small equals sign
    "\tplain",  # OWASP: a tab or carriage return first is neutralised whatever follows
]
PLAIN = ["acct-northwind", "café", "Ωmega =1", "1=1", "\uff21\uff22", "東京"]


@pytest.mark.parametrize("text", FORMULAS)
def test_formulas_are_prefixed_and_otherwise_kept(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", [*PLAIN, 12, 0.5, None])
def test_everything_else_is_left_alone(value):
    assert neutralise(value) == value


def test_a_real_export_neutralises_hidden_formulas(app, make_tenant, make_user, login):
    for number, text in enumerate(FORMULAS):
        make_tenant(f"tenant-{number}", account=text, customer=text)
        make_user(f"user-{number}@example.com", tenant=f"tenant-{number}")
    for number, text in enumerate(FORMULAS):
        signed_in = login(app.test_client(), f"user-{number}@example.com")
        response = signed_in.get("/usage/ai-minutes.csv?preset=7d")
        assert response.status_code == 200
        rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"), newline="")))
        assert rows[0] == ["period", "account_id", "customer_id", "ai_minutes"]
        assert len(rows) == 8
        for row in rows[1:]:
            assert row[1] == row[2] == "'" + text, row
