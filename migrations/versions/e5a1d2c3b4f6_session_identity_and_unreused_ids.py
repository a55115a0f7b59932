"""session identity and ids that are never reused

Every user gets a random session identity, which cookies carry instead of the id (existing
users get one here, so every cookie made before this revision stops working). On SQLite the
tenant and user tables are rebuilt with AUTOINCREMENT, so a removed row's id is never given
again; PostgreSQL's serial ids are never reused, so there only the columns change.

Revision ID: e5a1d2c3b4f6
Revises: c9b9aa01ef2c
Create Date: 2026-11-30 13:20:00

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5a1d2c3b4f6'
down_revision = 'c9b9aa01ef2c'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("users", sa.Column("session_id", sa.String(length=64), nullable=True))
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("session_id", sa.String))
    bind = op.get_bind()
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(session_id=secrets.token_urlsafe(32))
        )
    if bind.dialect.name == "sqlite":
        _rebuild_on_sqlite(
            sa.Column("session_id", sa.String(length=64), nullable=False, unique=True),
            autoincrement=True,
        )
    else:
        op.alter_column("users", "session_id", existing_type=sa.String(length=64), nullable=False)
        op.create_unique_constraint("users_session_id_key", "users", ["session_id"])
        op.drop_column("users", "session_version")


def downgrade():
    op.add_column(
        "users",
        sa.Column("session_version", sa.Integer(), nullable=False, server_default="1"),
    )
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_on_sqlite(
            sa.Column("session_version", sa.Integer(), nullable=False), autoincrement=False
        )
    else:
        op.alter_column("users", "session_version", server_default=None)
        op.drop_column("users", "session_id")


def _rebuild_on_sqlite(identity: sa.Column, *, autoincrement: bool) -> None:
    """Recreate tenants, users and revoked tokens, copying every row and keeping every id.

    SQLite cascades a dropped table's deletes to the rows that reference it, so the tables
    that reference tenants are rebuilt too, pointing at the new tenants table before the old
    one is dropped; renaming that new table then renames their references with it.
    """
    new = sa.MetaData()
    tenants = sa.Table(
        "_new_tenants", new,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False, unique=True),
        sa.Column("isnotai_key_encrypted", sa.Text(), nullable=True),
        sa.Column("isnotai_key_last4", sa.String(length=4), nullable=True),
        sa.Column("isnotai_region", sa.String(length=2), nullable=True),
        sa.Column("evovoice_account_id", sa.String(length=200), nullable=True),
        sa.Column("evovoice_customer_id", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("embed_origins", sa.Text(), server_default="", nullable=False),
        sa.Column("embeds_revoked_before", sa.DateTime(timezone=True), nullable=True),
        sqlite_autoincrement=autoincrement,
    )  # fmt: skip
    users = sa.Table(
        "_new_users", new,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("email", sa.String(length=254), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=True),
        identity,
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["_new_tenants.id"], ondelete="CASCADE"),
        sqlite_autoincrement=autoincrement,
    )  # fmt: skip
    revoked = sa.Table(
        "_new_revoked_embed_tokens", new,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["_new_tenants.id"], ondelete="CASCADE"),
        sa.UniqueConstraint("tenant_id", "jti"),
    )  # fmt: skip
    bind = op.get_bind()
    new.create_all(bind)
    copies = ((tenants, "tenants"), (users, "users"), (revoked, "revoked_embed_tokens"))
    for table, old in copies:
        columns = ", ".join(column.name for column in table.columns)
        op.execute(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {old}")
    for _, old in reversed(copies):  # referencing tables first: nothing cascades
        op.drop_table(old)
    for table, old in copies:
        op.rename_table(table.name, old)
