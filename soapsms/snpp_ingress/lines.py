"""SNPP command lines off the socket: bounded, with an idle timeout."""

from __future__ import annotations

import asyncio

from soapsms.errors import LineTooLong

# A command line, with its CRLF; a MESS of 10 UCS-2 parts fits many times over.
MAX_LINE_BYTES = 4096
# Bytes of one oversize line thrown away before hanging up instead.
_MAX_DISCARD = 1024 * 1024


class LineReader:
    """Reads one connection's lines; the stream's limit must be MAX_LINE_BYTES."""

    def __init__(self, reader: asyncio.StreamReader, idle_timeout: float) -> None:
        self.reader = reader
        self.idle_timeout = idle_timeout

    async def read(self) -> str | None:
        """One line without its line end; None at the end of the connection.
        TimeoutError after idle_timeout seconds of silence; errors.LineTooLong
        past the limit."""
        try:
            raw = await asyncio.wait_for(
                self.reader.readuntil(b"\n"), self.idle_timeout
            )
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                return _decode(exc.partial)
            return None
        except asyncio.LimitOverrunError as exc:
            await self._discard(exc.consumed)
            raise LineTooLong(f"a line longer than {MAX_LINE_BYTES} bytes") from None
        return _decode(raw.rstrip(b"\r\n"))

    async def _discard(self, consumed: int) -> None:
        """Throw away the rest of an oversize line; hang up past _MAX_DISCARD."""
        dropped = 0
        while True:
            await asyncio.wait_for(self.reader.readexactly(consumed), self.idle_timeout)
            dropped += consumed
            if dropped > _MAX_DISCARD:
                raise TimeoutError("oversize line never ends")
            try:
                await asyncio.wait_for(self.reader.readuntil(b"\n"), self.idle_timeout)
                return
            except asyncio.LimitOverrunError as exc:
                consumed = exc.consumed


def _decode(raw: bytes) -> str:
    """UTF-8, or Latin-1 from the older tools that send 8-bit text."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")
