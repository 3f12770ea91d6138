"""JSON logs: one object per line on stderr, for the gateway and for uvicorn."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["ACCESS_LOGGER", "JsonFormatter", "log_config"]

ACCESS_LOGGER: Final = "qprov.gateway.access"

# LogRecord attributes that are not "extra" fields.
_STANDARD: Final = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
    | {"message", "asctime", "taskName", "color_message"}
)


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message and extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(
            (key, value)
            for key, value in vars(record).items()
            if key not in _STANDARD and not key.startswith("_")
        )
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def log_config(level: str) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for uvicorn and qprov: JSON lines on stderr."""
    upper = level.upper()
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "qprov.gateway._logging.JsonFormatter"}},
        "handlers": {"stderr": handler},
        # anything else that logs (libraries) goes out as JSON on stderr as well
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "qprov": {"handlers": ["stderr"], "level": upper, "propagate": False},
            # Python warnings (logging.captureWarnings) as JSON lines too
            "py.warnings": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            # the access log carries each verdict; the library's own line only when debugging
            "qprov.admission": {"level": "DEBUG" if upper == "DEBUG" else "WARNING"},
        },
    }
