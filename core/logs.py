"""Logging for every Steward process: plain text for a terminal, or one JSON object a line.

``STEWARD_LOG_FORMAT=json`` is for log collectors: each line holds the time, level,
logger and message, plus whatever the code passed in ``extra`` (request id, route,
platform, command, duration), and the traceback of an exception.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

LogFormat = Literal["text", "json"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS = logging.getLogger("steward.access")  # a record per request and command (JSON logs)
_STANDARD = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str, log_format: LogFormat = "text") -> None:
    """Log to stderr at ``level``, as text or JSON lines."""
    handler = logging.StreamHandler()
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # A record per request and command carries ids and durations for collectors; a
    # terminal has uvicorn's access log for that.
    ACCESS.setLevel(logging.NOTSET if log_format == "json" else logging.WARNING)


# Libraries that log request bodies or URLs below WARNING: Bolt logs a refused request's
# whole body (and so a response_url, which works as a credential), httpx every URL.
QUIET_LIBRARIES = ("slack_bolt", "slack_sdk", "httpx", "httpcore", "openai", "urllib3")


def hold_libraries(level: int = logging.WARNING) -> None:
    """Hold the libraries' loggers, and every child logger they made, at ``level``."""
    for name in list(logging.root.manager.loggerDict):
        if name.split(".", 1)[0] in QUIET_LIBRARIES:
            logger = logging.getLogger(name)
            logger.setLevel(max(logger.level, level))
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(level)
