"""The npm `smpp` package's server as an SMSC we did not write (tests/smsc/npm/smsc.js).

Installed on first use into tests/smsc/npm/node_modules at the version pinned
in tests/smsc/npm/package.json; started on a free loopback port.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.smsc.fault import wait_until

HERE = Path(__file__).parent / "npm"
PINNED = json.loads((HERE / "package.json").read_text())["dependencies"]["smpp"]


class NpmUnavailable(Exception):
    """node or npm is missing (`missing`), or installing the package failed."""

    def __init__(self, reason: str, missing: bool) -> None:
        super().__init__(reason)
        self.missing = missing


def install() -> Path:
    """node, with smpp at the pinned version in tests/smsc/npm/node_modules."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise NpmUnavailable("the npm SMSC needs node and npm", missing=True)
    installed = HERE / "node_modules" / "smpp" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != PINNED:
        done = subprocess.run(
            [
                npm,
                "install",
                "--prefix",
                str(HERE),
                "--no-package-lock",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise NpmUnavailable(
                f"npm install of smpp@{PINNED} failed:\n{done.stderr}", missing=False
            )
    return Path(node)


def ensure_installed() -> Path:
    """install() for a test: skip without node/npm (unless SOAPSMS_REQUIRE=npm)."""
    wanted = {s.strip() for s in os.environ.get("SOAPSMS_REQUIRE", "").split(",")}
    try:
        return install()
    except NpmUnavailable as exc:
        if exc.missing and "npm" not in wanted:
            pytest.skip(str(exc))
        pytest.fail(str(exc))


class NpmSmsc:
    """`node smsc.js`: events from its stdout, commands to its stdin."""

    def __init__(
        self, node: Path, quiet: bool = False, faults: dict[str, Any] | None = None
    ) -> None:
        # faults: smsc.js's --faults (throttling, drops, stalls, receipts, log).
        extra = ["--faults", json.dumps(faults)] if faults else []
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            # --quiet: no line per submit_sm, for the benchmark.
            [str(node), "smsc.js", *(["--quiet"] if quiet else []), *extra],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._read, daemon=True).start()
        listening = wait_until(lambda: self.find("listening"), 20, "npm SMSC to listen")
        self.port: int = listening[0]["port"]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.events.append(json.loads(line))

    def find(self, event: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e["event"] == event]

    def mo(self, **fields: Any) -> None:
        """Have the SMSC send a deliver_sm to every bound session."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps({"cmd": "mo", **fields}) + "\n")
        self.process.stdin.flush()

    def flush(self) -> int:
        """Have the SMSC write out its log; how many deliver_sm await an answer."""
        assert self.process.stdin is not None
        before = len(self.find("flushed"))
        self.process.stdin.write(json.dumps({"cmd": "flush"}) + "\n")
        self.process.stdin.flush()
        done = wait_until(lambda: self.find("flushed")[before:], 10, "SMSC log flush")
        return int(done[0]["pending"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
