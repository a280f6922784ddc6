"""Carriers as the console, /health and /metrics see them: each connector's
state as its dispatchers publish it, and the pause an operator puts on it.

A dispatcher publishes, every few seconds, one row per connector (bound or
not and since when, submissions outstanding, submits and receipts in the
last minute, its last error) and reads the pauses back in the same
transaction; a paused connector takes no new submission from it (messages
fail over to the route's next connector, or wait QUEUED), while its bind
stays up and its receipts are recorded. A row not refreshed for
`STALE_AFTER` belongs to a dispatcher that is gone and is not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from soapsms.errors import Unavailable, ValidationError
from soapsms.store import operations as q
from soapsms.store import operators as audit
from soapsms.store.db import transaction
from soapsms.usecases.operators import Actor, audit_row
from soapsms.usecases.runtime import Runtime

# Rows older than this are a dispatcher that stopped publishing.
STALE_AFTER = timedelta(seconds=30)
# Rows older than this are deleted by the next publisher.
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Published:
    """One connector as this dispatcher sees it now (what it publishes)."""

    connector: str
    bound: bool
    since: datetime
    in_flight: int
    window: int | None
    submits_per_minute: int
    receipts_per_minute: int
    last_error: str | None = None
    last_error_at: datetime | None = None


@dataclass(frozen=True)
class CarrierView:
    """A configured connector: its pause and its state in every live dispatcher."""

    connector: str
    type: str
    paused_by: str | None
    paused_at: datetime | None
    # Its state in each live dispatcher, as published.
    dispatchers: tuple[q.StateRow, ...]

    @property
    def paused(self) -> bool:
        return self.paused_by is not None

    @property
    def bound(self) -> bool:
        """Bound in at least one live dispatcher."""
        return any(d.bound for d in self.dispatchers)

    @property
    def since(self) -> datetime | None:
        """When it entered its state: paused, or bound (unbound) in the live
        dispatcher that has been so the longest."""
        if self.paused:
            return self.paused_at
        alike = [d.since for d in self.dispatchers if d.bound == self.bound]
        return min(alike) if alike else None

    def totals(self) -> dict[str, int]:
        """Submissions outstanding, submits and receipts a minute, over its
        live dispatchers."""
        return {
            "in_flight": sum(d.in_flight for d in self.dispatchers),
            "submits_per_minute": sum(d.submits_per_minute for d in self.dispatchers),
            "receipts_per_minute": sum(d.receipts_per_minute for d in self.dispatchers),
        }

    @property
    def last_error(self) -> str | None:
        """The newest error any live dispatcher saw from it."""
        errors = [d for d in self.dispatchers if d.last_error and d.last_error_at]
        if not errors:
            return None
        return max(errors, key=lambda d: d.last_error_at or d.updated_at).last_error

    @property
    def state(self) -> str:
        """paused, bound, unbound, or unknown (no live dispatcher publishes it)."""
        if self.paused:
            return "paused"
        if not self.dispatchers:
            return "unknown"
        return "bound" if self.bound else "unbound"


def publish(
    rt: Runtime, dispatcher_id: str, published: list[Published]
) -> frozenset[str]:
    """Write this dispatcher's connector states; the connectors paused now."""
    now = rt.now()
    rows = [
        {
            "dispatcher_id": dispatcher_id,
            "connector": p.connector,
            "bound": p.bound,
            "since": p.since,
            "in_flight": p.in_flight,
            "window": p.window,
            "submits_per_minute": p.submits_per_minute,
            "receipts_per_minute": p.receipts_per_minute,
            "last_error": p.last_error[:300] if p.last_error else None,
            "last_error_at": p.last_error_at,
            "updated_at": now,
        }
        for p in published
    ]
    with transaction(rt.engine, write=True) as conn:
        q.publish_states(conn, rows)
        q.forget_states(conn, before=now - FORGET_AFTER)
        return frozenset(p.name for p in q.paused_connectors(conn))


def withdraw(rt: Runtime, dispatcher_id: str) -> None:
    """A stopping dispatcher's rows go with it."""
    with transaction(rt.engine, write=True) as conn:
        q.forget_states(conn, dispatcher_id=dispatcher_id)


def carriers(rt: Runtime, within: float | None = None) -> list[CarrierView]:
    """Every configured connector (and any other a live dispatcher publishes),
    with its pause and its live dispatchers' states."""
    now = rt.now()
    with transaction(rt.engine, within=within) as conn:
        rows = q.list_states(conn, now - STALE_AFTER)
        pauses = {p.name: p for p in q.paused_connectors(conn)}
    types = {c.name: c.type for c in rt.settings.routes.connectors}
    names = list(types) + sorted({r.connector for r in rows} - set(types))
    views = []
    for name in names:
        pause = pauses.get(name)
        views.append(
            CarrierView(
                connector=name,
                type=types.get(name, "?"),
                paused_by=pause.paused_by if pause else None,
                paused_at=pause.paused_at if pause else None,
                dispatchers=tuple(r for r in rows if r.connector == name),
            )
        )
    return views


def _known(rt: Runtime, name: str) -> str:
    name = name.strip()
    known = [c.name for c in rt.settings.routes.connectors]
    if name not in known:
        raise ValidationError(
            f"no connector {name!r}; the configured ones are: "
            f"{', '.join(known) or 'none'}"
        )
    return name


def pause(rt: Runtime, actor: Actor, name: str) -> bool:
    """Pause a configured connector; False when it was paused already."""
    name = _known(rt, name)
    with transaction(rt.engine, write=True) as conn:
        done = q.pause_connector(conn, name, actor.name[:64], rt.now())
        if done:
            audit.add_audit(conn, audit_row(rt, actor, "connector.pause", name))
    return done


def resume(rt: Runtime, actor: Actor, name: str) -> bool:
    """Resume a paused connector; False when it was not paused. Any name is
    taken, so that a pause left on a connector since removed can be lifted."""
    name = name.strip()
    with transaction(rt.engine, write=True) as conn:
        done = q.resume_connector(conn, name)
        if done:
            audit.add_audit(conn, audit_row(rt, actor, "connector.resume", name))
    return done


def connector_health(rt: Runtime, within: float = 1.0) -> list[dict[str, object]]:
    """Each connector's state for /health (plain JSON values); empty when the
    store does not answer within `within` seconds (health says so otherwise)."""
    try:
        views = carriers(rt, within=within)
    except Unavailable:
        return []
    return [
        {
            "name": v.connector,
            "state": v.state,
            "since": v.since.isoformat(timespec="seconds") + "Z" if v.since else None,
            "paused_by": v.paused_by,
            "dispatchers": len(v.dispatchers),
            **v.totals(),
            "last_error": v.last_error,
        }
        for v in views
    ]
