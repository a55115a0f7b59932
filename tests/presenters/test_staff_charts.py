"""The staff ranking figure: the top bars and the rest in one add up, and ids stay text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

import pytest

from presenters.staff_charts import LABEL_CHARS, plotly_text, ranking_figure
from services.staff import account_id, customer_id, rank
from services.staff_ranking import Row
from simulators.data import evovoice_expected

HOSTILE = "acct-</script><script>alert(1)</script>"


def past(days: int) -> tuple:
    end = datetime.now(UTC).date() - timedelta(days=1)
    return end - timedelta(days=days - 1), end


def test_top_n_and_the_other_bar_add_up_to_the_total(evovoice):
    start, end = past(10)
    usage = evovoice.usage(start, end).value
    ranking = rank(usage, ("accounts",), account_id, "-minutes", "", 1, top_n=2)
    oracle = sorted(
        ((a["accountId"], a["aiMinutes"]) for a in evovoice_expected(start, end)["accountUsage"]),
        key=lambda pair: (-pair[1], pair[0]),
    )
    figure = ranking_figure(ranking.top, ranking.other, ranking.other_count, "account")
    bars = figure["data"][0]
    axis = figure["layout"]["yaxis"]
    assert sum(bars["x"]) == sum(minutes for _, minutes in oracle)
    assert bars["x"] == [oracle[0][1], oracle[1][1], sum(m for _, m in oracle[2:])]
    assert axis["ticktext"][-1] == bars["customdata"][-1][0] == "3 other accounts"
    # By position, largest on top: an account called "other" never merges with the rest.
    assert bars["y"] == axis["tickvals"] == [2, 1, 0]
    assert bars["marker"]["opacity"] == [1.0, 1.0, 0.45]


def test_hostile_ids_reach_plotly_as_text(evovoice):
    start, end = past(5)
    usage = evovoice.usage(start, end).value
    accounts = rank(usage, ("accounts",), account_id, "-minutes", "", 1, top_n=10)
    customers = rank(usage, ("customers", HOSTILE), customer_id, "-minutes", "", 1, top_n=10)
    figure = ranking_figure(accounts.top, accounts.other, accounts.other_count, "account")
    bars, ticks = figure["data"][0], figure["layout"]["yaxis"]["ticktext"]
    where = [row.id for row in accounts.top].index(HOSTILE)
    assert ticks[where] == escape(HOSTILE[: LABEL_CHARS - 1] + "…", quote=False)
    assert ticks[where].startswith("acct-&lt;/script&gt;&lt;script&gt;")
    assert (
        bars["customdata"][where][0] == "acct-&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"
    )
    shown = ranking_figure(customers.top, customers.other, customers.other_count, "customer")
    assert "&lt;b&gt;bold&lt;/b&gt;" in shown["layout"]["yaxis"]["ticktext"]
    hover = [text for text, _ in bars["customdata"]]
    for text in [*ticks, *hover, *shown["layout"]["yaxis"]["ticktext"]]:
        assert "<" not in text and ">" not in text
    # Ids never enter the hover template, where Plotly would read %{...} as a field.
    assert bars["hovertemplate"] == "%{customdata[0]}: %{x:,} AI minutes<extra></extra>"


@pytest.mark.parametrize(("other_count", "last"), [(0, "cust-b"), (1, "1 other customer")])
def test_the_rest_is_one_bar_only_when_there_is_a_rest(other_count, last):
    top = [Row("acct-a", "cust-a", 30, 60.0), Row("acct-a", "cust-b", 10, 20.0)]
    figure = ranking_figure(top, 10 if other_count else 0, other_count, "customer")
    assert figure["layout"]["yaxis"]["ticktext"][-1] == last
    assert len(figure["data"][0]["x"]) == 2 + (1 if other_count else 0)


def test_plotly_text_escapes_markup_and_entities_only():
    assert plotly_text("a<b>&amp;'\"") == "a&lt;b&gt;&amp;amp;'\""


def test_each_top_bar_carries_its_drill_down_url_and_the_rest_none():
    top = [Row("acct-a", None, 30, 60.0), Row("acct-b", None, 10, 20.0)]
    figure = ranking_figure(
        top, 10, 2, "account", ["/staff?account=acct-a", "/staff?account=acct-b"]
    )
    assert figure["data"][0]["customdata"] == [
        ["acct-a", "/staff?account=acct-a"],
        ["acct-b", "/staff?account=acct-b"],
        ["2 other accounts", ""],
    ]
