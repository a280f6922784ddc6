"""Single large calls, timed from the first byte sent to the last byte received."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import envelopes
import requests


@dataclass(frozen=True)
class Timings:
    """Seconds of each run, and their median."""

    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def call(url: str, action: str, body: bytes) -> tuple[float, bytes]:
    """POST one envelope; (seconds until the whole answer was read, answer)."""
    started = time.perf_counter()
    response = requests.post(
        url + "/soap", data=body, headers=envelopes.headers(action), timeout=120
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(
            f"{action} answered {response.status_code}:\n{response.text}"
        )
    return elapsed, response.content


def check_send(url: str, recipients: int) -> None:
    """One SendMessage must be accepted for every recipient."""
    numbers = [f"+1555{i:07d}" for i in range(recipients)]
    _, answer = call(url, "SendMessage", envelopes.send_message(numbers))
    accepted = envelopes.texts(answer, "AcceptedCount")
    if accepted != [str(recipients)]:
        raise RuntimeError(f"SendMessage accepted {accepted}, not {recipients}")


def send_many(
    url: str, recipients: int, runs: int, after_each: Callable[[], None]
) -> Timings:
    """SendMessage to `recipients` distinct +1555 numbers, `runs` times."""
    body = envelopes.send_message([f"+1555{i:07d}" for i in range(recipients)])
    seconds = []
    for _ in range(runs):
        elapsed, answer = call(url, "SendMessage", body)
        if envelopes.texts(answer, "AcceptedCount") != [str(recipients)]:
            raise RuntimeError("the big SendMessage was not accepted whole")
        seconds.append(elapsed)
        after_each()
    return Timings(seconds)


def get_status(url: str, id_sets: Sequence[Sequence[str]]) -> Timings:
    """GetStatus of each set of existing ids in turn, one call per set."""
    seconds = []
    for ids in id_sets:
        elapsed, answer = call(url, "GetStatus", envelopes.get_status(ids))
        statuses = envelopes.texts(answer, "Status")
        if len(statuses) != len(ids) or "UNKNOWN" in statuses:
            raise RuntimeError("GetStatus did not find every seeded message")
        seconds.append(elapsed)
    return Timings(seconds)
