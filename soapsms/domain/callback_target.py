"""Which status-callback URLs the gateway may call: http(s), public addresses only."""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def split_http_url(url: str) -> SplitResult | None:
    """The parts of an http(s) URL with a host, or None for anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts


def is_public(address: IPAddress) -> bool:
    """False for loopback, private, link-local and other non-routable addresses,
    which a customer's callback URL must not make the gateway reach."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
    )


def is_local_name(host: str) -> bool:
    """Names that always mean this machine."""
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")
