"""The landing route: send each role to its own page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():
    """Show who is signed in and where their dashboards are."""
    return render_template("home/index.html", user=current_user)


@bp.get("/healthz")
def healthz():
    """Answer that the process is alive."""
    return {"status": "ok"}
