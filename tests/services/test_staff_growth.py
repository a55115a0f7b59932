"""Trends and movers from parsed EvoVoice answers: ranked by rise, ties by id, no record is
not 0."""

from __future__ import annotations

from datetime import date

from clients.evovoice import AccountMinutes, AIUsage
from services.staff_growth import movers, overview_granularity, total_buckets, totals_of, trends

DAY = date(2024, 3, 4)


def usage(**minutes: int) -> AIUsage:
    accounts = tuple(AccountMinutes(a.replace("_", "-"), m) for a, m in minutes.items())
    return AIUsage(DAY, DAY, accounts, ())


def test_movers_rank_rises_in_minutes_and_in_percent_with_ties_by_id():
    now = {"a": 200, "b": 150, "c": 30, "d": 10, "e": 50}
    before = {"a": 100, "b": 50, "c": 10, "d": 20}
    found = movers(now, before)
    # Rises: a +100, b +100, e +50 (new), c +20; d fell.
    assert [(m.account_id, m.increase) for m in found.absolute] == [
        ("a", 100),
        ("b", 100),
        ("e", 50),
        ("c", 20),
    ]
    # Relative: b +200 %, c +200 % (tie: by id), a +100 %; e had nothing before.
    assert [m.account_id for m in found.relative] == ["b", "c", "a"]
    assert found.relative[0].change == 200.0
    assert next(m for m in found.absolute if m.account_id == "e").change is None


def test_movers_are_bounded_and_empty_when_nothing_rose():
    now = {f"acct-{i:02}": 10 + i for i in range(20)}
    before = {f"acct-{i:02}": 10 for i in range(20)}
    found = movers(now, before, limit=5)
    assert [m.account_id for m in found.absolute] == [f"acct-{i:02}" for i in (19, 18, 17, 16, 15)]
    assert len(found.relative) == 5
    assert movers({"a": 1}, {"a": 5}).absolute == ()


def test_a_trend_has_no_point_where_the_account_has_no_record():
    buckets = [totals_of(u) for u in (usage(a=5, b=1), usage(b=2), usage(a=0, b=3))]
    found = trends(["a", "b", "a"], {"a": 5, "b": 6}, {"b": 3}, buckets)
    assert list(found) == ["a", "b"]  # once each, in the order asked
    assert found["a"].values == (5, None, 0)
    assert found["b"].values == (1, 2, 3)
    assert found["a"].new and found["a"].change is None
    assert found["b"].change == 100.0 and not found["b"].new


def test_bucket_totals_add_every_account_listed_and_ids_listed_twice_add_up():
    spans = [(DAY, DAY), (DAY, DAY)]
    found = total_buckets(spans, [totals_of(usage(a=2, b=3)), totals_of(usage())])
    assert [b.value for b in found] == [5, 0]
    twice = AIUsage(DAY, DAY, (AccountMinutes("a", 2), AccountMinutes("a", 3)), ())
    assert totals_of(twice) == {"a": 5}


def test_overview_buckets_coarsen_to_stay_within_the_read_budget():
    from services.filters import parse_staff_query

    today = date(2024, 4, 1)
    asked = parse_staff_query({"start": "2024-03-04", "end": "2024-03-31"}, today).range
    assert overview_granularity(asked, 100, budget=10_000) == ("day", None)
    week, note = overview_granularity(asked, 1_000, budget=10_000)  # 28 days, 5 weeks
    assert week == "week" and note is not None and "Shown per week" in note
    month, _ = overview_granularity(asked, 100_000, budget=10_000)  # one month: the range
    assert month == "month"
    wide = parse_staff_query({"start": "2023-06-01", "end": "2024-03-31"}, today).range
    none, note = overview_granularity(wide, 100_000, budget=10_000)
    assert none is None and note is not None and "pick an account" in note
