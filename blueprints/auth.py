"""Sign in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from core.extensions import db, login_manager
from models import User

bp = Blueprint("auth", __name__)

FAILED_LOGIN = "Email or password is incorrect."


login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to see that page."


@login_manager.unauthorized_handler
def unauthorized():
    """Send browsers to the sign-in page; htmx swaps get HX-Redirect, not a login fragment."""
    target = url_for("auth.login", next=safe_next(request.full_path.rstrip("?")))
    if request.headers.get("HX-Request") == "true":
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    flash(login_manager.login_message, "info")
    return redirect(target)


@login_manager.user_loader
def load_user(identity: str) -> User | None:
    """Load the user of a session, unless the session predates a logout."""
    user_id, _, version = identity.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user


def safe_next(target: str | None) -> str | None:
    """Return `target` only if it is a path on this site, never another host."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(ch) < 32 for ch in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form and sign a user in."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "POST":
        email = (request.form.get("email") or "").strip().lower()
        password = request.form.get("password") or ""
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None and user.check_password(password):
            login_user(user, remember=bool(request.form.get("remember")))
            return redirect(next_url or url_for("home.index"))
        flash(FAILED_LOGIN, "error")
        return render_template("auth/login.html", next_url=next_url, email=email), 401
    if current_user.is_authenticated:
        return redirect(next_url or url_for("home.index"))
    return render_template("auth/login.html", next_url=next_url, email="")


@bp.post("/logout")
@login_required
def logout():
    """Sign out everywhere this session's cookies went, remember cookie included."""
    current_user.session_version += 1
    db.session.commit()
    logout_user()
    return redirect(url_for("auth.login"))
