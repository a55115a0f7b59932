"""The landing route: send each role to its own page."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user, login_required

bp = Blueprint("home", __name__)

# The page each role lands on, once its blueprint is registered.
LANDING = {"customer": "usage.page", "staff": "staff.page"}


@bp.get("/")
@login_required
def index():
    """Send customers to their usage and staff to the staff page; else say who is signed in."""
    endpoint = LANDING.get(current_user.role)
    if endpoint and endpoint in current_app.view_functions:
        return redirect(url_for(endpoint))
    return render_template("home/index.html", user=current_user)
