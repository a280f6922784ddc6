"""SQLite: times written without their microseconds get them.

The bulk insert of messages wrote times through sqlite3's own adapter,
which leaves out ".000000" when the microseconds are zero; SQLAlchemy
writes and compares them with it. A message created on a whole millisecond
zero (one in a thousand) then matched no lookup by (id, created_at): the
dispatcher could not lease it. soapsms.store.bulk now converts like
SQLAlchemy; this brings earlier rows in line. Nothing to do on PostgreSQL,
whose times are typed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The tables bulk inserts have written, and their time columns.
TIMES = {
    "messages": (
        "created_at",
        "scheduled_for",
        "due_at",
        "expires_at",
        "submitted_at",
        "done_at",
        "updated_at",
        "lease_until",
    ),
    "status_history": ("message_created_at", "occurred_at"),
    "message_parts": ("message_created_at", "submitted_at", "done_at"),
    "callback_outbox": (
        "message_created_at",
        "occurred_at",
        "next_attempt_at",
        "give_up_at",
        "lease_until",
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, columns in TIMES.items():
        # "YYYY-MM-DD HH:MM:SS" is 19 characters; one pass over each table.
        sets = ", ".join(
            f"{c} = CASE WHEN length({c}) = 19 THEN {c} || '.000000' ELSE {c} END"
            for c in columns
        )
        where = " OR ".join(f"length({c}) = 19" for c in columns)
        op.execute(f"UPDATE {table} SET {sets} WHERE {where}")


def downgrade() -> None:
    pass  # the longer form is what SQLAlchemy reads and writes anyway
