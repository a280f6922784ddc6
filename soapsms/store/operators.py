"""Operators (the console's logins) and the audit trail: reads and writes.

Like `repository`, every function takes an open Connection and holds no
business rule; `soapsms.usecases.operators` decides what they mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select, update

from soapsms.store.models import AuditEntry, Operator

operators = cast(Table, Operator.__table__)
audit = cast(Table, AuditEntry.__table__)


@dataclass(frozen=True)
class OperatorRow:
    name: str
    password_hash: str
    disabled: bool
    version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor_kind: str
    actor: str
    action: str
    target: str | None
    detail: str | None
    source: str | None


def _operator(row: Any) -> OperatorRow:
    return OperatorRow(**{f: getattr(row, f) for f in OperatorRow.__annotations__})


def get_operator(conn: Connection, name: str) -> OperatorRow | None:
    row = conn.execute(select(operators).where(operators.c.name == name)).first()
    return None if row is None else _operator(row)


def list_operators(conn: Connection) -> list[OperatorRow]:
    return [
        _operator(r) for r in conn.execute(select(operators).order_by(operators.c.name))
    ]


def insert_operator(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(operators).values(**values))


def update_operator(
    conn: Connection, name: str, values: dict[str, Any], now: datetime
) -> bool:
    """Change an operator and bump its version (its sessions end)."""
    result = conn.execute(
        update(operators)
        .where(operators.c.name == name)
        .values(**values, version=operators.c.version + 1, updated_at=now)
    )
    return result.rowcount == 1


def add_audit(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(audit).values(**values))


def list_audit(
    conn: Connection,
    *,
    before_id: int | None,
    limit: int,
    actor: str | None = None,
    target: str | None = None,
) -> list[AuditRow]:
    """Newest first, before `before_id` when given (a page's cursor)."""
    query = select(audit).order_by(audit.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit.c.id < before_id)
    if actor is not None:
        query = query.where(audit.c.actor == actor)
    if target is not None:
        query = query.where(audit.c.target == target)
    return [
        AuditRow(**{f: getattr(r, f) for f in AuditRow.__annotations__})
        for r in conn.execute(query)
    ]
