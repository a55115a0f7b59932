"""alert rules, report schedules, what they fired and sent, deliveries and job slots

Revision ID: a614ce7059ea
Revises: f6b2e3d4c5a7
Create Date: 2026-12-01 06:30:07.594547

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a614ce7059ea'
down_revision = 'f6b2e3d4c5a7'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('demo_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('mail_from', sa.Text(), nullable=False),
    sa.Column('rcpt_to', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), server_default='', nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    op.create_table('job_slots',
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('slot', sa.String(length=32), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('job', 'slot')
    )
    op.create_table('alert_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('window', sa.String(length=8), nullable=False),
    sa.Column('condition', sa.String(length=16), nullable=False),
    sa.Column('threshold', sa.BigInteger(), nullable=False),
    sa.Column('emails', sa.Text(), server_default='', nullable=False),
    sa.Column('webhook_url', sa.Text(), nullable=True),
    sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_value', sa.Float(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_rules_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('report_schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('every', sa.String(length=8), nullable=False),
    sa.Column('emails', sa.Text(), server_default='', nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('report_schedules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_schedules_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('alert_firings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('window_key', sa.String(length=32), nullable=False),
    sa.Column('condition', sa.String(length=16), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['rule_id'], ['alert_rules.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('rule_id', 'window_key', 'condition', name='uq_alert_firings_once'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('alert_firings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_firings_rule_id'), ['rule_id'], unique=False)

    op.create_table('report_sends',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=True),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('period_key', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['schedule_id'], ['report_schedules.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('schedule_id', 'period_key', name='uq_report_sends_once'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('report_sends', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_report_sends_schedule_id'), ['schedule_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_report_sends_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('firing_id', sa.Integer(), nullable=True),
    sa.Column('report_send_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=8), nullable=False),
    sa.Column('target', sa.Text(), nullable=False),
    sa.Column('subject', sa.Text(), server_default='', nullable=False),
    sa.Column('body_text', sa.Text(), server_default='', nullable=False),
    sa.Column('body_html', sa.Text(), server_default='', nullable=False),
    sa.Column('payload', sa.Text(), server_default='', nullable=False),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['firing_id'], ['alert_firings.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['report_send_id'], ['report_sends.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uid'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deliveries_firing_id'), ['firing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_report_send_id'), ['report_send_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('delivery_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=40), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sqlite_autoincrement=True
    )
    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_attempts_delivery_id'), ['delivery_id'], unique=False)

    # Not a batch operation, as in f6b2e3d4c5a7: a batch would recreate `tenants` on SQLite.
    op.add_column('tenants', sa.Column('webhook_secret_encrypted', sa.Text(), nullable=True))



def downgrade():
    op.drop_column('tenants', 'webhook_secret_encrypted')

    with op.batch_alter_table('delivery_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_attempts_delivery_id'))

    op.drop_table('delivery_attempts')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_deliveries_state'))
        batch_op.drop_index(batch_op.f('ix_deliveries_report_send_id'))
        batch_op.drop_index(batch_op.f('ix_deliveries_firing_id'))

    op.drop_table('deliveries')
    with op.batch_alter_table('report_sends', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_sends_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_report_sends_schedule_id'))

    op.drop_table('report_sends')
    with op.batch_alter_table('alert_firings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_firings_rule_id'))

    op.drop_table('alert_firings')
    with op.batch_alter_table('report_schedules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_report_schedules_tenant_id'))

    op.drop_table('report_schedules')
    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_rules_tenant_id'))

    op.drop_table('alert_rules')
    op.drop_table('job_slots')
    op.drop_table('demo_mail')
