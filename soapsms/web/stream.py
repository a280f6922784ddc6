"""A writer function's output as a streamed response body.

The report use case writes to a file object; run in a thread against a
bounded queue, its output reaches the client as it is written, holding at
most QUEUED chunks in memory whatever the report's size.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

QUEUED = 64
CHUNK = 64 * 1024
_DONE = object()


class _Closed(Exception):
    """The client went away: the writer stops."""


class _Pipe:
    """A text file object whose writes are batched into encoded chunks."""

    def __init__(self) -> None:
        self.chunks: queue.Queue[Any] = queue.Queue(maxsize=QUEUED)
        self.buffer: list[str] = []
        self.size = 0
        self.closed = threading.Event()

    def write(self, text: str) -> int:
        self.buffer.append(text)
        self.size += len(text)
        if self.size >= CHUNK:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self.buffer:
            data = "".join(self.buffer).encode()
            self.buffer, self.size = [], 0
            self._put(data)

    def _put(self, item: Any) -> None:
        while True:
            if self.closed.is_set():
                raise _Closed
            try:
                self.chunks.put(item, timeout=0.5)
                return
            except queue.Full:
                continue


def streamed(write: Callable[[Any], Any], first: bytes = b"") -> Iterator[bytes]:
    """Call `write(file)` in a thread; yield what it writes. Its exception,
    if any, is raised here (after what it wrote before failing)."""
    pipe = _Pipe()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            write(pipe)
            pipe.flush()
        except _Closed:
            return
        except BaseException as exc:  # handed to the response's thread
            failure.append(exc)
        try:
            pipe._put(_DONE)
        except _Closed:
            pass

    thread = threading.Thread(target=run, name="web-stream", daemon=True)
    thread.start()
    try:
        if first:
            yield first
        while True:
            item = pipe.chunks.get()
            if item is _DONE:
                break
            yield item
    finally:
        pipe.closed.set()
    if failure:
        raise failure[0]
