"""Operations: liveness, readiness, metrics, request ids and redacted structured logs."""

from __future__ import annotations

import io
import json
import logging

import pytest

from core.observability import RedactSecrets, configure_logging, redact
from simulators.data import isnotai_integration

ACME = isnotai_integration("acme")


@pytest.fixture
def customer(client, make_tenant, make_user, login):
    make_tenant("acme", integration="acme", account="acct-northwind")
    make_user("acme@example.com", tenant="acme")
    return login(client, "acme@example.com")


def test_healthz_answers_without_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_reports_every_dependency(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {
        "database": "ok",
        "cache": "ok",
        "isnotai-us": "ok",
        "isnotai-eu": "ok",
        "evovoice": "ok",
    }


def test_readyz_is_503_when_an_upstream_is_unreachable(app_config, tmp_path):
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({**app_config, "USAGE_ISNOTAI_EU_URL": "http://127.0.0.1:9"})
    with app.app_context():
        upgrade()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "not ready"
    assert response.json["checks"]["isnotai-eu"].startswith("error:")
    assert response.json["checks"]["database"] == "ok"


def test_metrics_count_requests_upstream_calls_and_cache(customer):
    customer.get("/usage?preset=7d")
    customer.get("/usage?preset=7d")
    text = customer.get("/metrics").get_data(as_text=True)
    assert 'usage_http_requests_total{method="GET",route="/usage",status="200"}' in text
    assert "usage_http_request_seconds_bucket" in text
    assert 'usage_upstream_requests_total{api="isnotai (us)",outcome="ok"}' in text
    assert 'usage_upstream_requests_total{api="EvoVoice",outcome="ok"}' in text
    assert 'usage_cache_events_total{api="isnotai (us)",event="hit"}' in text
    assert 'usage_cache_events_total{api="isnotai (us)",event="miss"}' in text


def test_metrics_are_refused_to_others(app_config):
    from app import create_app

    app = create_app(
        {
            **app_config,
            "USAGE_METRICS_ALLOW": "10.9.9.9",
            "USAGE_METRICS_TOKEN": "t0k3n-for-metrics",
        }
    )
    client = app.test_client()
    assert client.get("/metrics").status_code == 403
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    right = client.get("/metrics", headers={"Authorization": "Bearer t0k3n-for-metrics"})
    assert right.status_code == 200 and "usage_http_requests_total" in right.get_data(as_text=True)


def test_request_ids_are_returned_and_sent_upstream(customer, sims):
    from clients.telemetry import request_id

    response = customer.get(
        "/usage?start=2026-01-01&end=2026-01-05", headers={"X-Request-ID": "trace-1234567890"}
    )
    assert response.headers["X-Request-ID"] == "trace-1234567890"
    calls = [c for c in sims.state.calls() if c["path"] in ("/v1/usage", "/ai/usage")]
    assert calls and {c["request_id"] for c in calls} == {"trace-1234567890"}
    assert request_id.get() is None  # not left behind after the request
    hostile = customer.get(
        "/usage?preset=7d", headers={"X-Request-ID": "<script>alert(1)</script>"}
    )
    assert hostile.headers["X-Request-ID"] != "<script>alert(1)</script>"
    assert len(hostile.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize(
    ("text", "leaked"),
    [
        (f"calling with {ACME.key}", ACME.key),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("Authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
        ("GET /embed/metrics?token=eyJhbGciOi.x.y&theme=dark", "eyJhbGciOi"),
        ("Cookie: ss-id=abcdef123; ss-pid=zzz999", "abcdef123"),
        ('{"userName": "svc", "password": "hunter22"}', "hunter22"),
    ],
)
def test_secrets_are_redacted_from_log_text(text, leaked):
    assert leaked not in redact(text)


def test_json_logs_carry_the_request_id_and_no_secrets():
    from clients.telemetry import request_id

    stream = io.StringIO()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "usage_handler", False)]:
        root.removeHandler(handler)
    handler = configure_logging("json", stream)
    token = request_id.set("req-42-abcdefgh")
    try:
        logging.getLogger("usage.test").warning("upstream refused %s", ACME.key)
    finally:
        request_id.reset(token)
        root.removeHandler(handler)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["level"] == "WARNING" and line["logger"] == "usage.test"
    assert line["request_id"] == "req-42-abcdefgh"
    assert ACME.key not in line["message"] and "aik_v1_[redacted]" in line["message"]


def test_the_redaction_filter_keeps_every_record():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %s", ("text",), None)
    assert RedactSecrets().filter(record) and record.getMessage() == "plain text"
