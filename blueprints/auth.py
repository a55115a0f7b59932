"""Sign in and out."""

from __future__ import annotations

import math
import secrets
import unicodedata
from datetime import UTC, datetime, timedelta
from functools import cache
from urllib.parse import unquote, urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from core.extensions import csrf, db, login_manager
from core.login_limits import AttemptsLeft, login_limits
from models import User
from models.user import SESSION_ID_LENGTH

from .rendering import is_htmx

bp = Blueprint("auth", __name__)

FAILED_LOGIN = "Email or password is incorrect."
SIGNED_OUT = "You are signed out."
CSRF_FAILED = "This form has expired or did not come from this site; reload the page and try again."
MAX_NEXT_LENGTH = 2048


login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see that page."


@login_manager.unauthorized_handler
def unauthorized():
    """Send browsers to the sign-in page; htmx swaps get HX-Redirect, not a login fragment."""
    target = url_for("auth.login", next=safe_next(request.full_path.rstrip("?")))
    if is_htmx():
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    flash(login_manager.login_message, "info")
    return redirect(target)


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """Load the user whose current session identity a cookie names, if any still has it."""
    if not identity or len(identity) > SESSION_ID_LENGTH:
        return None
    return db.session.scalar(select(User).where(User.session_id == identity))


def safe_next(target: str | None) -> str | None:
    """Return `target` only if it is a path on this site, never another host."""
    if not target or len(target) > MAX_NEXT_LENGTH or not _is_plain_local_path(target):
        return None
    # Check the percent-decoded forms too, so `/%2F%2Fhost` cannot become `//host` anywhere.
    decoded = target
    for _ in range(3):
        decoded, previous = unquote(decoded), decoded
        if decoded == previous:
            return target
        if not _starts_as_local_path(decoded):
            return None
    return None  # still changing after three decodings: nothing legitimate looks like that


def _is_plain_local_path(target: str) -> bool:
    if "\\" in target or any(unicodedata.category(ch).startswith("C") for ch in target):
        return False
    parts = urlsplit(target)
    return _starts_as_local_path(target) and not parts.scheme and not parts.netloc


def _starts_as_local_path(target: str) -> bool:
    # Browsers drop tabs and newlines anywhere in a URL and read `\` as `/`.
    squeezed = target.replace("\t", "").replace("\n", "").replace("\r", "").lstrip()
    return squeezed.startswith("/") and not squeezed.startswith(("//", "/\\"))


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method="scrypt")


def authenticate(email: str, password: str) -> User | None:
    """Return the user whose email and password these are, taking as long either way."""
    if not email or not password:
        return None
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None:
        check_password_hash(_dummy_hash(), password)  # an unknown email costs the same time
        return None
    return user if user.check_password(password) else None


def _form(
    next_url: str | None, email: str = "", error: str | None = None, warning: str | None = None
):
    return render_template(
        "auth/login.html", next_url=next_url, email=email, error=error, warning=warning
    )


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def _try_again(wait_seconds: int) -> str:
    """Say when sign-in opens again: in how long, and at what time (UTC, as the server knows)."""
    at = datetime.now(UTC) + timedelta(seconds=wait_seconds)
    return f"try again in {_minutes(wait_seconds)} (at {at:%H:%M} UTC)"


def _attempts_warning(attempts: AttemptsLeft | None) -> str | None:
    """Warn before the pause starts, in the limits' own numbers; the same for any email."""
    if attempts is None:
        return None
    if attempts.wait_seconds is not None:
        return f"Sign-in is now paused; {_try_again(attempts.wait_seconds)}."
    noun = "attempt" if attempts.left == 1 else "attempts"
    pause = _minutes(attempts.window_seconds)
    return f"{attempts.left} {noun} left before sign-in is paused for up to {pause}."


def _too_many(next_url: str | None, email: str, wait_seconds: int):
    message = f"Too many sign-in attempts; {_try_again(wait_seconds)}."
    response = make_response(_form(next_url, email, message), 429)
    response.headers["Retry-After"] = str(wait_seconds)
    return response


def _csrf_token_is_valid() -> bool:
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return True
    try:
        csrf.protect()
    except CSRFError:
        return False
    return True


@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt  # checked in the view, so a stale token gets the form back, not an error page
def login():
    """Show the sign-in form and sign a user in."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(next_url or url_for("home.index"))
        return _form(next_url)

    email = (request.form.get("email") or "").strip().lower()
    if not _csrf_token_is_valid():
        return _form(next_url, email, CSRF_FAILED), 400
    password = request.form.get("password") or ""
    address = request.remote_addr or ""
    limits = login_limits()
    wait = limits.admit(email, address)  # counted before the password is checked
    if wait is not None:
        return _too_many(next_url, email, wait)
    user = authenticate(email, password)
    if user is None:
        warning = _attempts_warning(limits.attempts_left(email, address))
        return _form(next_url, email, FAILED_LOGIN, warning), 401
    limits.succeeded(email, address)
    login_user(user, remember=bool(request.form.get("remember")))
    return redirect(next_url or url_for("home.index"))


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """Sign out everywhere: this and every other session and remember cookie of the user.

    A GET only asks (the header's link, a bookmark or a prefetch never signs anyone out);
    the page's button POSTs, with its CSRF token.
    """
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if request.method == "GET":
        return render_template("auth/logout.html")
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    flash(SIGNED_OUT, "info")
    return redirect(url_for("auth.login"))
