"""Operations: liveness, readiness, metrics, request ids and redacted structured logs."""

from __future__ import annotations

import io
import json
import logging
import sys
from contextlib import contextmanager

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.observability import RedactSecrets, configure_logging, redact
from simulators.data import isnotai_integration

from ..conftest import build_app

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
    response = client.get("/readyz")  # from loopback, allowed by default
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["checks"] == {
        "database": "ok",
        "cache": "ok",
        "isnotai-us": "ok",
        "isnotai-eu": "ok",
        "evovoice": "ok",
    }


def test_readyz_is_503_when_an_upstream_is_unreachable(app_config, tmp_path):
    from flask_migrate import upgrade

    app = build_app({**app_config, "USAGE_ISNOTAI_EU_URL": "http://127.0.0.1:9"})
    with app.app_context():
        upgrade()
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["checks"]["isnotai-eu"].startswith("error:")
    assert response.json["checks"]["database"] == "ok"


@pytest.fixture
def guarded_unready(app_config):
    """An app with an unreachable upstream whose operations details are for 10.9.9.9 or a token."""
    from flask_migrate import upgrade

    app = build_app(
        {
            **app_config,
            "USAGE_ISNOTAI_EU_URL": "http://127.0.0.1:9",
            "USAGE_METRICS_ALLOW": "10.9.9.9",
            "USAGE_METRICS_TOKEN": "t0k3n-for-metrics",
        }
    )
    with app.app_context():
        upgrade()
    return app.test_client()


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic t0k3n-for-metrics"])
def test_readyz_tells_others_only_the_status(guarded_unready, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = guarded_unready.get("/readyz", headers=headers)
    assert response.status_code == 503
    assert response.json == {"status": "unavailable"}
    body = response.get_data(as_text=True).lower()
    for detail in ("isnotai", "evovoice", "database", "cache", "error", "connection"):
        assert detail not in body


@pytest.mark.parametrize(
    ("headers", "address"),
    [({"Authorization": "Bearer t0k3n-for-metrics"}, "127.0.0.1"), ({}, "10.9.9.9")],
)
def test_readyz_details_go_to_whoever_may_read_metrics(guarded_unready, headers, address):
    response = guarded_unready.get(
        "/readyz", headers=headers, environ_overrides={"REMOTE_ADDR": address}
    )
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["checks"]["isnotai-eu"].startswith("error: ")
    assert response.json["checks"]["evovoice"] == "ok"


Scrape = dict[tuple[str, frozenset], float]


def scrape(client, headers=None) -> Scrape:
    """Return every sample /metrics serves, by name and labels."""
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def increase(before: Scrape, after: Scrape, name: str, **labels: str) -> float:
    """Return how much one sample grew; the registry is the process's, shared by every test."""
    key = (name, frozenset(labels.items()))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_metrics_count_requests_upstream_calls_and_cache(customer, sims):
    isnotai = {"api": "isnotai (us)"}
    evovoice = {"api": "EvoVoice"}
    sims.state.clear_calls()
    before = scrape(customer)
    assert customer.get("/usage?preset=7d").status_code == 200
    first = scrape(customer)
    isnotai_calls = len(sims.state.calls("isnotai-us", "/v1/usage"))
    evovoice_calls = len(sims.state.calls("evovoice", "/ai/usage"))
    assert isnotai_calls and evovoice_calls
    assert increase(before, first, "usage_upstream_requests_total", **isnotai, outcome="ok") == (
        isnotai_calls
    )
    assert increase(before, first, "usage_upstream_requests_total", **evovoice, outcome="ok") == (
        evovoice_calls
    )
    assert increase(before, first, "usage_upstream_request_seconds_count", **isnotai) == (
        isnotai_calls
    )
    assert increase(before, first, "usage_cache_events_total", **isnotai, event="miss") == (
        isnotai_calls
    )
    reads = sum(
        increase(before, first, "usage_cache_events_total", **isnotai, event=event)
        for event in ("hit", "miss")
    )

    # The same view again: every read the first one made is a cache hit, none goes upstream.
    sims.state.clear_calls()
    assert customer.get("/usage?preset=7d").status_code == 200
    second = scrape(customer)
    assert sims.state.calls("isnotai-us", "/v1/usage") == []
    assert increase(first, second, "usage_cache_events_total", **isnotai, event="hit") == reads
    assert increase(first, second, "usage_cache_events_total", **isnotai, event="miss") == 0
    assert increase(first, second, "usage_upstream_requests_total", **isnotai, outcome="ok") == 0

    page = {"route": "/usage", "method": "GET", "status": "200"}
    assert increase(before, second, "usage_http_requests_total", **page) == 2
    assert increase(before, second, "usage_http_request_seconds_count", route="/usage") == 2


def test_metrics_are_refused_to_others(app_config):
    app = build_app(
        {
            **app_config,
            "USAGE_METRICS_ALLOW": "10.9.9.9",
            "USAGE_METRICS_TOKEN": "t0k3n-for-metrics",
        }
    )
    client = app.test_client()
    token = {"Authorization": "Bearer t0k3n-for-metrics"}
    before = scrape(client, token)
    assert client.get("/metrics").status_code == 403
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    after = scrape(client, token)
    refused = {"route": "/metrics", "method": "GET", "status": "403"}
    assert increase(before, after, "usage_http_requests_total", **refused) == 2


def test_request_ids_are_returned_and_sent_upstream(customer, sims):
    from core.request_context import request_id

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


@contextmanager
def usage_log(log_format):
    """Yield `usage.test` logging only to a fresh usage handler, and what that handler wrote."""
    # Secrets logged here on purpose must reach no other handler (the suite records them all).
    stream = io.StringIO()
    root = logging.getLogger()
    previous = [h for h in root.handlers if getattr(h, "usage_handler", False)]
    for handler in previous:
        root.removeHandler(handler)
    handler = configure_logging(log_format, stream)
    root.removeHandler(handler)
    logger = logging.getLogger("usage.test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        for handler in previous:
            root.addHandler(handler)


def test_json_logs_carry_the_request_id_and_no_secrets():
    from core.request_context import request_id

    token = request_id.set("req-42-abcdefgh")
    try:
        with usage_log("json") as (logger, stream):
            logger.warning("upstream refused %s", ACME.key)
    finally:
        request_id.reset(token)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["level"] == "WARNING" and line["logger"] == "usage.test"
    assert line["request_id"] == "req-42-abcdefgh"
    assert ACME.key not in line["message"] and "aik_v1_[redacted]" in line["message"]


def _raise_with_secrets():
    # The traceback prints this line, so the secrets appear in its source text as well.
    raise RuntimeError(f"GET /v1/usage?token=s3cr3t-t0ken-value key={ACME.key} password=hunter22")


def _log_with_a_stack():
    logging.getLogger("usage.test").warning("checking", stack_info=True)  # token=st4ck-t0ken


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_exception_text_and_stacks_are_redacted(log_format):
    with usage_log(log_format) as (logger, stream):
        try:
            try:
                _raise_with_secrets()
            except RuntimeError as cause:
                raise ValueError("sign-in failed: Authorization: Bearer abc.def.ghi") from cause
        except ValueError:
            logger.exception("refresh failed for %s", ACME.key)
        _log_with_a_stack()
    output = stream.getvalue()
    assert "refresh failed" in output and "RuntimeError" in output and "ValueError" in output
    assert "_raise_with_secrets" in output and "_log_with_a_stack" in output
    for secret in (ACME.key, "s3cr3t-t0ken-value", "hunter22", "abc.def.ghi", "st4ck-t0ken"):
        assert secret not in output, secret
    assert "token=[redacted]" in output and "aik_v1_[redacted]" in output
    if log_format == "json":
        assert all(json.loads(line) for line in output.strip().splitlines())


def test_records_reach_any_formatter_redacted():
    """gunicorn's handlers format records with their own formatter, after our filter."""
    try:
        _raise_with_secrets()
    except RuntimeError:
        record = logging.LogRecord(
            "gunicorn.error", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    record.stack_info = "Stack (most recent call last):\n  token=st4ck-t0ken"
    RedactSecrets().filter(record)
    output = logging.Formatter("%(message)s").format(record)
    assert "RuntimeError" in output
    for secret in (ACME.key, "s3cr3t-t0ken-value", "hunter22", "st4ck-t0ken"):
        assert secret not in output, secret


def test_the_redaction_filter_keeps_every_record():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %s", ("text",), None)
    assert RedactSecrets().filter(record) and record.getMessage() == "plain text"
