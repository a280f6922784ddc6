"""Which callback URLs and addresses the gateway may call."""

from __future__ import annotations

import ipaddress

import pytest

from soapsms.domain.callback_target import is_local_name, is_public, split_http_url


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("::ffff:93.184.216.34", True),
        ("224.0.0.1", False),
    ],
)
def test_is_public(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://hooks.example.com/sms", "hooks.example.com"),
        (" http://example.com:8080/x?y=1 ", "example.com"),
        ("ftp://example.com/x", None),
        ("mailto:ops@example.com", None),
        ("https:///nohost", None),
    ],
)
def test_split_http_url(url, host):
    parts = split_http_url(url)
    assert (parts.hostname if parts else None) == host


def test_local_names():
    assert is_local_name("localhost") and is_local_name("api.LOCALHOST.")
    assert not is_local_name("localhost.example.com")
