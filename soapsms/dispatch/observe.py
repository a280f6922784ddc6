"""The dispatcher's own /metrics endpoint: its counters plus queue figures
read from the store at scrape time (cheap, indexed; see store.stats)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from soapsms import metrics
from soapsms.errors import ConfigError
from soapsms.usecases.health import queue_stats
from soapsms.usecases.runtime import Runtime

logger = logging.getLogger(__name__)


class QueueCollector(Collector):
    """Gauges computed when scraped, so they are never stale or summed over rows."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "soapsms_store_up", "1 when the store answered this scrape"
        )
        try:
            figures = queue_stats(self.rt)
        except Exception as exc:  # noqa: BLE001 - a scrape must not fail
            logger.warning("metrics: store unreachable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "soapsms_dispatch_queue_depth",
            "Due QUEUED/SCHEDULED messages (counted up to a cap of "
            "soapsms.usecases.health.DEPTH_CAP)",
            value=figures.due,
        )
        yield GaugeMetricFamily(
            "soapsms_dispatch_oldest_due_age_seconds",
            "How long the oldest due message has waited (0 when none)",
            value=figures.oldest_due_age_seconds or 0.0,
        )
        yield GaugeMetricFamily(
            "soapsms_dispatch_heartbeat_age_seconds",
            "Age of the newest dispatcher heartbeat in the store (-1: none)",
            value=(
                figures.heartbeat_age_seconds
                if figures.heartbeat_age_seconds is not None
                else -1.0
            ),
        )


class _Combined(Collector):
    """The process's counters and the queue gauges, registered as one, so that
    several endpoints in one process (tests) never clash over names."""

    def __init__(self, queue: QueueCollector) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Any]:
        yield from metrics.get().registry.collect()
        yield from self.queue.collect()


def parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"metrics bind must be HOST:PORT or off, got {bind!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


def start(rt: Runtime, bind: str) -> Any:
    """Serve this process's metrics and the queue gauges on HOST:PORT (a thread);
    the server, to shut down."""
    host, port = parse_bind(bind)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Combined(QueueCollector(rt)))
    server, _thread = start_http_server(port, addr=host, registry=registry)
    logger.info("dispatcher metrics on http://%s:%d/metrics", host, port)
    return server
