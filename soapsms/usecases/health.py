"""Health and queue figures for /health and the dispatcher's metrics."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from soapsms.errors import Unavailable
from soapsms.store import stats
from soapsms.store.db import transaction
from soapsms.usecases.runtime import Runtime

# Past this many due messages the depth reads "at least": counting further
# would cost more than knowing the exact backlog is worth.
DEPTH_CAP = 10_000
# /health answers within this many seconds whatever the store does.
HEALTH_WITHIN = 1.5


@dataclass(frozen=True)
class QueueStats:
    """What waits for the dispatcher, and whether a dispatcher is alive."""

    due: int
    due_capped: bool
    oldest_due_age_seconds: float | None
    heartbeat_age_seconds: float | None
    dispatchers: int


def queue_stats(
    rt: Runtime, cap: int = DEPTH_CAP, within: float | None = None
) -> QueueStats:
    """One read-only transaction of three indexed queries (bounded by `within`
    seconds, else the store timeout); raises Unavailable."""
    now = rt.now()
    with transaction(rt.engine, within=within) as conn:
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


def stalled(rt: Runtime, figures: QueueStats) -> bool:
    """Due messages wait and no dispatcher has a fresh heartbeat: one beats at
    least every lease/4 (5 s at most), so none for a whole lease
    (dispatch_lease_seconds) means none is working; another would take it for
    dead too."""
    if not figures.due:
        return False
    age = figures.heartbeat_age_seconds
    return age is None or age > rt.settings.dispatch_lease_seconds


def health_stats(rt: Runtime, within: float = HEALTH_WITHIN) -> QueueStats:
    """`queue_stats` answered within `within` seconds or Unavailable: the
    query runs in a thread of its own, so that even a connection attempt to a
    silent server (whose own bound is the store timeout) cannot hold /health."""
    done = threading.Event()
    result: list[QueueStats | BaseException] = []

    def ask() -> None:
        try:
            result.append(queue_stats(rt, within=within))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            result.append(exc)
        done.set()

    threading.Thread(target=ask, name="health", daemon=True).start()
    if not done.wait(within) or not result:
        raise Unavailable("the message store did not answer in time")
    answer = result[0]
    if isinstance(answer, BaseException):
        raise answer
    return answer
