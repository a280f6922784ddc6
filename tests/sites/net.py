"""Network namespaces joined by a bridge in a namespace of their own: the
two sites' machines on one host. Needs root and `ip`; addresses are private
to these namespaces, nothing reaches the host's own network."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

SUBNET = "10.77.0"
NOWHERE = "02:00:00:00:00:fe"  # a locally administered MAC no interface has


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", *args], check=check, capture_output=True, text=True, timeout=30
    )


def missing() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is missing"
    return None


class Lan:
    """Namespaces `<prefix>-<host>`, each with `eth0` at 10.77.0.<n> on one bridge."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.hub = f"{prefix}-hub"
        self.hosts: dict[str, str] = {}  # host -> address
        self._made: list[str] = []
        self._partitions: dict[str, list[str]] = {}

    def ns(self, host: str) -> str:
        return f"{self.prefix}-{host}"

    def start(self, hosts: Sequence[str]) -> Lan:
        self._add_ns(self.hub)
        _ip("-n", self.hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.hub, "link", "set", "br0", "up")
        for number, host in enumerate(hosts, start=10):
            ns, port = self.ns(host), f"p{number}"
            self._add_ns(ns)
            _ip("-n", self.hub, "link", "add", port, "type", "veth", "peer", "eth0")
            _ip("-n", self.hub, "link", "set", "eth0", "netns", ns)
            _ip("-n", self.hub, "link", "set", port, "master", "br0")
            _ip("-n", self.hub, "link", "set", port, "up")
            address = f"{SUBNET}.{number}"
            _ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            self.hosts[host] = address
        return self

    def _add_ns(self, ns: str) -> None:
        _ip("netns", "del", ns, check=False)  # a leftover of a killed run
        _ip("netns", "add", ns)
        self._made.append(ns)
        _ip("-n", ns, "link", "set", "lo", "up")

    def _port(self, host: str) -> str:
        return f"p{10 + list(self.hosts).index(host)}"

    def cut(self, host: str) -> None:
        """`host` off the network: its packets go nowhere, nobody is told."""
        _ip("-n", self.hub, "link", "set", self._port(host), "down")

    def heal(self, host: str) -> None:
        _ip("-n", self.hub, "link", "set", self._port(host), "up")

    def partition(self, host: str, peers: Sequence[str]) -> None:
        """`host`'s packets to `peers` go to a MAC address nobody has: dropped
        silently, as by a broken link between them, for old and new
        connections alike (kernel-only: no netfilter or tc needed)."""
        for peer in peers:
            _ip("-n", self.ns(host), "neigh", "replace", self.hosts[peer],
                "lladdr", NOWHERE, "dev", "eth0", "nud", "permanent")  # fmt: skip
        self._partitions[host] = list(peers)

    def unpartition(self, host: str) -> None:
        for peer in self._partitions.pop(host, []):
            _ip("-n", self.ns(host), "neigh", "del", self.hosts[peer], "dev", "eth0",
                check=False)  # fmt: skip

    def command(self, host: str, argv: Sequence[str]) -> list[str]:
        """`argv` run inside `host`'s namespace."""
        return ["ip", "netns", "exec", self.ns(host), *argv]

    def close(self) -> None:
        for ns in reversed(self._made):
            _ip("netns", "del", ns, check=False)
        self._made.clear()

    def __enter__(self) -> Lan:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
