"""Structured logs: one JSON object per line when DUBAN_LOG_FORMAT=json, for a log collector."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, and every `extra=` field of the record."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({key: value for key, value in vars(record).items() if key not in STANDARD})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(log_format: str | None, level: str | None = None) -> None:
    """Send duban's logs to stderr, as JSON lines (`json`) or plain text (anything else); none when unset."""
    if not log_format:
        return
    handler = logging.StreamHandler()
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JsonFormatter() if log_format == "json" else plain)
    logger = logging.getLogger("duban")
    logger.handlers[:] = [handler]
    logger.setLevel(level or "INFO")
    logger.propagate = False
