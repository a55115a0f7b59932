"""A preset beside dates over HTTP: the dates a user edited win, the pushed URL is canonical,
and the results say the range they show for the form's script."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

HX = {"HX-Request": "true"}


@pytest.mark.parametrize(("who", "path"), [("customer", "/usage"), ("staff", "/staff")])
def test_a_preset_pushes_its_canonical_url_and_edited_dates_win(signed_in, who, path):
    client = signed_in[who]
    today = datetime.now(UTC).date()
    week = today - timedelta(days=6)
    same = client.get(f"{path}?preset=7d&start={week}&end={today}", headers=HX)
    assert same.status_code == 200
    pushed = same.headers["HX-Push-Url"]
    assert "preset=7d" in pushed and "start=" not in pushed and "shown_" not in pushed
    assert f'id="results-range" data-range-start="{week}" data-range-end="{today}"' in (
        same.get_data(as_text=True)
    )

    edited = today - timedelta(days=20)
    custom = client.get(f"{path}?preset=7d&start={edited}&end={today}", headers=HX)
    assert f'data-range-start="{edited}" data-range-end="{today}"' in custom.get_data(as_text=True)
    pushed = custom.headers["HX-Push-Url"]
    assert f"start={edited}" in pushed and "preset=" not in pushed

    # The dates the page showed, sent back beside a newly picked preset: the preset.
    shown = f"shown_start={edited}&shown_end={today}"
    picked = client.get(f"{path}?preset=7d&start={edited}&end={today}&{shown}")
    assert f'data-range-start="{week}" data-range-end="{today}"' in picked.get_data(as_text=True)
