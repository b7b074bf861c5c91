"""Access logs without secrets: the tokens in `/login/<token>`, `/ics/<token>.ics` and `?csrf=` never reach a log.

A personal link signs its holder in for 14 days, so a log line that kept it would let anyone who reads the log
sign in as that official. uvicorn logs each request's path; this filter rewrites it before any handler sees it.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[redacted]"  # ASCII: a log stream may not take more
TOKEN_PATH = re.compile(r"(/(?:login|ics|s)/)[^/?#\s\"]+")  # /s/<code>: a short link signs in too
TOKEN_PARAM = re.compile(r"([?&](?:csrf|token)=)[^&#\s\"]*")
LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """`text` with sign-in and calendar tokens and CSRF tokens replaced by `[redacted]`."""
    return TOKEN_PARAM.sub(r"\1" + REDACTED, TOKEN_PATH.sub(r"\1" + REDACTED, text))


class RedactTokens(logging.Filter):
    """A logging filter that redacts tokens from a record's message and arguments (it drops nothing)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record in place; always keep it."""
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


_FILTER = RedactTokens()


def install() -> None:
    """Put the filter on uvicorn's loggers (once; logging.config.dictConfig keeps a logger's filters)."""
    for name in LOGGERS:
        logging.getLogger(name).addFilter(_FILTER)
