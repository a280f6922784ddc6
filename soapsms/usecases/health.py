"""Health and queue figures for /health and the dispatcher's metrics."""

from __future__ import annotations

from dataclasses import dataclass

from soapsms.store import stats
from soapsms.store.db import transaction
from soapsms.usecases.runtime import Runtime

# Past this many due messages the depth reads "at least": counting further
# would cost more than knowing the exact backlog is worth.
DEPTH_CAP = 10_000


@dataclass(frozen=True)
class QueueStats:
    """What waits for the dispatcher, and whether a dispatcher is alive."""

    due: int
    due_capped: bool
    oldest_due_age_seconds: float | None
    heartbeat_age_seconds: float | None
    dispatchers: int


def queue_stats(rt: Runtime, cap: int = DEPTH_CAP) -> QueueStats:
    """One read-only transaction of three indexed queries; raises Unavailable."""
    now = rt.now()
    with transaction(rt.engine) as conn:
        depth = stats.due_depth(conn, now, cap)
        oldest = stats.oldest_due(conn, now) if depth else None
        beat, count = stats.last_heartbeat(conn)
    return QueueStats(
        due=depth,
        due_capped=depth >= cap,
        oldest_due_age_seconds=(
            round(max((now - oldest).total_seconds(), 0.0), 3) if oldest else None
        ),
        heartbeat_age_seconds=(
            round(max((now - beat).total_seconds(), 0.0), 3) if beat else None
        ),
        dispatchers=count,
    )
