"""Long commands on a terminal: purge and report show rows, rate and ETA on
stderr when it is a terminal, nothing in pipes; purge asks before deleting."""

from __future__ import annotations

import io
import os
import pty
import subprocess
from datetime import datetime

from soapsms.progress import Progress
from tests.cli_helpers import SOAPSMS, environment, soapsms
from tests.dispatch_helpers import acme_runtime
from tests.test_ops_purge import seed


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_rate_and_eta_on_a_terminal_only():
    terminal, pipe = _Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        shown = Progress("purge messages", stream, interval=0)
        shown.update(2000, 0.25)
        shown.finish()
    assert "purge messages: 2,000 rows, " in terminal.getvalue()
    assert "/s, 25%, ETA 0:00:0" in terminal.getvalue()
    assert pipe.getvalue() == ""


def _on_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run `soapsms argv…` with a pseudo-terminal as stdin, stdout and stderr."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [SOAPSMS, *argv], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the process closed its side
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(30), output.decode(errors="replace")


def test_purge_asks_unless_yes_and_shows_progress_on_a_terminal(sqlite_url):
    with acme_runtime(sqlite_url) as rt:
        for year in (2001, 2002, 2003):
            seed(rt, datetime(year, 1, 1), count=3)
    env = environment(SOAPSMS_DATABASE_URL=sqlite_url, SOAPSMS_LOG_LEVEL="WARNING")

    refused = soapsms("purge", env=env)
    assert refused.code == 2
    assert "confirm with --yes (no terminal to ask)" in refused.error_line()

    piped = soapsms("purge", "--yes", "--batch-size", "2", env=env)
    assert piped.code == 0, piped.err
    assert "messages: 9 rows removed" in piped.out
    assert "\r" not in piped.out + piped.err

    with acme_runtime(sqlite_url.replace(".db", "-2.db")) as rt:
        for year in (2001, 2002, 2003):
            seed(rt, datetime(year, 1, 1), count=3)
    env["SOAPSMS_DATABASE_URL"] = sqlite_url.replace(".db", "-2.db")
    code, shown = _on_a_terminal(["purge", "--yes", "--batch-size", "2"], env)
    assert code == 0, shown
    assert "purge messages: 2 rows, " in shown and "ETA 0:00:" in shown, shown
    assert "messages: 9 rows removed" in shown
