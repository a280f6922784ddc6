"""Tables of the store, as SQLAlchemy 2 declarative models.

Times are naive UTC. A message's `created_at` is the instant encoded in its
ULID `message_id`, so a lookup by id also knows the month partition to touch
(PostgreSQL range-partitions `messages` and `status_history` by month; see
the initial migration).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from soapsms.domain import status

# The statuses of messages waiting to be sent: the rows of `ix_messages_due`.
WAITING_STATUSES = (status.SCHEDULED, status.QUEUED)


class Base(DeclarativeBase):
    pass


# Waiting messages, spelled as the partial index `ix_messages_due` is: SQLite
# uses a partial index only for a query that repeats its condition as text,
# not with bound values (docs/performance.md, the console's pages).
WAITING = f"status IN ({', '.join(repr(s) for s in WAITING_STATUSES)})"


class Meta(Base):
    """Gateway-wide values created once, e.g. the secret that signs cursors."""

    __tablename__ = "gateway_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Account(Base):
    __tablename__ = "accounts"
    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # NULL means unlimited.
    credits: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    default_sender: Mapped[str | None] = mapped_column(String(15), nullable=True)
    # JSON lists; empty means no restriction.
    allowed_senders: Mapped[str] = mapped_column(Text, default="[]")
    allowed_networks: Mapped[str] = mapped_column(Text, default="[]")
    max_recipients: Mapped[int] = mapped_column(Integer, default=10_000)
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    default_region: Mapped[str | None] = mapped_column(String(2), nullable=True)
    callback_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Bumped on every change, so cached credentials stop counting at once.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class BlockedNumber(Base):
    __tablename__ = "blocked_numbers"
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[str] = mapped_column(String(16), primary_key=True)


class Batch(Base):
    """One accepted SendMessage: holds the idempotency key and the rejections."""

    __tablename__ = "batches"
    batch_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.account_id", ondelete="CASCADE")
    )
    client_reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    accepted_count: Mapped[int] = mapped_column(Integer)
    # JSON list of [recipient as given, reason] in input order.
    rejected: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (
        UniqueConstraint("account_id", "client_reference", name="uq_batches_reference"),
        Index("ix_batches_account_created", "account_id", "created_at"),
    )


class Message(Base):
    """One recipient of one batch."""

    __tablename__ = "messages"
    message_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(26))
    account_id: Mapped[str] = mapped_column(String(64))
    client_reference: Mapped[str | None] = mapped_column(String(255), nullable=True)
    recipient: Mapped[str] = mapped_column(String(16))
    sender: Mapped[str | None] = mapped_column(String(15), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(4))
    parts: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12))
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_text: Mapped[str | None] = mapped_column(String(500), nullable=True)
    carrier_error: Mapped[str | None] = mapped_column(String(100), nullable=True)
    parts_delivered: Mapped[int] = mapped_column(Integer, default=0)
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # When a dispatcher may take it, and when its validity ends.
    due_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    validity_minutes: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    status_callback_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Credits taken for this message (0 on unlimited accounts), for refunds.
    charged: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    __table_args__ = (
        Index("ix_messages_account_created", "account_id", "created_at", "message_id"),
        Index("ix_messages_account_recipient", "account_id", "recipient", "created_at"),
        Index("ix_messages_batch", "batch_id", "created_at"),
        Index(
            "ix_messages_due",
            "due_at",
            sqlite_where=sql_text(WAITING),
            postgresql_where=sql_text(WAITING),
        ),
    )


class StatusHistory(Base):
    """Every status change of a message, with its time."""

    __tablename__ = "status_history"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )
    message_id: Mapped[str] = mapped_column(String(26))
    # The message's created_at: the partition key, shared with `messages`.
    message_created_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    carrier_error: Mapped[str | None] = mapped_column(String(100), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(500), nullable=True)
    __table_args__ = (Index("ix_history_message", "message_id", "message_created_at"),)


class RateEvent(Base):
    """Accepted messages per send, for the sliding one-minute rate limit."""

    __tablename__ = "rate_events"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )
    account_id: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime)
    count: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_rate_events_account_at", "account_id", "at"),)


# --- dispatch (migration 0002) ----------------------------------------------


class MessagePart(Base):
    """One SMS part of a submitted message: its route, carrier id and receipt state.

    Partitioned by month with its message on PostgreSQL.
    """

    __tablename__ = "message_parts"
    message_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    message_created_at: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    part_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(64))
    carrier_id: Mapped[str] = mapped_column(String(64))
    # SUBMITTED until its receipt says DELIVERED, UNDELIVERED or EXPIRED.
    status: Mapped[str] = mapped_column(String(12))
    stat: Mapped[str | None] = mapped_column(String(12), nullable=True)
    err: Mapped[str | None] = mapped_column(String(32), nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    __table_args__ = (Index("ix_parts_carrier", "connector", "carrier_id"),)


class ReceiptRecord(Base):
    """A delivery receipt as received. The unique key makes recording it
    idempotent; one whose submission is not recorded yet waits here unmatched."""

    __tablename__ = "receipts"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )
    connector: Mapped[str] = mapped_column(String(64))
    carrier_id: Mapped[str] = mapped_column(String(64))
    stat: Mapped[str] = mapped_column(String(12))
    err: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    raw: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # unmatched | applied | ignored (late, or the part was already final)
    outcome: Mapped[str] = mapped_column(String(12))
    message_id: Mapped[str | None] = mapped_column(String(26), nullable=True)
    message_created_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    part_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    __table_args__ = (
        UniqueConstraint("connector", "carrier_id", "stat", name="uq_receipts_stat"),
        Index("ix_receipts_received", "received_at"),
    )


class InboundMessage(Base):
    """A mobile-originated message a carrier delivered to us; never dropped."""

    __tablename__ = "inbound_messages"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )
    connector: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    # JSON object: whatever else the carrier sent (TLVs, data_coding …).
    extra: Mapped[str] = mapped_column(Text, default="{}")
    __table_args__ = (Index("ix_inbound_received", "received_at"),)


class CallbackEvent(Base):
    """A status callback waiting to be POSTed: the durable outbox."""

    __tablename__ = "callback_outbox"
    event_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(26))
    message_created_at: Mapped[datetime] = mapped_column(DateTime)
    account_id: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    # JSON: the MessageStatus as it was right after the change.
    payload: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    # pending, or failed once retries ran out (kept for the operator)
    state: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    give_up_at: Mapped[datetime] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    __table_args__ = (
        Index(
            "ix_outbox_due",
            "next_attempt_at",
            sqlite_where=sql_text("state = 'pending'"),
            postgresql_where=sql_text("state = 'pending'"),
        ),
        Index("ix_outbox_message", "message_id"),
    )


class DispatcherBeat(Base):
    """A running dispatcher and its last heartbeat (SQLite allows one at a time)."""

    __tablename__ = "dispatchers"
    dispatcher_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime)


# --- operator console (migration 0004) ---------------------------------------


class Operator(Base):
    """Someone who runs the gateway (the /admin console); not an account."""

    __tablename__ = "operators"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Bumped on every change, so a disabled operator's sessions end at once.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class AuditEntry(Base):
    """Who changed what, when and from where: operators and account settings."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    )
    at: Mapped[datetime] = mapped_column(DateTime)
    # operator | account | cli (an operator's shell: actor is the OS user)
    actor_kind: Mapped[str] = mapped_column(String(8))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(500), nullable=True)
    source: Mapped[str | None] = mapped_column(String(64), nullable=True)
    __table_args__ = (Index("ix_audit_at", "at"),)


class ConnectorState(Base):
    """A connector as one dispatcher sees it, published every few seconds."""

    __tablename__ = "connector_states"
    dispatcher_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    connector: Mapped[str] = mapped_column(String(64), primary_key=True)
    bound: Mapped[bool] = mapped_column(Boolean)
    since: Mapped[datetime] = mapped_column(DateTime)
    in_flight: Mapped[int] = mapped_column(Integer)
    window: Mapped[int | None] = mapped_column(Integer, nullable=True)
    submits_per_minute: Mapped[int] = mapped_column(Integer)
    receipts_per_minute: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ConnectorPause(Base):
    """A connector an operator paused: no new submissions until resumed."""

    __tablename__ = "connector_pauses"
    connector: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused_by: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime] = mapped_column(DateTime)


class AccountPause(Base):
    """An account whose messages the dispatcher leaves QUEUED until resumed."""

    __tablename__ = "account_pauses"
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.account_id", ondelete="CASCADE"), primary_key=True
    )
    paused_by: Mapped[str] = mapped_column(String(64))
    paused_at: Mapped[datetime] = mapped_column(DateTime)
