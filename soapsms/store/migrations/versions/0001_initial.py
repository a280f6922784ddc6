"""Initial schema: accounts, batches, messages, status history, rate events.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from soapsms.store.partitions import ensure_partitions

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_DUE = "status IN ('SCHEDULED', 'QUEUED')"


def _message_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("message_id", sa.String(26), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("batch_id", sa.String(26), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("client_reference", sa.String(255)),
        sa.Column("recipient", sa.String(16), nullable=False),
        sa.Column("sender", sa.String(15)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("encoding", sa.String(4), nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("error_code", sa.String(32)),
        sa.Column("error_text", sa.String(500)),
        sa.Column("carrier_error", sa.String(100)),
        sa.Column("parts_delivered", sa.Integer, nullable=False, server_default="0"),
        sa.Column("scheduled_for", sa.DateTime),
        sa.Column("due_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("validity_minutes", sa.Integer, nullable=False),
        sa.Column("submitted_at", sa.DateTime),
        sa.Column("done_at", sa.DateTime),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("status_callback_url", sa.Text),
        sa.Column("charged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.DateTime),
        sa.PrimaryKeyConstraint("message_id", "created_at"),
    ]


def _history_columns(pg: bool) -> list[sa.Column]:  # type: ignore[type-arg]
    id_type = sa.BigInteger if pg else sa.Integer
    return [
        sa.Column("id", id_type, sa.Identity() if pg else None, nullable=False),
        sa.Column("message_id", sa.String(26), nullable=False),
        sa.Column("message_created_at", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("error_code", sa.String(32)),
        sa.Column("carrier_error", sa.String(100)),
        sa.Column("detail", sa.String(500)),
        # A partitioned table's key must hold the partition key.
        sa.PrimaryKeyConstraint("id", "message_created_at")
        if pg
        else sa.PrimaryKeyConstraint("id"),
    ]


def upgrade() -> None:
    pg = op.get_bind().dialect.name == "postgresql"
    now = datetime.now(UTC).replace(tzinfo=None)
    op.create_table(
        "gateway_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(
        sa.table("gateway_meta", sa.column("key"), sa.column("value")),
        [{"key": "secret", "value": secrets.token_hex(32)}],
    )
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("credits", sa.BigInteger),
        sa.Column("default_sender", sa.String(15)),
        sa.Column("allowed_senders", sa.Text, nullable=False, server_default="[]"),
        sa.Column("allowed_networks", sa.Text, nullable=False, server_default="[]"),
        sa.Column("max_recipients", sa.Integer, nullable=False, server_default="10000"),
        sa.Column("rate_limit_per_minute", sa.Integer),
        sa.Column("default_region", sa.String(2)),
        sa.Column("callback_secret", sa.String(200)),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "blocked_numbers",
        sa.Column(
            "account_id",
            sa.String(64),
            sa.ForeignKey("accounts.account_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("number", sa.String(16), primary_key=True),
    )
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.String(26), primary_key=True),
        sa.Column(
            "account_id",
            sa.String(64),
            sa.ForeignKey("accounts.account_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("client_reference", sa.String(255)),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("accepted_count", sa.Integer, nullable=False),
        sa.Column("rejected", sa.Text, nullable=False, server_default="[]"),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint(
            "account_id", "client_reference", name="uq_batches_reference"
        ),
    )
    op.create_index(
        "ix_batches_account_created", "batches", ["account_id", "created_at"]
    )
    op.create_table(
        "rate_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
        ),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_index("ix_rate_events_account_at", "rate_events", ["account_id", "at"])

    partitioned = {"postgresql_partition_by": "RANGE (created_at)"} if pg else {}
    op.create_table("messages", *_message_columns(), **partitioned)
    op.create_index(
        "ix_messages_account_created",
        "messages",
        ["account_id", "created_at", "message_id"],
    )
    op.create_index(
        "ix_messages_account_recipient",
        "messages",
        ["account_id", "recipient", "created_at"],
    )
    op.create_index("ix_messages_batch", "messages", ["batch_id", "created_at"])
    op.create_index(
        "ix_messages_due",
        "messages",
        ["due_at"],
        sqlite_where=sa.text(_DUE),
        postgresql_where=sa.text(_DUE),
    )
    partitioned = (
        {"postgresql_partition_by": "RANGE (message_created_at)"} if pg else {}
    )
    op.create_table("status_history", *_history_columns(pg), **partitioned)
    op.create_index(
        "ix_history_message", "status_history", ["message_id", "message_created_at"]
    )
    if pg:
        # A default partition keeps an insert outside the prepared months from
        # failing; `ensure_partitions` keeps it empty by creating months ahead.
        op.execute("CREATE TABLE messages_default PARTITION OF messages DEFAULT")
        op.execute(
            "CREATE TABLE status_history_default PARTITION OF status_history DEFAULT"
        )
        ensure_partitions(op.get_bind(), now)


def downgrade() -> None:
    for table in (
        "status_history",
        "messages",
        "rate_events",
        "batches",
        "blocked_numbers",
        "accounts",
        "gateway_meta",
    ):
        op.drop_table(table)
