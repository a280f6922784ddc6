"""STARTTLS with a throw-away self-signed certificate made in the test."""

from __future__ import annotations

import ipaddress
import logging
import smtplib
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from soapsms.errors import ConfigError
from soapsms.smtp_ingress.server import build
from soapsms.usecases.runtime import Runtime
from tests.conftest import make_settings
from tests.smtp_helpers import example, ingress, send
from tests.soap_helpers import AUTH


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[str, str]:
    """(cert.pem, key.pem) for localhost and 127.0.0.1, valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def _trusting(cert: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=cert)


def test_starttls_then_send(runtime, account, client, certificate, caplog):
    caplog.set_level(logging.INFO, logger="soapsms.smtp_ingress.handler")
    cert, key = certificate
    with ingress(runtime, smtp_tls_cert=cert, smtp_tls_key=key) as smtp:
        with smtplib.SMTP("127.0.0.1", smtp.port, "localhost", timeout=30) as conn:
            conn.ehlo()
            assert conn.has_extn("starttls")
            code, _ = conn.starttls(context=_trusting(cert))
            assert code == 220
            assert isinstance(conn.sock, ssl.SSLSocket)
            assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
            conn.ehlo()
            code, text = send(smtp.port, example(), client=conn)
    assert code == 250, text
    assert "tls=yes" in caplog.records[-1].getMessage()
    batch = text.split("batch ")[1].split(":")[0]
    statuses = client.service.GetStatus(Auth=AUTH, BatchId=batch)
    assert [s.Recipient for s in statuses] == ["+17036069996", "+17036069997"]


def test_no_starttls_without_a_certificate(runtime, account):
    with ingress(runtime) as smtp:
        with smtplib.SMTP("127.0.0.1", smtp.port, "localhost", timeout=30) as conn:
            conn.ehlo()
            assert not conn.has_extn("starttls")


def test_required_tls_refuses_mail_before_starttls(
    runtime, account, client, certificate
):
    cert, key = certificate
    settings = {"smtp_tls_cert": cert, "smtp_tls_key": key, "smtp_require_tls": True}
    with ingress(runtime, **settings) as smtp:
        with smtplib.SMTP("127.0.0.1", smtp.port, "localhost", timeout=30) as conn:
            conn.ehlo()
            code, text = conn.mail("ops@example.com")
            assert code == 530 and b"STARTTLS" in text
            conn.starttls(context=_trusting(cert))
            code, text = send(smtp.port, example(), client=conn)
    assert code == 250, text
    page = client.service.ListMessages(Auth=AUTH)
    assert len(page.Messages.MessageStatus) == 2


def test_unreadable_certificate_is_a_config_error(sqlite_url, tmp_path):
    missing = str(tmp_path / "nope.pem")
    settings = make_settings(sqlite_url, smtp_tls_cert=missing, smtp_tls_key=missing)
    runtime = Runtime(settings)
    try:
        with pytest.raises(ConfigError, match="cannot be loaded"):
            build(runtime, "127.0.0.1", 0)
    finally:
        runtime.close()
