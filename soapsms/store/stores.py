"""The store object for an engine, its strategy chosen once by the database."""

from __future__ import annotations

from sqlalchemy import Engine

from soapsms.store.base import Store
from soapsms.store.postgresql import PostgresStore
from soapsms.store.sqlite import SqliteStore

_BY_DIALECT: dict[str, type[Store]] = {
    SqliteStore.name: SqliteStore,
    PostgresStore.name: PostgresStore,
}


def make_store(engine: Engine) -> Store:
    """The store for `engine` (see `soapsms.store.db.make_engine`)."""
    return _BY_DIALECT[engine.dialect.name](engine)
