"""Which status-callback URLs the gateway may call: http(s), public addresses only."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from soapsms.errors import BadUrl as BadUrl  # raised here; callers name it here

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048
# A DNS name: dot-separated labels of letters, digits, hyphens (and the
# underscores some internal names carry), 253 characters at most.
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
# NAT64: the well-known prefix embeds an IPv4 address in its last 32 bits;
# the local-use prefix and IPv4-compatible addresses reach whatever the
# operator's translator or stack decides, so they are never public.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NEVER = (
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::/96"),
)


def split_http_url(url: str) -> SplitResult | None:
    """The parts of an http(s) URL with a host, or None for anything else."""
    try:
        return check_url(url)
    except BadUrl:
        return None


def check_url(url: str) -> SplitResult:
    """The parts of a complete, callable http(s) URL, or BadUrl: scheme, host
    syntax (a DNS name or an IP literal), port range and length."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise BadUrl(f"longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise BadUrl("contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadUrl(f"not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https"):
        raise BadUrl("not an http or https URL")
    host = parts.hostname
    if not host:
        raise BadUrl("has no host")
    if port is not None and not 1 <= port <= 65535:
        raise BadUrl("port out of range 1-65535")
    if "[" in parts.netloc:
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise BadUrl(f"[{host}] is not an IPv6 address") from exc
    elif not _is_ipv4(host):
        name = host.rstrip(".")
        if len(name) > 253 or not all(_LABEL.match(p) for p in name.split(".")):
            raise BadUrl(f"{host!r} is not a valid host name")
    return parts


def _is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host names literally, or None for a DNS name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_public(address: IPAddress) -> bool:
    """Whether the address is globally reachable by the standard library's
    registries, and so is every IPv4 address embedded in it (IPv4-mapped,
    6to4, Teredo, NAT64): loopback, private, shared (100.64/10), link-local
    and other special ranges must not be reached through a callback URL."""
    if not address.is_global or address.is_multicast:
        return False
    if isinstance(address, ipaddress.IPv4Address):
        return True
    if any(address in net for net in _NEVER):
        return False
    embedded: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        embedded.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)
    if address in _NAT64:
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return all(is_public(inner) for inner in embedded)


def is_local_name(host: str) -> bool:
    """Names that always mean this machine."""
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")
