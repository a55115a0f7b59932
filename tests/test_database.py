"""Tenants and users on SQLite and PostgreSQL: migrations that keep data, and the demo seed."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import delete, inspect, select, text

from app import create_app
from core.config import Settings
from core.extensions import db
from demo.seed import DEMO_LOGINS, seed_demo
from devtools.servers import clean_environment, run_flask
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
        assert seed_demo() == []
        assert seed_demo() == []  # idempotent: its own tenants are recognised as the demo's
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


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Return an empty database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    return request.getfixturevalue("postgres_url")


def test_migrations_keep_existing_data(database_url, tmp_path):
    """Rows written under earlier schemas survive the later migrations, and ids stay unused."""
    app = create_app(
        {
            "USAGE_DEMO": "on",
            "USAGE_DATABASE_URL": database_url,
            "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
        }
    )
    with app.app_context():
        upgrade(revision="d0bb63b50c96")  # the first schema: tenants and users only
        sql = db.session.execute
        sql(
            text(
                "INSERT INTO tenants (name, evovoice_account_id, created_at) VALUES "
                "('kept', 'acct-kept', '2026-01-01 00:00:00'), "
                "('newest', NULL, '2026-01-02 00:00:00')"
            )
        )
        kept_id = sql(text("SELECT id FROM tenants WHERE name = 'kept'")).scalar_one()
        for email in ("kept@example.com", "other@example.com", "newest@example.com"):
            sql(
                text(
                    "INSERT INTO users (email, password_hash, role, tenant_id, session_version, "
                    "created_at) VALUES (:email, 'x', 'customer', :tenant, 1, "
                    "'2026-01-01 00:00:00')"
                ),
                {"email": email, "tenant": kept_id},
            )
        db.session.commit()
        upgrade(revision="c9b9aa01ef2c")  # embed origins and revocations
        sql(text("UPDATE tenants SET embed_origins = 'https://kept.example'"))
        sql(
            text(
                "INSERT INTO revoked_embed_tokens (tenant_id, jti, revoked_at) "
                "VALUES (:tenant, 'jti-kept', '2026-01-03 00:00:00')"
            ),
            {"tenant": kept_id},
        )
        db.session.commit()
        ids_before = dict(sql(text("SELECT email, id FROM users")).all())
        db.session.commit()  # PostgreSQL: a reading transaction would hold the migration up

        upgrade()
        tenant = db.session.scalar(select(Tenant).where(Tenant.name == "kept"))
        assert (tenant.id, tenant.evovoice_account_id) == (kept_id, "acct-kept")
        assert tenant.embed_origin_list == ["https://kept.example"]
        users = db.session.scalars(select(User)).all()
        assert {u.email: u.id for u in users} == ids_before
        assert {u.tenant_id for u in users} == {kept_id}
        identities = {u.session_id for u in users}
        assert len(identities) == 3 and all(len(i) >= 43 for i in identities)
        revoked = sql(text("SELECT tenant_id, jti FROM revoked_embed_tokens")).all()
        assert [tuple(row) for row in revoked] == [(kept_id, "jti-kept")]

        # The newest user and tenant removed: their ids are not given again.
        newest_user = ids_before["newest@example.com"]
        newest_tenant = db.session.scalar(select(Tenant.id).where(Tenant.name == "newest"))
        db.session.execute(delete(User).where(User.id == newest_user))
        db.session.execute(delete(Tenant).where(Tenant.id == newest_tenant))
        db.session.commit()
        again = Tenant(name="again")
        user = User(email="again@example.com", role="staff")
        user.set_password("long-enough")
        db.session.add_all([again, user])
        db.session.commit()
        assert again.id > newest_tenant and user.id > newest_user
        db.session.remove()
        db.engine.dispose()


# --- demo mode never seeds a database it did not create ----------------------------------

REAL_SETTINGS = {"USAGE_SECRET_KEY": "real-secret-key-that-is-long-enough-0123456789"}
CREDENTIAL = {"USAGE_EVOVOICE_USERNAME": "svc", "USAGE_EVOVOICE_PASSWORD": "real-password"}


def flask_env(database_url: str, tmp_path, **settings: str) -> dict[str, str]:
    return clean_environment(
        USAGE_DATABASE_URL=database_url,
        USAGE_CACHE_URL=f"sqlite:///{tmp_path / 'cache.sqlite'}",
        **REAL_SETTINGS,
        **settings,
    )


def rows(database_url: str, tmp_path) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """Return the tenants (name: EvoVoice account) and users (email: tenant name)."""
    app = create_app(
        {
            "USAGE_DEMO": "off",
            "USAGE_DATABASE_URL": database_url,
            "USAGE_CACHE_URL": f"sqlite:///{tmp_path / 'cache.sqlite'}",
            **REAL_SETTINGS,
        }
    )
    with app.app_context():
        tenants = dict(db.session.execute(select(Tenant.name, Tenant.evovoice_account_id)).all())
        users = dict(
            db.session.execute(
                select(User.email, Tenant.name).outerjoin(Tenant, User.tenant_id == Tenant.id)
            ).all()
        )
        db.session.remove()
        db.engine.dispose()
    return tenants, users


def add_real_tenant_and_user(env: dict[str, str]) -> None:
    run_flask(env, "tenants", "add", "acme", "--evovoice-account", "real-acme-account")
    run_flask(env, "users", "add", "owner@acme.example", "--role", "customer", "--tenant", "acme",
              "--password-stdin", stdin="real-password\n")  # fmt: skip


def test_setup_outside_demo_mode_never_creates_a_demo_login(database_url, tmp_path):
    for settings in ({"USAGE_DEMO": "off"}, CREDENTIAL):
        output = run_flask(flask_env(database_url, tmp_path, **settings), "setup")
        assert "demo.invalid" not in output and "Database is up to date." in output
    assert rows(database_url, tmp_path) == ({}, {})


def test_a_start_without_the_credential_seeds_nothing_into_a_configured_database(
    database_url, tmp_path
):
    real = flask_env(database_url, tmp_path, **CREDENTIAL)
    run_flask(real, "setup")
    add_real_tenant_and_user(real)

    output = run_flask(flask_env(database_url, tmp_path), "setup")  # USAGE_DEMO=auto
    assert rows(database_url, tmp_path) == (
        {"acme": "real-acme-account"},
        {"owner@acme.example": "acme"},
    )
    assert "no demo tenants or logins were added" in output
    assert "USAGE_DATABASE_URL" in output and "demo-staff" not in output


def test_explicit_demo_mode_leaves_a_real_tenant_of_a_demo_name_alone(database_url, tmp_path):
    real = flask_env(database_url, tmp_path, **CREDENTIAL)
    run_flask(real, "setup")
    add_real_tenant_and_user(real)

    output = run_flask(flask_env(database_url, tmp_path, USAGE_DEMO="on"), "setup")
    tenants, users = rows(database_url, tmp_path)
    assert tenants["acme"] == "real-acme-account"
    assert set(tenants) == {"acme", "globex", "initech"}
    assert users == {
        "owner@acme.example": "acme",
        "staff@demo.invalid": None,
        "globex@demo.invalid": "globex",
        "initech@demo.invalid": "initech",
    }
    assert "Tenant acme is not the demo's" in output
    assert "acme@demo.invalid" not in output and "globex@demo.invalid" in output


def test_demo_mode_keeps_its_own_database_file():
    demo = Settings(_env_file=None)
    real = Settings(_env_file=None, evovoice_username="svc", evovoice_password="pw")
    assert demo.resolved_database_url("/i") == "sqlite:////i/demo.sqlite"
    assert real.resolved_database_url("/i") == "sqlite:////i/dashboard.sqlite"
    assert demo.demo_seeds_database and not real.demo_seeds_database
    configured = {"database_url": "postgresql+psycopg://db/usage"}
    assert not Settings(_env_file=None, **configured).demo_seeds_database  # demo=auto
    assert Settings(_env_file=None, demo="on", **configured).demo_seeds_database
    assert not Settings(_env_file=None, demo="off").demo_seeds_database
