"""Run the real `soapsms` entry point as a process, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SOAPSMS = str(Path(sys.executable).with_name("soapsms"))


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def error_line(self) -> str:
        """The one line a failing command printed (log lines aside)."""
        lines = [line for line in self.err.splitlines() if line.strip()]
        assert "Traceback" not in self.err, self.err
        return lines[-1] if lines else ""


def environment(**settings: str) -> dict[str, str]:
    """This environment without any SOAPSMS_* setting, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAPSMS_")}
    env.update(settings)
    return env


def soapsms(
    *argv: str,
    env: dict[str, str] | None = None,
    stdin: str = "",
    cwd: Path | None = None,
    timeout: float = 60,
) -> Result:
    """`soapsms argv…` to its end; a hang fails the test at `timeout`."""
    done = subprocess.run(
        [SOAPSMS, *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env if env is not None else environment(),
        cwd=cwd,
        timeout=timeout,
    )
    return Result(done.returncode, done.stdout, done.stderr)
