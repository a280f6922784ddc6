"""/metrics: scraped in-process, under `soapsms serve` with two workers
(multiprocess mode), and the dispatcher's own endpoint."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import requests
import sqlalchemy
import zeep
from prometheus_client.parser import text_string_to_metric_families
from zeep.transports import Transport

from soapsms.dispatch import metrics_server
from soapsms.dispatch.worker import Dispatcher
from tests.dispatch_helpers import (
    ScriptedConnector,
    acme_runtime,
    message,
    running,
    send_to,
    status_of,
    wait_for,
)
from tests.soap_helpers import AUTH, fault_code

# `soapsms serve` with two gunicorn workers, as the idempotency test runs it.
from tests.test_serve_gunicorn import gunicorn_url  # noqa: F401


def value(text: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                total += sample.value
    return total


def scrape(url: str) -> str:
    response = requests.get(url + "/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_metrics_show_the_calls_and_messages_a_test_sent(live, account, client):
    before = scrape(live.url)
    client.service.SendMessage(
        Auth=AUTH,
        Message={"Text": "disk full", "RecipientsText": "+17036069996,+17036069997"},
    )
    bad = {"AccountId": "acme", "Password": "wrong"}
    assert fault_code(lambda: client.service.GetAccount(Auth=bad)) == (
        "Client.AuthenticationFailed"
    )
    after = scrape(live.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert (
        delta("soapsms_soap_requests_total", operation="SendMessage", outcome="ok") == 1
    )
    assert (
        delta(
            "soapsms_soap_requests_total",
            operation="GetAccount",
            outcome="Client.AuthenticationFailed",
        )
        == 1
    )
    assert delta("soapsms_soap_faults_total", code="Client.AuthenticationFailed") == 1
    assert delta("soapsms_messages_accepted_total") == 2
    assert delta("soapsms_message_parts_accepted_total") == 2
    assert (
        delta("soapsms_soap_request_duration_seconds_count", operation="SendMessage")
        == 1
    )


def test_metrics_under_gunicorn_add_up_every_worker(gunicorn_url):  # noqa: F811
    served = gunicorn_url
    # Separate connections, so that both workers take some of the calls.
    for n in range(6):
        client = zeep.Client(
            f"{served}/soap?wsdl", transport=Transport(timeout=30, operation_timeout=60)
        )
        client.service.SendMessage(
            Auth=AUTH,
            Message={"Text": f"alert {n}", "RecipientsText": "+17036069996"},
        )
    # Whichever worker answers the scrape, it reads every worker's files.
    for _ in range(4):
        text = scrape(served)
        assert value(text, "soapsms_messages_accepted_total") == 6
        assert (
            value(
                text,
                "soapsms_soap_requests_total",
                operation="SendMessage",
                outcome="ok",
            )
            == 6
        )


def test_dispatcher_endpoint_shows_queue_submits_and_receipts(sqlite_url):
    connector = ScriptedConnector("simulator")
    port = _free_port()
    with acme_runtime(sqlite_url) as rt:
        server = metrics_server.start(rt, f"127.0.0.1:{port}")
        url = f"http://127.0.0.1:{port}"
        try:
            before = scrape(url)
            sent = send_to(rt, "acme", "+17036069996")
            queued = scrape(url)
            assert value(queued, "soapsms_dispatch_queue_depth") == 1
            assert value(queued, "soapsms_store_up") == 1
            message_id = sent.messages[0].message_id
            dispatcher = Dispatcher(rt, {"simulator": connector}, callbacks=False)
            with running(dispatcher):
                wait_for(lambda: status_of(rt, message_id) == "SUBMITTED")
                carrier_id = wait_for(lambda: connector.submitted) and "simulator-1"
                connector.receipt(carrier_id, "DELIVRD")
                wait_for(lambda: status_of(rt, message_id) == "DELIVERED")
                assert message(rt, message_id).parts_delivered == 1
                after = scrape(url)
        finally:
            server.shutdown()
            server.server_close()

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert (
        delta(
            "soapsms_dispatch_submits_total", connector="simulator", result="accepted"
        )
        == 1
    )
    assert (
        delta("soapsms_dispatch_receipts_total", connector="simulator", stat="DELIVRD")
        == 1
    )
    assert (
        delta("soapsms_dispatch_receipt_latency_seconds_count", connector="simulator")
        == 1
    )
    assert delta("soapsms_message_status_changes_total", status="DELIVERED") == 1
    assert value(after, "soapsms_dispatch_queue_depth") == 0
    assert 0 <= value(after, "soapsms_dispatch_heartbeat_age_seconds") < 60


def test_serve_empties_the_metrics_directory_and_marks_dead_workers(
    tmp_path, monkeypatch
):
    from types import SimpleNamespace

    from soapsms import serve

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    fresh, ours = serve.metrics_dir()
    assert ours and not os.listdir(fresh)
    os.rmdir(fresh)

    given = tmp_path / "metrics"
    given.mkdir()
    (given / "counter_4242.db").write_bytes(b"stale")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(given))
    assert serve.metrics_dir() == (str(given), False)
    assert not list(given.iterdir())

    (given / "gauge_livesum_4243.db").write_bytes(b"")
    (given / "counter_4243.db").write_bytes(b"")
    serve.child_exit(None, SimpleNamespace(pid=4243))
    # A dead worker's live gauges go; its counters keep counting in the sum.
    assert [p.name for p in given.iterdir()] == ["counter_4243.db"]


def _web_workers(url: str) -> list[int]:
    """The gunicorn workers of the `soapsms serve` at `url`: forks of its
    master, with the same command line."""
    bind = url.removeprefix("http://").encode()
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if b"serve" in argv and bind in argv:
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return sorted(pid for pid, parent in parents.items() if parent in parents)


def _what_serve_shows(url: str, db_url: str) -> str:
    """For a failure: the messages' statuses, the dispatch lines of /metrics
    and serve's processes."""
    engine = sqlalchemy.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sqlalchemy.text("SELECT status FROM messages")).all()
    engine.dispose()
    lines = [
        line
        for line in scrape(url).splitlines()
        if line.startswith(("soapsms_dispatch", "soapsms_message_status"))
    ]
    processes = subprocess.run(
        ["ps", "-ww", "-eo", "pid,ppid,stat,etime,args"], capture_output=True, text=True
    ).stdout.splitlines()
    serving = [p for p in processes if "soapsms" in p and "postgres:" not in p]
    return "\n".join(
        [f"statuses: {[r[0] for r in rows]}", *lines, "processes:", *serving]
    )


def test_the_web_endpoint_serves_dispatcher_counts_after_a_worker_left(
    gunicorn_url,  # noqa: F811
    db_url: str,
):
    # A worker that ends (SIGTERM: gracefully; its master starts another)
    # leaves through serve's code, being a fork of it: it must not take the
    # metrics directory every other process still writes to.
    leaving = _web_workers(gunicorn_url)[0]
    os.kill(leaving, signal.SIGTERM)
    wait_for(
        lambda: (
            len(workers := _web_workers(gunicorn_url)) == 2 and leaving not in workers
        ),
        timeout=30,
    )
    client = zeep.Client(f"{gunicorn_url}/soap?wsdl")
    client.service.SendMessage(
        Auth=AUTH, Message={"Text": "alert", "RecipientsText": "+17036069996"}
    )

    def submitted() -> str | None:
        text = scrape(gunicorn_url)
        changes = "soapsms_message_status_changes_total"
        return text if value(text, changes, status="SUBMITTED") >= 1 else None

    # Counted by the dispatcher `serve` started, scraped from the web workers.
    try:
        text = wait_for(submitted, timeout=60)
    except AssertionError as exc:
        raise AssertionError(_what_serve_shows(gunicorn_url, db_url)) from exc
    assert value(text, "soapsms_dispatch_submits_total", result="accepted") >= 1
    assert value(text, "soapsms_store_up") == 1
    assert "soapsms_dispatch_queue_depth" in text
    assert 0 <= value(text, "soapsms_dispatch_heartbeat_age_seconds") < 60
