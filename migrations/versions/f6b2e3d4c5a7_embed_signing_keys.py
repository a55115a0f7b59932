"""per-tenant embed signing keys

Revision ID: f6b2e3d4c5a7
Revises: e5a1d2c3b4f6
Create Date: 2026-11-30 13:20:00

Keys are not generated here: a tenant from before this revision gets its key the first time
one is needed (services.embed_keys.current_key), so the schema history never depends on the
app's encryption keys. Revocation by time (`embeds_revoked_before`) is replaced by key
rotation.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f6b2e3d4c5a7'
down_revision = 'e5a1d2c3b4f6'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('embed_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=100), nullable=False),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kid')
    )
    op.create_index('ix_embed_keys_tenant_id', 'embed_keys', ['tenant_id'], unique=False)
    op.create_index(
        'ix_embed_keys_one_current', 'embed_keys', ['tenant_id'], unique=True,
        sqlite_where=sa.text('expires_at IS NULL'),
        postgresql_where=sa.text('expires_at IS NULL'),
    )
    # Not a batch operation: on SQLite a batch recreates `tenants`, and dropping the old
    # table with foreign keys on would cascade into users. SQLite (3.35+) drops a plain
    # column in place.
    op.drop_column('tenants', 'embeds_revoked_before')


def downgrade():
    op.add_column('tenants', sa.Column('embeds_revoked_before', sa.DateTime(timezone=True), nullable=True))
    op.drop_index('ix_embed_keys_one_current', table_name='embed_keys')
    op.drop_index('ix_embed_keys_tenant_id', table_name='embed_keys')
    op.drop_table('embed_keys')
