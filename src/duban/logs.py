"""Structured logs: one JSON object per line when DUBAN_LOG_FORMAT=json, for a log collector."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("json", "text")


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


def parse_level(raw: str | None) -> int:
    """A log level named in any case (debug, INFO, Warning); ValueError naming DUBAN_LOG_LEVEL otherwise."""
    if not raw or not raw.strip():
        return logging.INFO
    level = logging.getLevelNamesMapping().get(raw.strip().upper())
    if level is None or level == logging.NOTSET:
        raise ValueError(f"DUBAN_LOG_LEVEL: unknown level '{raw}' (use {', '.join(LEVELS)})")
    return level


def parse_format(raw: str | None) -> str:
    """`json`, `text` (in any case), or "" when unset; ValueError naming DUBAN_LOG_FORMAT otherwise."""
    name = (raw or "").strip().lower()
    if name and name not in FORMATS:
        raise ValueError(f"DUBAN_LOG_FORMAT: unknown format '{raw}' (use {' or '.join(FORMATS)})")
    return name


def configure(log_format: str | None, level: str | None = None) -> None:
    """Send duban's logs to stderr, as JSON lines (`json`) or plain lines (`text`); none when unset."""
    name, number = parse_format(log_format), parse_level(level)
    if not name:
        return
    handler = logging.StreamHandler()
    plain = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(JsonFormatter() if name == "json" else plain)
    logger = logging.getLogger("duban")
    logger.handlers[:] = [handler]
    logger.setLevel(number)
    logger.propagate = False
