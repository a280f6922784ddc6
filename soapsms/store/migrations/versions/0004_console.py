"""Operator console: operators, audit, connector states, connector and account pauses.

Small tables, not partitioned on PostgreSQL: operators and pauses hold a
handful of rows, connector states one per dispatcher and connector, and the
audit a row per operator action (docs/console.md).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "operators",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column(
            "id",
            sa.BigInteger if pg else sa.Integer,
            sa.Identity() if pg else None,
            primary_key=True,
        ),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("actor_kind", sa.String(8), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(200)),
        sa.Column("detail", sa.String(500)),
        sa.Column("source", sa.String(64)),
    )
    op.create_index("ix_audit_at", "audit", ["at"])
    op.create_table(
        "connector_states",
        sa.Column("dispatcher_id", sa.String(64), primary_key=True),
        sa.Column("connector", sa.String(64), primary_key=True),
        sa.Column("bound", sa.Boolean, nullable=False),
        sa.Column("since", sa.DateTime, nullable=False),
        sa.Column("in_flight", sa.Integer, nullable=False),
        sa.Column("window", sa.Integer),
        sa.Column("submits_per_minute", sa.Integer, nullable=False),
        sa.Column("receipts_per_minute", sa.Integer, nullable=False),
        sa.Column("last_error", sa.String(300)),
        sa.Column("last_error_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "connector_pauses",
        sa.Column("connector", sa.String(64), primary_key=True),
        sa.Column("paused_by", sa.String(64), nullable=False),
        sa.Column("paused_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "account_pauses",
        sa.Column(
            "account_id",
            sa.String(64),
            sa.ForeignKey("accounts.account_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("paused_by", sa.String(64), nullable=False),
        sa.Column("paused_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "account_pauses",
        "connector_pauses",
        "connector_states",
        "audit",
        "operators",
    ):
        op.drop_table(table)
