"""`soapsms serve` under gunicorn with two workers: idempotency across processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import zeep
from sqlalchemy import func, select
from zeep.transports import Transport

from soapsms.serve import THREADS
from soapsms.store.db import make_engine, transaction
from soapsms.store.models import Batch, Message
from tests.soap_helpers import AUTH

SOAPSMS = str(Path(sys.executable).with_name("soapsms"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(db_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SOAPSMS_DATABASE_URL=db_url,
        SOAPSMS_CARRIER="simulator",
        SOAPSMS_ARGON2_TIME_COST="1",
        SOAPSMS_ARGON2_MEMORY_KIB="64",
        SOAPSMS_LOG_LEVEL="WARNING",
    )
    return env


@pytest.fixture
def gunicorn_url(db_url: str, tmp_path: Path) -> Iterator[str]:
    env = _env(db_url)
    subprocess.run([SOAPSMS, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [SOAPSMS, "account", "create", "acme", "--password", "s3cret"],
        env=env,
        check=True,
        capture_output=True,
    )
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:  # the child keeps its own copy of the file
        process = subprocess.Popen(
            [
                SOAPSMS,
                "serve",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--smtp-bind",
                "off",
                "--snpp-bind",
                "off",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(url + "/health", timeout=1).status_code == 200:
                    break
            # A request accepted while the workers still boot (beside the
            # companions, on two cores) may take longer than the read timeout.
            except (requests.ConnectionError, requests.Timeout):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"soapsms serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
        # Shown by pytest only when the test failed: what serve said meanwhile.
        print(f"soapsms serve's log:\n{log.read_text(errors='replace')[-6000:]}")


def test_fifty_parallel_identical_sends_make_one_batch(gunicorn_url, db_url):
    message = {
        "Text": "disk full",
        "RecipientsText": "+17036069996,+17036069997",
        "ClientReference": "INC-50",
    }
    clients = [
        zeep.Client(
            f"{gunicorn_url}/soap?wsdl",
            transport=Transport(timeout=30, operation_timeout=60),
        )
        for _ in range(10)
    ]

    def send(i: int) -> str:
        return clients[i % 10].service.SendMessage(Auth=AUTH, Message=message).BatchId

    with ThreadPoolExecutor(max_workers=50) as pool:
        batch_ids = set(pool.map(send, range(50)))
    assert len(batch_ids) == 1
    engine = make_engine(db_url)
    with transaction(engine) as conn:
        assert conn.scalar(select(func.count()).select_from(Batch)) == 1
        assert conn.scalar(select(func.count()).select_from(Message)) == 2
    engine.dispose()


def test_every_worker_thread_has_a_pooled_connection() -> None:
    # Past the pool, a connection is opened and closed per request.
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")  # not connected
    assert engine.pool.size() >= THREADS
