"""`soapsms serve` as an operator meets it: no carrier configured is said at
start and in /health and sends nothing; a second gateway on a taken port
refuses to start instead of sharing it."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import zeep

from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.cli_helpers import SOAPSMS, environment, soapsms
from tests.conftest import make_settings
from tests.soap_helpers import AUTH, fault_code
from tests.test_serve_gunicorn import _free_port


def test_no_carrier_is_loud_sends_nothing_and_a_second_serve_refuses(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'soapsms.db'}"
    runtime = Runtime(make_settings(url))
    upgrade(runtime.engine)
    accounts.create_account(runtime, AUTH["AccountId"], AUTH["Password"])
    runtime.close()
    env = environment(SOAPSMS_DATABASE_URL=url, SOAPSMS_LOG_LEVEL="INFO")
    bind = f"127.0.0.1:{_free_port()}"
    argv = ["serve", "--bind", bind, "--workers", "1", "--smtp-bind", "off"]
    argv += ["--snpp-bind", "off"]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SOAPSMS, *argv, "--dispatch", "off"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = requests.get(f"http://{bind}/health", timeout=2)
                break
            except (requests.ConnectionError, requests.Timeout):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"soapsms serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        assert "NO CARRIER CONFIGURED" in log.read_text()
        assert health.status_code == 503
        assert health.json()["status"] == "no_carrier"
        assert health.json()["carrier"] == "none configured"
        assert health.json()["store"] == "reachable"

        client = zeep.Client(f"http://{bind}/soap?wsdl")
        code = fault_code(
            lambda: client.service.SendMessage(
                Auth=AUTH, Message={"Text": "hi", "RecipientsText": "+17036069996"}
            )
        )
        assert code == "Client.InvalidRecipient"

        second = soapsms(*argv, env=env, timeout=30)
        assert second.code == 2
        assert f"cannot listen on {bind}" in second.error_line()
        # The first one still answers every call.
        for _ in range(10):
            assert requests.get(f"http://{bind}/health", timeout=5).status_code == 503
        # One format, a timestamp on every log line, access lines included.
        lines = [
            line
            for line in log.read_text().splitlines()
            if line and not line.startswith(("soapsms serving on", "  WSDL"))
        ]
        assert any(' gunicorn.access 127.0.0.1 "GET /health" 503' in s for s in lines)
        for line in lines:
            assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z [A-Z]+ ", line), (
                line
            )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
