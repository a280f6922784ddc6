"""Routes: number prefixes to ordered connectors, with failover and come-back.

The table comes from configuration (`soapsms.config.Routes`: [routes] and
[connector:NAME] sections, read and checked at load). A connector type is the
module `soapsms.dispatch.connectors.<type>`, which provides
`build(name: str, settings) -> Connector` for the options its type declares
in soapsms.config.connectors.
"""

from __future__ import annotations

import importlib
import logging
import threading

from soapsms.config import Routes

from .connectors.base import Connector

logger = logging.getLogger(__name__)


def build_connectors(routes: Routes) -> dict[str, Connector]:
    """One connector per [connector:NAME] section, not yet started."""
    built: dict[str, Connector] = {}
    for config in routes.connectors:
        # The type is one soapsms.config.connectors knows: checked at load.
        module = importlib.import_module(f"soapsms.dispatch.connectors.{config.type}")
        built[config.name] = module.build(config.name, config.settings)
    return built


class Router:
    """Which connectors to try for a number, production first.

    A connector that is down is skipped (failover); as soon as it is up
    again it is first once more (come-back). Changes are logged once.
    """

    def __init__(self, routes: Routes, connectors: dict[str, Connector]) -> None:
        self.routes = routes
        self.connectors = connectors
        self._down: set[str] = set()
        self._lock = threading.Lock()

    def candidates(self, number: str) -> list[Connector]:
        """The route's connectors in order; empty when no route serves `number`."""
        return [self.connectors[name] for name in self.routes.connectors_for(number)]

    def note(self, connector: Connector, up: bool) -> None:
        """Log a connector's change between up and down, once per change."""
        with self._lock:
            was_down = connector.name in self._down
            if up and was_down:
                self._down.discard(connector.name)
                logger.warning(
                    "connector %s is up again; routes use it", connector.name
                )
            elif not up and not was_down:
                self._down.add(connector.name)
                logger.warning(
                    "connector %s is down; its routes fail over", connector.name
                )

    def any_up(self) -> bool:
        return any(c.is_up() for c in self.connectors.values())
