"""`flask upstreams check`: each open point found against the simulators, failures exit 1."""

from __future__ import annotations

import json

import pytest

from simulators.data import EVOVOICE_SERVICE_USER, isnotai_integration

ACME_KEY = isnotai_integration("acme").key
PASSWORD = EVOVOICE_SERVICE_USER[1]
POINTS = {
    "isnotai (us)": {
        "reachable",
        "auth mode",
        "latency",
        "tier header",
        "endDate semantics",
        "granularity",
        "unknown metrics",
        "period format",
        "metric spellings",
        "history window",
    },
    "isnotai (eu)": {"reachable"},
    "EvoVoice": {"reachable", "latency", "auth mode", "verb", "endDate semantics"},
}


@pytest.fixture
def app_config(app_config):
    """Run the check as deployed: endDate detected, not pinned as the other tests pin it."""
    return {**app_config, "USAGE_EVOVOICE_END_DATE": "auto"}


@pytest.fixture
def acme(app, make_tenant):
    make_tenant("acme", integration="acme", account="acct-northwind")


def run(app, *args):
    return app.test_cli_runner().invoke(args=["upstreams", "check", *args])


def findings(result) -> dict[tuple[str, str], dict]:
    document = json.loads(result.stdout)
    return {(f["api"], f["point"]): f for f in document["findings"]}


def assert_no_secret(result) -> None:
    for secret in (ACME_KEY, ACME_KEY[7:], PASSWORD):
        assert secret not in result.output
    assert "Traceback" not in result.output


def test_every_open_point_is_reported_and_all_pass(app, sims, acme):
    result = run(app, "--tenant", "acme", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True
    found = findings(result)
    assert {(api, point) for api, points in POINTS.items() for point in points} <= set(found)
    assert {f["outcome"] for f in found.values()} == {"ok"}
    assert found[("isnotai (us)", "tier header")]["found"] == "x-isnotai-tier: pro"
    assert "+00:00" in found[("isnotai (us)", "period format")]["found"]
    assert found[("EvoVoice", "endDate semantics")]["found"].startswith("inclusive")
    assert isinstance(found[("isnotai (us)", "latency")]["latency_ms"], int)
    assert_no_secret(result)


def test_text_output_names_each_point(app, sims, acme):
    result = run(app, "--tenant", "acme")
    assert result.exit_code == 0, result.output
    for points in POINTS.values():
        for point in points:
            assert f"  {point} " in result.stdout
    assert result.stdout.rstrip().endswith("No failures.")
    assert_no_secret(result)


def test_without_a_tenant_isnotai_usage_is_skipped(app, sims):
    result = run(app, "--json")
    assert result.exit_code == 0, result.output
    found = findings(result)
    assert found[("isnotai", "usage")]["outcome"] == "skipped"
    assert found[("isnotai (eu)", "reachable")]["outcome"] == "ok"


US, EV = "isnotai (us)", "EvoVoice"
VARIANTS = [
    ({"isnotai_metric_case": "lower"}, US, "metric spellings", "note", "apicalls → ApiCalls"),
    ({"isnotai_extra_metric": True}, US, "unknown metrics", "note", "WebhookDeliveries"),
    ({"isnotai_metric_case": "words"}, US, "metric spellings", "note", "Api Calls → ApiCalls"),
    ({"isnotai_granularity": "month"}, US, "granularity", "note", "per month"),
    (
        {"isnotai_granularity": "month", "isnotai_month_label": "first-day"},
        US, "granularity", "note", "per month",
    ),
    ({"isnotai_period_zone": "-08:00"}, US, "period format", "ok", "offset -08:00"),
    ({"isnotai_period_format": "date"}, US, "period format", "ok", "date (YYYY-MM-DD)"),
    ({"isnotai_date_params": "strict"}, US, "endDate semantics", "note", "date-times"),
    (
        {"isnotai_date_params": "instant", "isnotai_granularity": "hour"},
        US, "endDate semantics", "note", "instant",
    ),
    ({"isnotai_window": "empty"}, US, "history window", "ok", "empties the whole"),
    ({"evovoice_end_date": "exclusive"}, EV, "endDate semantics", "ok", "exclusive"),
    ({"evovoice_verbs": "post-405"}, EV, "verb", "note", "POST"),
    ({"evovoice_auth": "basic-only"}, EV, "auth mode", "note", "HTTP Basic"),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "api", "point", "outcome", "words"), VARIANTS)
def test_each_variant_is_detected(app, sims, acme, settings, api, point, outcome, words):
    sims.state.update(**settings)
    result = run(app, "--tenant", "acme", "--json")
    assert result.exit_code == 0, result.output
    finding = findings(result)[(api, point)]
    assert finding["outcome"] == outcome, finding
    assert words in finding["found"], finding


@pytest.mark.parametrize(
    ("target", "kind", "api", "point"),
    [
        ("isnotai-us", "401", "isnotai (us)", "auth mode"),
        ("evovoice", "403", "EvoVoice", "reachable"),
    ],
)
def test_a_failure_exits_non_zero(app, sims, acme, target, kind, api, point):
    sims.state.add_fault(target, kind)
    result = run(app, "--tenant", "acme", "--json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert findings(result)[(api, point)]["outcome"] == "fail"
    text = run(app, "--tenant", "acme")
    assert text.exit_code == 1 and "1 failed" in text.stdout
    assert_no_secret(text)


@pytest.mark.parametrize(
    ("target", "settings", "echoed", "words"),
    [
        ("isnotai-us", {}, ACME_KEY, "isnotai refused the metric parameter"),
        # Over HTTP Basic the password goes with every call, so an upstream could echo it.
        ("evovoice", {"evovoice_auth": "basic-only"}, PASSWORD, "EvoVoice refused the metric"),
    ],
)
def test_upstream_text_never_prints_a_secret(app, sims, acme, target, settings, echoed, words):
    sims.state.update(**settings)
    hostile = f"\x1b]0;pwned\x07 bad value {echoed} <b>"
    sims.state.add_fault(target, "400", message=hostile, field="metric")
    result = run(app, "--tenant", "acme")
    assert result.exit_code == 1
    assert words in result.stdout
    assert "bad value [redacted] <b>" in result.stdout
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert_no_secret(result)


def test_a_tenant_without_isnotai_is_skipped_there(app, sims, make_tenant):
    make_tenant("voice-only", account="acct-northwind")
    result = run(app, "--tenant", "voice-only", "--json")
    assert result.exit_code == 0, result.output
    found = findings(result)
    assert found[("isnotai", "usage")]["outcome"] == "skipped"
    assert "account acct-northwind" in found[("EvoVoice", "reachable")]["found"]


def test_an_end_date_setting_the_upstream_contradicts_fails(app_config, sims, acme):
    from flask_migrate import upgrade

    from app import create_app

    sims.state.update(evovoice_end_date="exclusive")
    configured = create_app({**app_config, "USAGE_EVOVOICE_END_DATE": "inclusive"})
    with configured.app_context():
        upgrade()
    try:
        result = run(configured, "--json")
    finally:
        configured.extensions["upstreams"].http.close()
    assert result.exit_code == 1
    finding = findings(result)[("EvoVoice", "endDate semantics")]
    assert finding["outcome"] == "fail"
    assert "USAGE_EVOVOICE_END_DATE=inclusive" in finding["found"]


def test_an_unknown_tenant_is_refused_in_one_line(app, sims):
    result = run(app, "--tenant", "nobody")
    assert result.exit_code != 0
    assert result.stderr.strip() == "Error: no tenant named 'nobody'"
