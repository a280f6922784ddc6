"""Prometheus metric definitions, shared by the adapters and the use cases.

Metrics are created on first use in each process, not at import: under
gunicorn the master imports soapsms before `soapsms serve` has set
PROMETHEUS_MULTIPROC_DIR, and a metric built then would count in memory
where the multiprocess collector never looks. Each process gets its own
registry, so the in-process test server and the dispatcher can expose it
directly; under gunicorn /metrics reads every worker's files instead.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_RECEIPT_BUCKETS = (1, 5, 15, 30, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)


def multiproc_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def _choose_value_class() -> None:
    """prometheus_client chose its value class at import, maybe before the
    directory was set; choose again now that it is. The one use of its
    `values` module's internals (tests/test_ops_metrics_library.py holds it)."""
    if multiproc_dir() and values.ValueClass is values.MutexValue:
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


class Metrics:
    """Every metric soapsms keeps; one instance per process (see `get`)."""

    def __init__(self) -> None:
        _choose_value_class()
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.soap_requests = Counter(
            "soapsms_soap_requests",
            "SOAP calls by operation and outcome (ok or the fault code)",
            ["operation", "outcome"],
            registry=r,
        )
        self.soap_duration = Histogram(
            "soapsms_soap_request_duration_seconds",
            "SOAP call duration by operation",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.soap_faults = Counter(
            "soapsms_soap_faults", "SOAP faults by fault code", ["code"], registry=r
        )
        self.messages_accepted = Counter(
            "soapsms_messages_accepted",
            "Messages (one per recipient) stored by SendMessage or e-mail",
            registry=r,
        )
        self.parts_accepted = Counter(
            "soapsms_message_parts_accepted",
            "SMS parts of the messages accepted",
            registry=r,
        )
        self.smtp_mails = Counter(
            "soapsms_smtp_mails",
            "Mails taken by the SMTP ingress",
            ["outcome"],
            registry=r,
        )
        self.snpp_sends = Counter(
            "soapsms_snpp_sends",
            "SEND commands answered by the SNPP ingress",
            ["outcome"],
            registry=r,
        )
        self.status_changes = Counter(
            "soapsms_message_status_changes",
            "Messages that moved into a status (a rate per status; never a row count)",
            ["status"],
            registry=r,
        )
        self.submits = Counter(
            "soapsms_dispatch_submits",
            "Submissions answered by a connector, by result",
            ["connector", "result"],
            registry=r,
        )
        self.submit_latency = Histogram(
            "soapsms_dispatch_submit_latency_seconds",
            "From handing a message to a connector to its answer",
            ["connector"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.receipts = Counter(
            "soapsms_dispatch_receipts",
            "Delivery receipts received, by connector and stat",
            ["connector", "stat"],
            registry=r,
        )
        # livemax: with several dispatchers, a route is up when any live one
        # has it bound; a dead dispatcher's value goes with it.
        self.connector_up = Gauge(
            "soapsms_connector_up",
            "1 while a dispatcher has the connector bound and taking submissions",
            ["connector"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.receipt_latency = Histogram(
            "soapsms_dispatch_receipt_latency_seconds",
            "From a part's submission to its final receipt",
            ["connector"],
            buckets=_RECEIPT_BUCKETS,
            registry=r,
        )


_lock = threading.Lock()
_current: Metrics | None = None


def _forget() -> None:
    global _current, _lock
    _current = None
    _lock = threading.Lock()  # another thread may have held it at the fork


# A forked child (a gunicorn worker) counts on its own registry.
os.register_at_fork(after_in_child=_forget)


def get() -> Metrics:
    """This process's metrics."""
    global _current
    current = _current
    if current is None:
        with _lock:
            current = _current
            if current is None:
                current = _current = Metrics()
    return current


def exposition(extra: Callable[[CollectorRegistry], None] | None = None) -> bytes:
    """The text format: every process's metrics in multiprocess mode, this
    process's otherwise; `extra` may register collectors computed at scrape time."""
    if multiproc_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = get().registry
    if extra is None:
        return generate_latest(registry)
    combined = CollectorRegistry()
    extra(combined)
    return generate_latest(registry) + generate_latest(combined)
