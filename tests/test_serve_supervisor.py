"""The companions' supervisor: its restart schedule, and a real companion that
keeps failing restarted with back-off and logged."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from soapsms import supervisor
from soapsms.supervisor import Supervisor, _Companion


class _Exited:
    """A Popen stand-in for a companion that has already exited."""

    pid = 4242
    returncode = 1
    args: list[str] = []

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def poll(self) -> int:
        return 1


def _delays(companion: _Companion, sup: Supervisor, runs: list[float]) -> list[float]:
    """The pauses before each restart when the companion runs `runs[i]` s each time."""
    now, delays = 0.0, []
    companion.started = now
    for ran in runs:
        now += ran
        sup._look_after(companion, now)  # noticed dead: restart scheduled
        assert companion.restart_at is not None
        delays.append(companion.restart_at - now)
        now = companion.restart_at
        sup._look_after(companion, now)  # restarted
        assert companion.restart_at is None and companion.started == now
    return delays


def test_restart_pauses_double_to_30_s_and_reset_after_a_stable_minute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(supervisor.subprocess, "Popen", _Exited)
    sup = Supervisor([])
    companion = _Companion(["dispatch"], {})
    companion.process = _Exited()  # type: ignore[assignment]
    assert _delays(companion, sup, [0.5] * 7) == [1, 2, 4, 8, 16, 30, 30]
    # Ran for a minute: the next failure is treated as a first one.
    assert _delays(companion, sup, [61, 0.5]) == [1, 2]


def test_a_failing_companion_is_restarted_with_back_off_and_logged(
    caplog: pytest.LogCaptureFixture, tmp_path: Any
) -> None:
    # A companion that exits at once: its config file does not exist.
    sup = Supervisor([(["--config", str(tmp_path / "missing.ini"), "smtp"], {})])
    with caplog.at_level(logging.WARNING, logger="soapsms.supervisor"):
        sup.start()
        first = sup.pids()
        try:
            deadline = time.monotonic() + 30
            while "restarting in 2 s" not in caplog.text:
                assert time.monotonic() < deadline, caplog.text
                time.sleep(0.1)
        finally:
            sup.stop()
    assert "exited with code 2; restarting in 1 s" in caplog.text
    assert "restarting companion" in caplog.text
    assert sup.pids() != first  # a new process each time
