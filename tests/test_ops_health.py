"""/health: 200 with the queue and the dispatcher's heartbeat, 503 without a store."""

from __future__ import annotations

from datetime import timedelta

import requests

from soapsms.config import Settings
from soapsms.usecases.dispatching import queue as uc
from soapsms.usecases.health import queue_stats
from soapsms.usecases.runtime import Runtime
from tests.conftest import LiveServer, make_settings
from tests.dispatch_helpers import send_to


def test_health_reports_queue_depth_and_heartbeat(live, runtime, account):
    body = requests.get(live.url + "/health", timeout=5).json()
    assert body["status"] == "ok" and body["store"] == "reachable"
    assert body["due"] == 0 and body["oldest_due_age_seconds"] is None
    assert body["heartbeat_age_seconds"] is None and body["dispatchers"] == 0

    send_to(runtime, "acme", "+17036069996", "+17036069997")
    uc.register_dispatcher(
        runtime, "d1", "host", 1, timedelta(seconds=60), exclusive=False
    )
    response = requests.get(live.url + "/health", timeout=5)
    assert response.status_code == 200
    body = response.json()
    assert body["due"] == 2 and body["due_capped"] is False
    assert body["oldest_due_age_seconds"] >= 0
    assert 0 <= body["heartbeat_age_seconds"] < 60 and body["dispatchers"] == 1


def test_queue_depth_stops_counting_at_the_cap(runtime, account):
    send_to(runtime, "acme", *[f"+1703606{n:04d}" for n in range(5)])
    figures = queue_stats(runtime, cap=3)
    assert figures.due == 3 and figures.due_capped


def test_scheduled_messages_are_not_due_yet(runtime, account):
    later = runtime.now() + timedelta(hours=1)
    send_to(runtime, "acme", "+17036069996", scheduled_for=later)
    assert queue_stats(runtime).due == 0


def test_health_is_503_when_the_store_is_unreachable(tmp_path):
    # A SQLite file in a directory that does not exist cannot be opened.
    url = f"sqlite:///{tmp_path / 'missing' / 'soapsms.db'}"
    runtime = Runtime(make_settings(url))
    server = LiveServer(runtime)
    server.thread.start()
    try:
        response = requests.get(server.url + "/health", timeout=5)
        assert response.status_code == 503
        assert response.json()["store"] == "unreachable"
    finally:
        server.__exit__(None, None, None)
        runtime.close()


def test_settings_default_is_seven_years_and_no_text_logging():
    settings = Settings()
    assert settings.retention == "7y"
    assert settings.log_message_text is False
    assert settings.dispatch_metrics_bind == "off"


def test_health_is_503_while_due_messages_wait_for_no_live_dispatcher(
    live, runtime, account
):
    assert requests.get(live.url + "/health", timeout=5).status_code == 200
    send_to(runtime, "acme", "+17036069996")
    response = requests.get(live.url + "/health", timeout=5)
    assert response.status_code == 503
    assert response.json()["status"] == "no dispatcher"
    assert response.json()["store"] == "reachable" and response.json()["due"] == 1
    # A heartbeat older than the lease (dispatch_lease_seconds) is not fresh.
    lease = runtime.settings.dispatch_lease_seconds
    past = Runtime(runtime.settings, engine=runtime.engine)
    past.clock = lambda: runtime.now() - timedelta(seconds=lease + 1)
    uc.register_dispatcher(past, "old", "host", 1, timedelta(hours=1), exclusive=False)
    assert requests.get(live.url + "/health", timeout=5).status_code == 503
    uc.register_dispatcher(
        runtime, "d1", "host", 2, timedelta(seconds=lease), exclusive=False
    )
    response = requests.get(live.url + "/health", timeout=5)
    assert response.status_code == 200 and response.json()["status"] == "ok"
