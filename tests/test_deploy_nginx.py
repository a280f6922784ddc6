"""The shipped nginx site (deploy/nginx/) run by the real nginx, with a throw-away
certificate, in front of `soapsms serve`: SOAP over HTTPS, the WSDL's address,
the client address the allow-list sees, the port-80 rules and the body limit.

The site file is used as shipped except for what a loopback test must change,
each replacement checked to apply exactly once (`_render`): listen ports (free
high ports on 127.0.0.1, IPv6 lines dropped), the upstream address, the
certificate and snippet paths, and, for two of the three nginx instances, the
PLAIN-HTTP-SOAP toggle or the example allow-list switched on by uncommenting
their lines, the way the file tells an operator to.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from requests.adapters import HTTPAdapter
from zeep.transports import Transport

from soapsms.store.migrate import upgrade
from soapsms.usecases import accounts
from soapsms.usecases.runtime import Runtime
from tests.conftest import make_settings
from tests.soap_helpers import AUTH, fault_code
from tests.test_serve_gunicorn import _env

DEPLOY = Path(__file__).resolve().parent.parent / "deploy" / "nginx"
SOAPSMS = str(Path(sys.executable).with_name("soapsms"))
# The client's address as nginx sees it. nginx itself reaches gunicorn from
# 127.0.0.1, so an allow-list that admits only 127.0.0.2 proves the app uses
# the proxy's X-Forwarded-For and not its TCP peer.
CLIENT = "127.0.0.2"
TRUSTED_PROXIES = "127.0.0.1/32"


def _nginx_or_skip(required: frozenset[str]) -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if found:
        return found
    reason = (
        "nginx is not installed: apt-get install -y --no-install-recommends nginx "
        "(.ci/run installs it)"
    )
    if "nginx" in required:
        pytest.fail(f"SOAPSMS_REQUIRE=nginx but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(ready: Any, process: subprocess.Popen[bytes], what: str, log: Path) -> None:
    """Poll `ready()` until true, failing when the process dies or 30 s pass."""
    deadline = time.monotonic() + 30
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{what} did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _healthy(url: str) -> bool:
    try:
        return requests.get(url + "/health", timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False


# --- the application under `soapsms serve` ------------------------------------


@dataclass
class Backend:
    address: str  # HOST:PORT gunicorn listens on
    runtime: Runtime  # the same store, for changing the account's networks


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    tmp = tmp_path_factory.mktemp("backend")
    db_url = f"sqlite:///{tmp / 'soapsms.db'}"
    runtime = Runtime(make_settings(db_url))
    upgrade(runtime.engine)
    accounts.create_account(runtime, AUTH["AccountId"], AUTH["Password"])
    env = _env(db_url) | {"SOAPSMS_TRUSTED_PROXIES": TRUSTED_PROXIES}
    address = f"127.0.0.1:{_free_port()}"
    log = tmp / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SOAPSMS, "serve", "--bind", address, "--workers", "1"]
            + ["--dispatch", "off", "--smtp-bind", "off", "--snpp-bind", "off"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait(lambda: _healthy(f"http://{address}"), process, "soapsms serve", log)
        yield Backend(address, runtime)
    finally:
        _stop(process)
        runtime.close()


# --- nginx with the shipped site ------------------------------------------------


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A throw-away self-signed certificate for 127.0.0.1, its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "soapsms test")])
    now = datetime.now(UTC)
    san = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=2))
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "tls.crt", directory / "tls.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _render(site: str, replacements: list[tuple[str, str]]) -> str:
    for old, new in replacements:
        assert site.count(old) == 1, f"the shipped site no longer has {old!r} once"
        site = site.replace(old, new)
    return site


@dataclass
class Proxy:
    http_port: int
    https_port: int
    ca: Path

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


# Switches an operator turns on by uncommenting lines of the shipped site.
PLAIN_HTTP_SOAP = (("#location ~ ^/soap(12)?/?$", "location ~ ^/soap(12)?/?$"),)
ALLOW_LIST = tuple(
    (f"#{line}", line)
    for line in (
        "allow 192.0.2.0/24;",
        "allow 2001:db8:1234::/48;",
        "allow 127.0.0.1;",
        "deny all;",
    )
)


def _start_nginx(
    nginx: str,
    prefix: Path,
    upstream: str,
    switches: tuple[tuple[str, str], ...],
    connections: int = 64,
) -> Iterator[Proxy]:
    cert, key = _certificate(prefix)
    proxy = Proxy(_free_port(), _free_port(), cert)
    snippet = prefix / "soapsms-proxy.conf"
    shutil.copy(DEPLOY / "soapsms-proxy.conf", snippet)
    replacements = [
        ("listen 80;", f"listen 127.0.0.1:{proxy.http_port};"),
        ("    listen [::]:80;\n", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{proxy.https_port} ssl http2;"),
        ("    listen [::]:443 ssl http2;\n", ""),
        ("server 127.0.0.1:8000;", f"server {upstream};"),
        ("/etc/letsencrypt/live/sms.example.com/fullchain.pem;", f"{cert};"),
        ("/etc/letsencrypt/live/sms.example.com/privkey.pem;", f"{key};"),
        *switches,
    ]
    site = (DEPLOY / "soapsms.conf").read_text()
    site = site.replace("/etc/nginx/snippets/soapsms-proxy.conf", str(snippet))
    (prefix / "soapsms.conf").write_text(_render(site, replacements))
    temp_paths = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx would run its workers as nobody, who cannot enter
    # pytest's private temp directories.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"{user}worker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} warn;\n"
        f"events {{ worker_connections {connections}; }}\n"
        "http {\n"
        f"    access_log {prefix / 'access.log'};\n{temp_paths}\n"
        f"    include {prefix / 'soapsms.conf'};\n}}\n"
    )
    command = [nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
    check = subprocess.run(command + ["-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    log = prefix / "nginx.out"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command + ["-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait(
            lambda: _listening(proxy.http_port) and _listening(proxy.https_port),
            process,
            "nginx",
            log,
        )
        yield proxy
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def nginx_path(required: frozenset[str]) -> str:
    return _nginx_or_skip(required)


def _proxy_fixture(name: str, switches: tuple[tuple[str, str], ...], doc: str) -> Any:
    @pytest.fixture(scope="module", name=name)
    def fixture(
        nginx_path: str, backend: Backend, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Proxy]:
        prefix = tmp_path_factory.mktemp("nginx")
        yield from _start_nginx(nginx_path, prefix, backend.address, switches)

    fixture.__doc__ = doc
    return fixture


proxy = _proxy_fixture("proxy", PLAIN_HTTP_SOAP, "nginx, PLAIN-HTTP-SOAP on.")
default_proxy = _proxy_fixture("default_proxy", (), "nginx, the site as shipped.")
allow_listed = _proxy_fixture("allow_listed", ALLOW_LIST, "nginx, allow-list on.")


# --- clients ------------------------------------------------------------------


class _FromAddress(HTTPAdapter):
    """Connections from a chosen loopback source address."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def _session(proxy: Proxy, headers: dict[str, str] | None = None) -> requests.Session:
    session = requests.Session()
    # Without this, REQUESTS_CA_BUNDLE (and any *_proxy) in the environment
    # would win over the session's own CA (psf/requests#3829).
    session.trust_env = False
    session.verify = str(proxy.ca)
    for scheme in ("http://", "https://"):
        session.mount(scheme, _FromAddress(CLIENT))
    session.headers.update(headers or {})
    return session


def _client(base: str, session: requests.Session) -> zeep.Client:
    return zeep.Client(
        f"{base}/soap?wsdl",
        transport=Transport(session=session, timeout=30, operation_timeout=30),
    )


# --- the tests ------------------------------------------------------------------


def test_soap_call_over_https_and_wsdl_points_back_through_the_proxy(proxy):
    session = _session(proxy)
    wsdl = session.get(f"{proxy.https}/soap?wsdl", timeout=10)
    assert wsdl.status_code == 200
    assert f'location="{proxy.https}/soap"' in wsdl.text
    client = _client(proxy.https, session)
    sent = client.service.SendMessage(
        Auth=AUTH, Message={"Text": "via nginx", "RecipientsText": "+17036069996"}
    )
    assert sent.AcceptedCount == 1
    assert sent.Messages.MessageReceipt[0].Status == "QUEUED"
    assert client.service.GetAccount(Auth=AUTH).AccountId == AUTH["AccountId"]


def test_allow_list_sees_the_client_address_not_the_proxy_or_a_forged_one(
    proxy, backend
):
    client = _client(proxy.https, _session(proxy))
    # The client's own address: allowed.
    accounts.set_networks(backend.runtime, AUTH["AccountId"], [f"{CLIENT}/32"])
    try:
        assert client.service.GetAccount(Auth=AUTH).AccountId == AUTH["AccountId"]
        # Only nginx's address (the app's TCP peer) allowed: the client is not.
        accounts.set_networks(backend.runtime, AUTH["AccountId"], ["127.0.0.1/32"])
        assert (
            fault_code(lambda: client.service.GetAccount(Auth=AUTH))
            == "Client.AccessDenied"
        )
        # A client naming an allowed address in its own X-Forwarded-For gains
        # nothing: nginx replaces the header.
        forged = _client(proxy.https, _session(proxy, {"X-Forwarded-For": "127.0.0.1"}))
        assert (
            fault_code(lambda: forged.service.GetAccount(Auth=AUTH))
            == "Client.AccessDenied"
        )
    finally:
        accounts.set_networks(backend.runtime, AUTH["AccountId"], [])


def test_port_80_redirects_to_https_except_soap_when_toggled_on(proxy):
    session = _session(proxy)
    moved = session.get(f"{proxy.http}/health?probe=1", allow_redirects=False)
    assert moved.status_code == 301
    # The redirect names the standard HTTPS port: the test's port is not 443.
    assert moved.headers["Location"] == "https://127.0.0.1/health?probe=1"
    # With PLAIN-HTTP-SOAP switched on, the SOAP endpoint answers on port 80,
    # and its WSDL points back at plain HTTP.
    wsdl = session.get(f"{proxy.http}/soap?wsdl", allow_redirects=False, timeout=10)
    assert wsdl.status_code == 200
    assert f'location="{proxy.http}/soap"' in wsdl.text
    client = _client(proxy.http, session)
    assert client.service.GetAccount(Auth=AUTH).AccountId == AUTH["AccountId"]


def test_the_site_as_shipped_redirects_soap_on_port_80_too(default_proxy):
    session = _session(default_proxy)
    for path in ("/soap?wsdl", "/soap12"):
        moved = session.get(f"{default_proxy.http}{path}", allow_redirects=False)
        assert moved.status_code == 301
        assert moved.headers["Location"] == f"https://127.0.0.1{path}"
    # Reaches the app: 200, or its 503 "no dispatcher" once the module's
    # earlier tests left messages due (this backend runs with --dispatch off).
    health = session.get(f"{default_proxy.https}/health", timeout=10)
    assert health.json()["store"] == "reachable", health.text


def test_bodies_over_the_apps_limit_are_refused_by_nginx(proxy):
    session = _session(proxy)
    limit = 5 * 1024 * 1024  # Settings.max_body_bytes
    headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": "GetAccount"}
    too_big = session.post(
        f"{proxy.https}/soap", data=b" " * (limit + 1), headers=headers, timeout=30
    )
    assert too_big.status_code == 413
    assert "nginx" in too_big.text  # nginx's own page: gunicorn never saw it
    # At the limit the body gets through to the application, which answers
    # with a SOAP fault for what is not a SOAP envelope.
    at_limit = session.post(
        f"{proxy.https}/soap", data=b" " * limit, headers=headers, timeout=30
    )
    assert at_limit.status_code != 413
    assert "nginx" not in at_limit.text


def test_the_example_allow_list_admits_its_networks_only(allow_listed):
    refused = _session(allow_listed).get(f"{allow_listed.https}/soap?wsdl", timeout=10)
    assert refused.status_code == 403  # from 127.0.0.2: not on the list
    local = requests.Session()
    local.trust_env = False
    local.verify = str(allow_listed.ca)
    admitted = local.get(f"{allow_listed.https}/soap?wsdl", timeout=10)  # 127.0.0.1
    assert admitted.status_code == 200
