"""Carrier bind slots shared by every node: the gate a connector binds through."""

from __future__ import annotations

import logging
from collections.abc import Callable

from soapsms.store.bind_slots import HeldSlot, take_slot
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)

# Called with what to do when the slot is lost; a held slot, or None when
# every slot is held elsewhere or the store cannot say (then: do not bind).
BindGate = Callable[[Callable[[], None]], HeldSlot | None]


def bind_gate(rt: Runtime, connector: str, max_binds: int) -> BindGate | None:
    """The gate for `connector`, or None when its binds need no slot:
    `max_binds` 0 (no limit), or a store with one dispatcher in all (SQLite)."""
    if max_binds <= 0 or rt.store.one_dispatcher:
        return None

    said = ""  # what was last logged: the gate is asked every second or so

    def gate(on_lost: Callable[[], None]) -> HeldSlot | None:
        nonlocal said
        try:
            slot = take_slot(rt.engine, connector, max_binds, on_lost)
            news = "" if slot else f"all {max_binds} bind slots are held elsewhere"
        except Exception as exc:  # noqa: BLE001 - no store, no proof of a slot
            slot, news = None, f"no store to hold a bind slot in ({exc})"
        if news and news != said:
            logger.warning("connector %s: %s; not binding", connector, news)
        elif slot is not None:
            logger.info("connector %s: holds bind slot %d", connector, slot.slot)
        said = news
        return slot

    return gate
