"""The app as the benchmarks run it: against in-process simulators, with its own
database and cache in a folder, a customer of globex and a staff member signed in by email."""

from __future__ import annotations

import os
from pathlib import Path

SECRET = "bench-secret-key-that-is-long-enough-0123456789"
PASSWORD = "bench-password-123"
CUSTOMER = "c@bench.test"
STAFF = "s@bench.test"


def make_app(sims, folder: Path):
    """Return an app against the simulators with a customer of globex and a staff user."""
    from flask_migrate import upgrade

    from app import create_app
    from core.extensions import db
    from models import Tenant, User
    from simulators.data import EVOVOICE_SERVICE_USER, isnotai_integration

    username, password = EVOVOICE_SERVICE_USER
    app = create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "USAGE_SECRET_KEY": SECRET,
            "USAGE_DEMO": "off",
            "USAGE_DATABASE_URL": f"sqlite:///{folder / 'app.sqlite'}",
            "USAGE_CACHE_URL": f"sqlite:///{folder / 'cache.sqlite'}",
            "USAGE_ISNOTAI_US_URL": sims.isnotai_us_url,
            "USAGE_ISNOTAI_EU_URL": sims.isnotai_eu_url,
            "USAGE_EVOVOICE_URL": sims.evovoice_url,
            "USAGE_EVOVOICE_USERNAME": username,
            "USAGE_EVOVOICE_PASSWORD": password,
        }
    )
    with app.app_context():
        upgrade()
        demo = isnotai_integration("globex")
        tenant = Tenant(
            name="globex",
            isnotai_key_encrypted=app.extensions["secret_box"].encrypt(demo.key),
            isnotai_key_last4=demo.key[-4:],
            isnotai_region=demo.region,
            evovoice_account_id="acct-northwind",
        )
        db.session.add(tenant)
        for email, role, owner in (
            ("c@bench.test", "customer", tenant),
            ("s@bench.test", "staff", None),
        ):
            user = User(email=email, role=role, tenant=owner)
            user.set_password(PASSWORD)
            db.session.add(user)
        db.session.commit()
    return app


def signed_in(app, email: str):
    """Return a test client signed in as one of the harness's users."""
    client = app.test_client()
    answer = client.post("/login", data={"email": email, "password": PASSWORD})
    if answer.status_code != 302:
        raise SystemExit(f"could not sign in {email}: HTTP {answer.status_code}")
    return client


def sync_playwright_for(chromium: str):
    """Return Playwright's `sync_playwright`, or exit saying what is missing to drive
    Debian's Chromium at `chromium` (the browser benchmarks never download one)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise SystemExit("playwright is not installed: pip install playwright==1.65.2") from None
    if not os.access(chromium, os.X_OK):
        raise SystemExit(f"no Chromium at {chromium} (apt install chromium, or --chromium)")
    return sync_playwright
