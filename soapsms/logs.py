"""Log lines in one format for every process (gunicorn's too): text or JSON."""

from __future__ import annotations

import json
import logging
import logging.config
import time
from typing import Any

TEXT = "%(asctime)s %(levelname)s %(name)s %(message)s"
FORMATS = ("text", "json")


class UtcFormatter(logging.Formatter):
    """`2026-12-04T14:18:49.368Z INFO soapsms.serve …`: UTC, ISO 8601, ms."""

    converter = time.gmtime

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 - logging's name
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", self.converter(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


class JsonFormatter(UtcFormatter):
    """One JSON object a line, for log shippers: time, level, logger, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def config(level: str, fmt: str = "text") -> dict[str, Any]:
    """A logging.config dict: the root logger and gunicorn's error and access
    loggers all write to stderr in `fmt`."""
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if fmt == "json" else {"()": UtcFormatter, "format": TEXT}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "soapsms"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"soapsms": formatter},
        "handlers": {"stderr": handler},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            name: {"level": level.upper(), "handlers": [], "propagate": True}
            for name in ("gunicorn.error", "gunicorn.access")
        },
    }


def configure(level: str, fmt: str = "text") -> None:
    """Set up this process's logging (once, at an entry point)."""
    logging.config.dictConfig(config(level, fmt))
