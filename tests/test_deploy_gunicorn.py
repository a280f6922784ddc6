"""deploy/gunicorn.conf.py: gunicorn run directly with it, over direct TLS."""

from __future__ import annotations

import base64
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

import requests
import zeep
from zeep.transports import Transport

from soapsms.serve import MULTIPROC_ENV
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.conftest import make_settings
from tests.soap_helpers import AUTH
from tests.test_deploy_nginx import _certificate, _free_port, _stop, _wait
from tests.test_serve_gunicorn import _env

CONF = Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py"
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def _read_conf(monkeypatch, tmp_path: Path, **env: str) -> dict[str, object]:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for name in ("SOAPSMS_WORKERS", "SOAPSMS_BIND", "SOAPSMS_GUNICORN_CERTFILE"):
        monkeypatch.delenv(name, raising=False)
    # Recorded, so that what the file sets is undone after the test.
    monkeypatch.setenv(MULTIPROC_ENV, "")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


def test_workers_follow_the_cores_unless_set(monkeypatch, tmp_path):
    cores = len(os.sched_getaffinity(0))
    conf = _read_conf(monkeypatch, tmp_path)
    assert conf["workers"] == min(cores + 1, 8)
    assert conf["bind"] == "127.0.0.1:8000"
    assert "certfile" not in conf
    assert callable(conf["child_exit"])
    # The workers' metrics meet in a fresh directory unless one is given.
    metrics = Path(os.environ[MULTIPROC_ENV])
    assert metrics.parent == tmp_path and not any(metrics.iterdir())
    assert _read_conf(monkeypatch, tmp_path, SOAPSMS_WORKERS="5")["workers"] == 5


def test_direct_tls_with_the_shipped_config_and_no_secrets_in_the_log(tmp_path):
    """Two workers, TLS, /metrics summed over them, a clean access log."""
    db_url = f"sqlite:///{tmp_path / 'soapsms.db'}"
    runtime = Runtime(make_settings(db_url))
    upgrade(runtime.engine)
    accounts.create_account(runtime, AUTH["AccountId"], AUTH["Password"])
    runtime.close()
    cert, key = _certificate(tmp_path)
    port = _free_port()
    (tmp_path / "metrics").mkdir()
    env = _env(db_url) | {
        MULTIPROC_ENV: str(tmp_path / "metrics"),
        "SOAPSMS_BIND": f"127.0.0.1:{port}",
        "SOAPSMS_WORKERS": "2",
        "SOAPSMS_LOG_LEVEL": "INFO",
        "SOAPSMS_GUNICORN_CERTFILE": str(cert),
        "SOAPSMS_GUNICORN_KEYFILE": str(key),
    }
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [GUNICORN, "-c", str(CONF), "soapsms.wsgi:create_app()"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"https://127.0.0.1:{port}"
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would win over verify
    session.verify = str(cert)

    def healthy() -> bool:
        try:
            return session.get(base + "/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        _wait(healthy, process, "gunicorn", log)
        wsdl = session.get(
            base + "/soap?wsdl&password=hunter2",
            auth=(AUTH["AccountId"], AUTH["Password"]),
            timeout=10,
        )
        assert f'location="{base}/soap"' in wsdl.text
        client = zeep.Client(
            base + "/soap?wsdl", transport=Transport(session=session, timeout=30)
        )
        assert client.service.GetAccount(Auth=AUTH).AccountId == AUTH["AccountId"]
        for _ in range(4):  # whichever worker answers sums both workers' files
            metrics = session.get(base + "/metrics", timeout=10).text
            assert 'operation="GetAccount"' in metrics
    finally:
        _stop(process)
    text = log.read_text()
    assert '"GET /soap" 200' in text and '"POST /soap" 200' in text
    basic = base64.b64encode(f"{AUTH['AccountId']}:{AUTH['Password']}".encode())
    for secret in ("hunter2", AUTH["Password"], basic.decode()):
        assert secret not in text
