"""The dispatcher's connectors: built, bind-gated, routed, started, stopped and
their state published: everything the dispatcher does to its connectors."""

from __future__ import annotations

import logging
from concurrent.futures import Future

from soapsms import metrics
from soapsms.errors import ConfigError
from soapsms.usecases import bind_slots
from soapsms.usecases.dispatching import queue as uc
from soapsms.usecases.runtime import Runtime

from .connector_state import ConnectorStates
from .connectors.base import Connector, Sink, SubmitResult
from .routing import Router, build_connectors

logger = logging.getLogger(__name__)


class ConnectorPool:
    """One dispatcher's connectors by name, and the router over them."""

    def __init__(
        self,
        rt: Runtime,
        connectors: dict[str, Connector] | None,
        dispatcher_id: str = "",
    ) -> None:
        routes = rt.settings.routes
        self.connectors = (
            connectors if connectors is not None else build_connectors(routes)
        )
        _gate_binds(rt, self.connectors)
        self.router = Router(routes, self.connectors)
        # Published to the store; operators' pauses read back (docs/console.md).
        self.states = ConnectorStates(rt, dispatcher_id, self.connectors)

    def any_up(self) -> bool:
        """Some connector is up and not paused: worth claiming messages."""
        return self.states.any_sending()

    def paused(self, name: str) -> bool:
        return self.states.paused(name)

    def handed(self, name: str, future: Future[SubmitResult]) -> None:
        self.states.handed(name, future)

    def route(self, job: uc.Claimed) -> list[Connector]:
        """The connectors to try, in order. A message some of whose parts a
        carrier took goes back to that carrier alone: the handset joins parts
        by reference, and another carrier's would not arrive as the same."""
        route = self.router.candidates(job.recipient)
        if job.connector is not None:
            pinned = [c for c in route if c.name == job.connector]
            if pinned or job.connector in self.connectors:
                return pinned or [self.connectors[job.connector]]
        return route

    def note(self, connector: Connector, up: bool) -> None:
        """What a hand-over showed of a connector's state (failover, come-back)."""
        if up or not self.paused(connector.name):  # a pause is not a failure
            self.router.note(connector, up=up)

    def start(self, sink: Sink) -> None:
        for connector in self.connectors.values():
            connector.start(sink)
        self.states.start()

    def stop(self) -> None:
        for connector in self.connectors.values():
            try:
                connector.stop()
            except Exception:
                logger.exception("connector %s did not stop cleanly", connector.name)
        self.states.stop()

    def publish_state(self) -> None:
        """Each connector's bind state as the `soapsms_connector_up` gauge."""
        up = metrics.get().connector_up
        for connector in self.connectors.values():
            up.labels(connector.name).set(1 if connector.is_up() else 0)


def _gate_binds(rt: Runtime, connectors: dict[str, Connector]) -> None:
    """Routes with max_binds bind only while they hold a cluster-wide slot."""
    for config in rt.settings.routes.connectors:
        connector = connectors.get(config.name)
        if config.max_binds <= 0 or connector is None:
            continue
        if not hasattr(connector, "bind_gate"):
            raise ConfigError(
                f"connector {config.name}: max_binds is for carrier binds; "
                f"type {config.type} has none"
            )
        connector.bind_gate = bind_slots.bind_gate(rt, config.name, config.max_binds)
