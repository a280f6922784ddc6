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
from soapsms.config import split_address
from soapsms.errors import ConfigError
from soapsms.usecases.carriers import carriers
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
        yield from _pauses(self.rt)


def _pauses(rt: Runtime) -> Iterator[GaugeMetricFamily]:
    """Each connector's pause, from the store: beside soapsms_connector_up
    (its bind), so a paused route reads bound but sending nothing."""
    paused = GaugeMetricFamily(
        "soapsms_connector_paused",
        "1 while an operator has paused the connector (no new submissions)",
        labels=["connector"],
    )
    try:
        views = carriers(rt)
    except Exception as exc:  # noqa: BLE001 - a scrape must not fail
        logger.warning("metrics: connector pauses unreadable: %s", exc)
        return
    for view in views:
        paused.add_metric([view.connector], 1 if view.paused else 0)
    yield paused


class _Combined(Collector):
    """The process's counters and the queue gauges, registered as one, so that
    several endpoints in one process (tests) never clash over names."""

    def __init__(self, queue: QueueCollector) -> None:
        self.queue = queue

    def collect(self) -> Iterator[Any]:
        yield from metrics.get().registry.collect()
        yield from self.queue.collect()


def start(rt: Runtime, bind: str) -> Any:
    """Serve this process's metrics and the queue gauges on HOST:PORT (a thread);
    the server, to shut down."""
    host, port = split_address(bind)  # checked at load, or as the flag
    host = host or "127.0.0.1"
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Combined(QueueCollector(rt)))
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on {bind}: {exc.strerror}") from exc
    logger.info("dispatcher metrics on http://%s:%d/metrics", host, port)
    return server
