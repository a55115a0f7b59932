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


def test_servers_starting_together_migrate_once(postgres_url, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    flask = Path(sys.executable).parent / "flask"
    env = {**os.environ, "USAGE_DEMO": "on", "USAGE_DATABASE_URL": postgres_url}
    # Separate processes, as separate servers would be (Alembic is not thread-safe).
    runs = [
        subprocess.Popen(
            [flask, "--app", "app", "setup"],
            cwd=root,
            env={**env, "USAGE_CACHE_URL": f"sqlite:///{tmp_path / f'c{i}.sqlite'}"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    outcomes = [run.communicate(timeout=60) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err for _, err in outcomes]
    app = create_app(
        {
            "USAGE_DEMO": "on",
            "USAGE_DATABASE_URL": postgres_url,
            "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'c.sqlite'}",
        }
    )
    with app.app_context():
        assert {"tenants", "users"} <= set(inspect(db.engine).get_table_names())
        assert len(db.session.scalars(select(Tenant)).all()) == 3  # seeded once
        db.session.remove()
        db.engine.dispose()


def test_migrations_keep_existing_data(tmp_path):
    """A tenant and user written under the first schema survive the later migrations."""
    from sqlalchemy import text

    app = create_app(
        {
            "USAGE_DEMO": "on",
            "USAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'old.sqlite'}",
            "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
        }
    )
    with app.app_context():
        upgrade(revision="d0bb63b50c96")  # the first schema: tenants and users only
        db.session.execute(
            text(
                "INSERT INTO tenants (id, name, evovoice_account_id, created_at) "
                "VALUES (1, 'kept', 'acct-kept', '2026-01-01 00:00:00')"
            )
        )
        db.session.execute(
            text(
                "INSERT INTO users (email, password_hash, role, tenant_id, session_version, "
                "created_at) VALUES ('kept@example.com', 'x', 'customer', 1, 1, "
                "'2026-01-01 00:00:00')"
            )
        )
        db.session.commit()
        upgrade()
        tenant = db.session.scalar(select(Tenant).where(Tenant.name == "kept"))
        assert tenant.evovoice_account_id == "acct-kept"
        assert tenant.embed_origin_list == [] and tenant.embeds_revoked_before is None
        assert db.session.scalar(select(User).where(User.email == "kept@example.com"))
        db.session.remove()
