"""Whether the store is usable before a command starts, and the schema's state."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from soapsms.errors import StoreNotReady, Unavailable
from soapsms.store.db import transaction
from soapsms.store.migrate import _config
from soapsms.store.retention import month_partitions

logger = logging.getLogger(__name__)

# Driver messages that no retry fixes: the operator has to act.
_PERMANENT = (
    "does not exist",
    "password authentication failed",
    "no password supplied",
    "permission denied",
    "not permitted",
)
UPGRADE = "run `soapsms db upgrade`"


@dataclass(frozen=True)
class SchemaState:
    """The schema's revision, what this code would apply, the partitions ahead."""

    current: str | None
    head: str | None
    pending: tuple[str, ...]
    # PostgreSQL: each partitioned table's last monthly partition.
    last_partitions: dict[str, str]


def sqlite_path(engine: Engine) -> Path | None:
    """The file of an SQLite store (None: another database, or in memory)."""
    name = engine.url.database
    if engine.dialect.name != "sqlite" or not name or name == ":memory:":
        return None
    return Path(name)


def check_file(engine: Engine) -> None:
    """Refuse an SQLite file that does not exist, before connecting creates it."""
    path = sqlite_path(engine)
    if path is not None and not path.exists():
        raise StoreNotReady(
            f"no SQLite database at {path.absolute()}: {UPGRADE} to create it, "
            "or set database_url (SOAPSMS_DATABASE_URL) to the store in use"
        )


def check_directory(engine: Engine) -> None:
    """Before `db upgrade`: the SQLite file's directory exists, the database
    lets us in."""
    path = sqlite_path(engine)
    if path is not None and not path.absolute().parent.is_dir():
        raise StoreNotReady(
            f"no directory {path.absolute().parent} for the SQLite database: "
            "create it, or set database_url (SOAPSMS_DATABASE_URL)"
        )
    _revision(engine)


def _revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except (OperationalError, DBAPIError) as exc:
        cause = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if any(word in cause for word in _PERMANENT):
            raise StoreNotReady(f"the database refuses us: {cause}") from exc
        raise Unavailable(f"cannot reach the database: {cause}; retry later") from exc


def check_ready(engine: Engine) -> None:
    """The store exists, lets us in and has this code's schema; raises
    StoreNotReady (permanent: the message says what to run) or Unavailable."""
    check_file(engine)
    current = _revision(engine)
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if current is None:
        raise StoreNotReady(f"the database has no soapsms schema yet: {UPGRADE}")
    if current != head:
        raise StoreNotReady(
            f"the database's schema is at {current}, this soapsms needs {head}: "
            f"{UPGRADE}"
        )


def schema_state(engine: Engine) -> SchemaState:
    """For `soapsms db status`; raises like check_ready when unreachable."""
    check_file(engine)
    current = _revision(engine)
    script = ScriptDirectory.from_config(_config())
    head = script.get_current_head()
    pending: list[str] = []
    for rev in script.walk_revisions():  # newest first
        if rev.revision == current:
            break
        pending.insert(0, rev.revision)
    last: dict[str, str] = {}
    if current is not None:
        with transaction(engine) as conn:
            for parent, name, _month in month_partitions(conn):
                last[parent] = name  # sorted by month: the last one stays
    return SchemaState(current, head, tuple(pending), last)
