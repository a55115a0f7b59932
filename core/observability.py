"""Per request: an id, one upstream deadline, metrics; and redacted structured logs."""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid

from flask import Flask, Response, current_app, g, request
from prometheus_client import Counter, Histogram
from pythonjsonlogger.json import JsonFormatter

from .request_context import end_deadline, request_id, start_deadline

REQUEST_ID_HEADER = "X-Request-ID"
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_SECRETS = [
    (re.compile(r"aik_v1_[A-Za-z0-9_-]{40}"), "aik_v1_[redacted]"),
    (re.compile(r"(?i)\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"(?i)(token=)[^&\s\"']+"), r"\1[redacted]"),
    (re.compile(r"(?i)(ss-p?id=)[^;&\s\"']+"), r"\1[redacted]"),
    (re.compile(r"(?i)(password[\"']?\s*[:=]\s*[\"']?)[^\"'&\s,}]+"), r"\1[redacted]"),
]

HTTP_REQUESTS = Counter(
    "usage_http_requests_total", "Dashboard requests by route and status.",
    ["route", "method", "status"],
)  # fmt: skip
HTTP_SECONDS = Histogram(
    "usage_http_request_seconds", "Dashboard request latency by route.", ["route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25),
)  # fmt: skip


def redact(text: str) -> str:
    """Remove API keys, authorization values, tokens, session cookies and passwords."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


_PLAIN = logging.Formatter()


class RedactSecrets(logging.Filter):
    """Rewrite every record with secrets redacted, and stamp it with the request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message, exception text and stack; always keep the record."""
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        # Text formatters (gunicorn's too) print this cached text instead of formatting again.
        if record.exc_info and not record.exc_text:
            record.exc_text = _PLAIN.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.request_id = request_id.get() or "-"
        return True


class RedactingJsonFormatter(JsonFormatter):
    """A JSON formatter whose every field, tracebacks included, is redacted."""

    def process_log_record(self, log_data):
        """Redact every text value before the record is serialised."""
        # It formats the exception itself, not from the record's redacted exception text.
        return {key: _redacted(value) for key, value in log_data.items()}


def _redacted(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    return value


def configure_logging(log_format: str, stream=None) -> logging.Handler | None:
    """Send the root logger's records to stderr as text or JSON, redacted, once per process."""
    root = logging.getLogger()
    if any(getattr(h, "usage_handler", False) for h in root.handlers):
        return None
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.usage_handler = True  # type: ignore[attr-defined]
    if log_format == "json":
        handler.setFormatter(
            RedactingJsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
        )
    handler.addFilter(RedactSecrets())
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    return handler


def _start_request() -> None:
    # Every upstream read this request makes, in any thread it starts, ends by this deadline.
    g.deadline_token = start_deadline(current_app.config["USAGE"].upstream_deadline)
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.request_id_token = request_id.set(g.request_id)
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
    route = request.url_rule.rule if request.url_rule else "unmatched"
    HTTP_REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    if "request_started" in g:
        HTTP_SECONDS.labels(route).observe(time.perf_counter() - g.request_started)
    return response


def _end_request(_exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id.reset(token)
    deadline = g.pop("deadline_token", None)
    if deadline is not None:
        end_deadline(deadline)


def init_observability(app: Flask, log_format: str) -> None:
    """Give each request an id (sent upstream, returned in a header), metrics and logs."""
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
    if log_format in ("json", "text"):
        configure_logging(log_format)
