"""Schema migrations (Alembic, configured in code) run under a lock."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from soapsms.store.db import transaction

_LOCK_KEY = 0x50A95A5  # any constant shared by every soapsms node


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; concurrent callers wait for each other.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the write
    transaction (BEGIN IMMEDIATE) is the lock. Either way the second node
    reads the version table only after the first committed, and finds nothing
    left to do.
    """
    cfg = _config()
    with transaction(engine, write=True, long=True) as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()
