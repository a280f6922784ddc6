"""The listener's sliding-minute counters, on a clock the test moves."""

from __future__ import annotations

import pytest

from soapsms.limits import SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("limit", "steps", "expected"),
    [
        # (seconds to move before the event, key) → allowed?
        (2, [(0, "a"), (1, "a"), (1, "a")], [True, True, False]),
        (2, [(0, "a"), (0, "a"), (0, "b")], [True, True, True]),  # keys apart
        (2, [(0, "a"), (30, "a"), (29, "a"), (1, "a")], [True, True, False, True]),
        (1, [(0, "a"), (59.9, "a"), (0.1, "a")], [True, False, True]),
        (0, [(0, "a")] * 5, [True] * 5),  # 0: no limit
    ],
)
def test_sliding_window(limit, steps, expected):
    clock = Clock()
    window = SlidingWindow(limit, clock)
    allowed = []
    for move, key in steps:
        clock.now += move
        allowed.append(window.allow(key))
    assert allowed == expected


def test_refusals_do_not_count():
    clock = Clock()
    window = SlidingWindow(1, clock)
    assert window.allow("a")
    clock.now += 30
    assert not window.allow("a")  # refused: not counted
    clock.now += 30
    assert window.allow("a")  # the first event left the window
