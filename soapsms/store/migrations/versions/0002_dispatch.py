"""Dispatch: message parts, receipts, inbound messages, callback outbox, dispatchers.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from soapsms.store.partitions import ensure_partitions

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Kept beside its message's month, so that purging a month drops both.
PARTS_PARTITIONED = {"message_parts": "message_created_at"}


def _id(pg: bool) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "id",
        sa.BigInteger if pg else sa.Integer,
        sa.Identity() if pg else None,
        primary_key=True,
    )


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    partitioned = (
        {"postgresql_partition_by": "RANGE (message_created_at)"} if pg else {}
    )
    op.create_table(
        "message_parts",
        sa.Column("message_id", sa.String(26), nullable=False),
        sa.Column("message_created_at", sa.DateTime, nullable=False),
        sa.Column("part_no", sa.Integer, nullable=False),
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column("carrier_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("stat", sa.String(12)),
        sa.Column("err", sa.String(32)),
        sa.Column("submitted_at", sa.DateTime, nullable=False),
        sa.Column("done_at", sa.DateTime),
        sa.PrimaryKeyConstraint("message_id", "message_created_at", "part_no"),
        **partitioned,
    )
    op.create_index("ix_parts_carrier", "message_parts", ["connector", "carrier_id"])
    op.create_table(
        "receipts",
        _id(pg),
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column("carrier_id", sa.String(64), nullable=False),
        sa.Column("stat", sa.String(12), nullable=False),
        sa.Column("err", sa.String(32)),
        sa.Column("error_code", sa.String(32)),
        sa.Column("done_at", sa.DateTime),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("raw", sa.String(500)),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("message_id", sa.String(26)),
        sa.Column("message_created_at", sa.DateTime),
        sa.Column("part_no", sa.Integer),
        sa.UniqueConstraint("connector", "carrier_id", "stat", name="uq_receipts_stat"),
    )
    op.create_index("ix_receipts_received", "receipts", ["received_at"])
    op.create_table(
        "inbound_messages",
        _id(pg),
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.Column("extra", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_index("ix_inbound_received", "inbound_messages", ["received_at"])
    op.create_table(
        "callback_outbox",
        sa.Column("event_id", sa.String(26), primary_key=True),
        sa.Column("message_id", sa.String(26), nullable=False),
        sa.Column("message_created_at", sa.DateTime, nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("give_up_at", sa.DateTime, nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.DateTime),
    )
    op.create_index(
        "ix_outbox_due",
        "callback_outbox",
        ["next_attempt_at"],
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_outbox_message", "callback_outbox", ["message_id"])
    op.create_table(
        "dispatchers",
        sa.Column("dispatcher_id", sa.String(64), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("heartbeat_at", sa.DateTime, nullable=False),
    )
    if pg:
        op.execute(
            "CREATE TABLE message_parts_default PARTITION OF message_parts DEFAULT"
        )
        now = datetime.now(UTC).replace(tzinfo=None)
        ensure_partitions(op.get_bind(), now, tables=PARTS_PARTITIONED)


def downgrade() -> None:
    for table in (
        "dispatchers",
        "callback_outbox",
        "inbound_messages",
        "receipts",
        "message_parts",
    ):
        op.drop_table(table)
