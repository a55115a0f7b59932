"""Serve the simulated EvoVoice API (ServiceStack style): login, logout and `/ai/usage`.

Choices for what FACTS.md leaves open:

- `endDate` is inclusive; the one place that says so is `simulators.data.evovoice_served_days`.
  Usage exists from 2020-01-01 up to today (UTC); later days have none.
  Switch `evovoice_end_date="exclusive"`: `endDate` is the first day left out, so
  startDate = endDate is an empty range.
- Parameters come from the query string, then from a JSON-object or form body (the body wins),
  names matched case-insensitively as ServiceStack does. An empty or null value is absent.
  A date-time counts as its UTC date. Defaults: endDate today, startDate endDate - 30 days.
- `customerId` keeps only that customer; accountUsage then lists only the considered accounts
  owning it. Customers with zero seconds are omitted; one with 1-29 s is listed with 0 minutes.
  An unknown accountId or customerId gives empty lists. Switches: `evovoice_zero_customers=
  "listed"` lists customers without usage with 0 minutes; `evovoice_idle="omitted"` lists
  only accounts with usage and leaves empty lists out, as ServiceStack omits empty fields
  (an idle range answers `{}`).
- Auth: a live `ss-id` session cookie, else HTTP Basic. `ss-pid` (and `ss-opt=perm` with
  rememberMe) are set but never checked. Usernames and passwords are case-sensitive.
  Switches: `evovoice_auth="basic-only"` has no `/auth/credentials` (404, as ServiceStack
  without the credentials provider); `evovoice_session_uses=N` ends a session after N
  `/ai/usage` calls (the next one with it gets the empty 401).
- `/ai/usage` answers every verb. Switch `evovoice_verbs="post-404"` or `"post-405"`: only
  POST is routed; other verbs get ServiceStack's 404 page or a 405.
- Always JSON: `Accept`, a `.json` suffix and `?format=json` are accepted; `?callback` is
  ignored (no JSONP).
- Order of checks on /ai/usage: verb, fault, 401, 403, 400. Faults 401 and 403 answer as the real
  auth failures (empty bodies); 400 (ArgumentException, with the fault's `message` and
  `field`), 404, 429 and 5xx answer a responseStatus body; 429 and 503
  send Retry-After only when the fault has `retry_after`.
"""

from __future__ import annotations

import hmac
import json
import secrets
from datetime import date, timedelta

from flask import Blueprint, Response, g, request

from simulators.data import (
    EVOVOICE_ADMIN_ROLE,
    EVOVOICE_USERS,
    evovoice_expected,
    parse_day,
)
from simulators.fault_bodies import retry_after_header, shared_fault
from simulators.state import Fault, SimulatorState

TARGET = "evovoice"
JSON_TYPE = "application/json; charset=utf-8"
ALL_VERBS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
WWW_AUTHENTICATE = 'Basic realm="/auth/basic"'
REMEMBER_SECONDS = 20 * 365 * 24 * 3600
DEFAULT_RANGE_DAYS = 30

_FAULT_ERRORS = {
    "500": ("NullReferenceException", "Object reference not set to an instance of an object."),
    "502": ("WebException", "The remote server returned an error: (502) Bad Gateway."),
    "503": ("ServiceUnavailable", "Service Unavailable"),
    "429": ("TooManyRequests", "Too Many Requests"),
    "404": ("NotFound", "Handler for Request not found"),
}
# What a fault of kind "malformed" sends.
TRUNCATED_BODY = '{"accountUsage":[{"accountId":"acct-northwind","aiMinutes":12},{"accountI'


class BadRequest(Exception):
    """Carry a ServiceStack error answer (400)."""

    def __init__(self, error_code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.error_code, self.message, self.field = error_code, message, field


def json_response(body: object, status: int = 200, headers: dict | None = None) -> Response:
    """Serialise body as compact UTF-8 JSON, non-ASCII unescaped as ServiceStack writes it."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status=status, headers=headers, content_type=JSON_TYPE)


def status_response(
    status: int, error_code: str, message: str, field: str | None = None, headers=None
) -> Response:
    """Answer a ServiceStack responseStatus error."""
    response_status: dict = {"errorCode": error_code, "message": message}
    if field is not None:
        response_status["errors"] = [
            {"errorCode": error_code, "fieldName": field, "message": message}
        ]
    return json_response({"responseStatus": response_status}, status, headers)


def empty_response(status: int) -> Response:
    """Answer an empty body, as ServiceStack does for 401 and 403 by default."""
    response = Response(b"", status=status)
    del response.headers["Content-Type"]
    if status == 401:
        response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


def fault_response(fault: Fault) -> Response | None:
    """Answer a fault after its hang, or return None to answer normally (timeout)."""
    if fault.kind == "timeout":
        return None
    shared = shared_fault(fault.kind, TRUNCATED_BODY, proxy="nginx")
    if shared is not None:
        return shared
    if fault.kind in ("401", "403"):
        return empty_response(int(fault.kind))
    if fault.kind == "400":
        message = fault.message or "Invalid request."
        return status_response(400, "ArgumentException", message, fault.field)
    headers = retry_after_header(fault.kind, fault.retry_after)
    return status_response(int(fault.kind), *_FAULT_ERRORS[fault.kind], headers=headers)


def not_found(path: str) -> Response:
    """Answer ServiceStack's plain-text 404 for a path no handler serves."""
    text = f"Handler for Request not found (404):\n\n  Request.PathInfo: /{path}\n"
    return Response(text, status=404, content_type="text/plain")


def request_body() -> dict:
    """Return the JSON-object or form body as sent; raise BadRequest if it is not one."""
    if request.is_json:
        text = request.get_data(as_text=True)
        if not text.strip():
            return {}
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise BadRequest("SerializationException", "Could not deserialize the request body")
        return body
    return request.form.to_dict()


def merged_params(body: dict) -> dict[str, str]:
    """Merge query string and body (the body wins) under lower-cased names, dropping empties."""
    merged = {name.lower(): value for name, value in request.args.items()}
    merged.update((name.lower(), value) for name, value in body.items())
    return {name: str(value) for name, value in merged.items() if value not in (None, "")}


def _check_password(username: str | None, password: str | None) -> bool:
    """Tell whether the credentials belong to a demo user."""
    user = EVOVOICE_USERS.get(username or "")
    return user is not None and hmac.compare_digest(user[0], password or "")


def current_user(state: SimulatorState) -> str | None:
    """Return the caller's username from a live session cookie or HTTP Basic, else None."""
    username = state.use_session(request.cookies.get("ss-id"))
    if username is not None:
        return username
    auth = request.authorization
    if auth is not None and auth.type == "basic" and _check_password(auth.username, auth.password):
        return auth.username
    return None


def _parse_date(params: dict[str, str], field: str) -> date | None:
    """Parse one date parameter; raise BadRequest naming the field."""
    text = params.get(field.lower())
    if text is None:
        return None
    try:
        return parse_day(text)
    except ValueError:
        message = f"'{text}' is not a valid date for {field}; expected YYYY-MM-DD"
        raise BadRequest("ArgumentException", message, field) from None


def usage_answer(params: dict[str, str], state: SimulatorState) -> dict:
    """Validate the parameters and return the GetAIUsage body."""
    end = _parse_date(params, "endDate") or state.current_day()
    start = _parse_date(params, "startDate")
    if start is None:
        try:
            start = end - timedelta(days=DEFAULT_RANGE_DAYS)
        except OverflowError:
            start = date.min
    if start > end:
        raise BadRequest("ArgumentException", "startDate must not be after endDate", "startDate")
    if state.evovoice_end_date == "exclusive":
        end -= timedelta(days=1)  # [start, end): start = end is empty, and so answered
    return evovoice_expected(
        start,
        end,
        account_id=params.get("accountid"),
        customer_id=params.get("customerid"),
        extra_customers=state.extra_customers,
        today=state.current_day(),
        idle=state.evovoice_idle,
        zero_customers=state.evovoice_zero_customers,
        quiet_days=state.evovoice_quiet_days,
    )


def _login_response(username: str, state: SimulatorState, remember: bool) -> Response:
    """Open a session and answer ServiceStack's AuthenticateResponse with its cookies."""
    session_id = state.open_session(username)
    roles = sorted(EVOVOICE_USERS[username][1])
    response = json_response(
        {
            "userId": str(list(EVOVOICE_USERS).index(username) + 1),
            "sessionId": session_id,
            "userName": username,
            "displayName": username.split("@")[0],
            "roles": roles,
            "permissions": [],
        }
    )
    max_age = REMEMBER_SECONDS if remember else None
    permanent_id = secrets.token_urlsafe(15)
    response.set_cookie("ss-id", session_id, httponly=True, path="/")
    response.set_cookie("ss-pid", permanent_id, max_age=max_age, httponly=True, path="/")
    if remember:
        response.set_cookie("ss-opt", "perm", max_age=max_age, httponly=True, path="/")
    return response


def create_evovoice_blueprint(state: SimulatorState, url_prefix: str = "/evovoice") -> Blueprint:
    """Build the EvoVoice blueprint."""
    blueprint = Blueprint("evovoice", __name__, url_prefix=url_prefix)

    @blueprint.before_request
    def delay() -> None:
        g.sim_user = None
        g.sim_body = None
        state.pause(state.latency_ms / 1000)

    @blueprint.after_request
    def record(response: Response) -> Response:
        state.log_call(
            {
                "target": TARGET,
                "method": request.method,
                "path": request.path.removeprefix(url_prefix) or "/",
                "query": request.args.to_dict(),
                "status": response.status_code,
                "identity": g.get("sim_user"),
                "request_id": request.headers.get("X-Request-ID"),
                "body": g.get("sim_body"),  # /ai/usage only: login bodies hold passwords
            }
        )
        return response

    @blueprint.post("/auth/credentials")
    def login() -> Response:
        if state.evovoice_auth == "basic-only":
            return not_found("auth/credentials")
        try:
            fields = merged_params(request_body())
        except BadRequest as exc:
            return status_response(400, exc.error_code, exc.message)
        username, password = fields.get("username"), fields.get("password")
        if not _check_password(username, password):
            return status_response(401, "Unauthorized", "Invalid UserName or Password")
        g.sim_user = username
        remember = fields.get("rememberme", "").lower() in ("true", "1")
        return _login_response(username, state, remember)

    @blueprint.route("/auth/logout", methods=ALL_VERBS)
    def logout() -> Response:
        state.close_session(request.cookies.get("ss-id"))
        response = json_response({})
        for cookie in ("ss-id", "ss-pid", "ss-opt"):
            response.delete_cookie(cookie, path="/")
        return response

    @blueprint.route("/ai/usage", methods=ALL_VERBS)
    @blueprint.route("/ai/usage.json", methods=ALL_VERBS)
    def usage() -> Response:
        if state.evovoice_verbs != "all" and request.method != "POST":
            if state.evovoice_verbs == "post-405":
                return status_response(405, "MethodNotAllowed", "Method Not Allowed")
            return not_found(request.path.removeprefix(url_prefix).lstrip("/"))
        username = current_user(state)
        g.sim_user = username
        fault = state.take_fault(TARGET)
        if fault is not None:
            state.pause(fault.hang_for())
            response = fault_response(fault)
            if response is not None:
                return response
        if username is None:
            return empty_response(401)
        if EVOVOICE_ADMIN_ROLE not in EVOVOICE_USERS[username][1]:
            return empty_response(403)
        try:
            body = request_body()
            g.sim_body = body or None
            return json_response(usage_answer(merged_params(body), state))
        except BadRequest as exc:
            return status_response(400, exc.error_code, exc.message, exc.field)

    @blueprint.route("/<path:rest>", methods=ALL_VERBS)
    def unknown(rest: str) -> Response:
        return not_found(rest)

    return blueprint
