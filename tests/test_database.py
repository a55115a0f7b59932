"""Tenants and users on PostgreSQL: migrations from an empty database, and the demo seed."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app import create_app
from core.demo_seed import DEMO_LOGINS, seed_demo
from core.extensions import db
from models import Tenant, User


@pytest.fixture
def pg_app(postgres_url, tmp_path):
    app = create_app(
        {
            "USAGE_DEMO": "on",
            "USAGE_DATABASE_URL": postgres_url,
            "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def test_migrations_build_the_schema_on_postgresql(pg_app):
    with pg_app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"tenants", "users", "alembic_version"} <= tables
        seed_demo()
        seed_demo()  # idempotent
        assert db.session.scalar(select(User).where(User.email == DEMO_LOGINS[0][0]))
        acme = db.session.scalar(select(Tenant).where(Tenant.name == "acme"))
        key = pg_app.extensions["secret_box"].decrypt(acme.isnotai_key_encrypted)
        assert key.startswith("aik_v1_") and key not in acme.isnotai_key_encrypted
        # Unicode and markup in EvoVoice ids survive the round trip.
        globex = db.session.scalar(select(Tenant).where(Tenant.name == "globex"))
        assert globex.evovoice_account_id == "zürich-東京-Ωmega"
        db.session.remove()
        downgrade(revision="base")
        assert "tenants" not in inspect(db.engine).get_table_names()
