"""Owner-only SQLite files and a WSDL address no Host header can break out
of (issue 14, item 9)."""

from __future__ import annotations

import os
import stat

import requests
from lxml import etree

from soapsms.store.db import make_engine, transaction
from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.conftest import make_settings

SOAP_ADDRESS = "{http://schemas.xmlsoap.org/wsdl/soap/}address"


def test_sqlite_files_are_created_owner_only(tmp_path):
    old = os.umask(0o022)  # a usual login shell's, not systemd's UMask=0077
    try:
        path = tmp_path / "soapsms.db"
        rt = Runtime(make_settings(f"sqlite:///{path}"), engine=None)
        upgrade(rt.engine)
        accounts.create_account(rt, "acme", "s3cret")
        with transaction(rt.engine) as conn:  # -shm and -wal are open now
            conn.exec_driver_sql("SELECT 1")
            files = sorted(p.name for p in tmp_path.iterdir())
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        rt.close()
    finally:
        os.umask(old)
    assert files == [
        "soapsms.db",
        "soapsms.db-shm",
        "soapsms.db-wal",
        "soapsms.db.writer-lock",
    ]
    assert modes == dict.fromkeys(files, 0o600)


def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "soapsms.db"
    path.touch(mode=0o640)
    os.chmod(path, 0o640)  # the operator's choice, e.g. for a backup group
    make_engine(f"sqlite:///{path}").dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def _location(live, host: str, **headers: str) -> str:
    response = requests.get(
        live.url + "/soap?wsdl", headers={"Host": host, **headers}, timeout=10
    )
    assert response.status_code == 200
    root = etree.fromstring(response.content)  # still well-formed XML
    [address] = root.iter(SOAP_ADDRESS)
    assert list(address.attrib) == ["location"]  # nothing injected
    return address.get("location")


def test_a_quote_in_the_host_header_cannot_break_the_wsdl(live):
    location = _location(live, 'evil.example"><x a="1')
    assert location == "http://evil.example%22%3E%3Cx%20a=%221/soap"
    assert _location(live, "sms.example.com:8443") == "http://sms.example.com:8443/soap"


def test_forwarded_hosts_count_only_from_trusted_proxies(live):
    location = _location(
        live, "sms.example.com", **{"X-Forwarded-Host": "evil.example"}
    )
    assert location == "http://sms.example.com/soap"
