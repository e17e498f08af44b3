"""Keep API keys and Authorization headers out of every log line.

A logging filter rewrites records before any handler sees them: `sk_test_…` /
`sk_live_…` keys become `sk_test_****`, and `Bearer …` / `Basic …` credentials
become `Bearer ****`. It is attached to the loggers the API and its servers
write through (the app, Werkzeug, gunicorn) and to the root handlers.
"""

from __future__ import annotations

import logging
import re

KEY = re.compile(r"\b(sk_(?:test|live)_)[0-9A-Za-z]+")
CREDENTIALS = re.compile(r"(?i)\b(bearer|basic)(\s+|%20|\+)[A-Za-z0-9+/=._~%-]{6,}")
LOGGERS = ("", "werkzeug", "gunicorn", "gunicorn.error", "gunicorn.access")


def redact(text: str) -> str:
    return CREDENTIALS.sub(r"\1\2****", KEY.sub(r"\1****", text))


class RedactKeys(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the handler's own error path
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


FILTER = RedactKeys()


def install(*extra_loggers: logging.Logger) -> None:
    """Attach the filter (idempotently) to our loggers and every handler they have now."""
    loggers = [logging.getLogger(name) for name in LOGGERS] + list(extra_loggers)
    for logger in loggers:
        if FILTER not in logger.filters:
            logger.addFilter(FILTER)
        for handler in logger.handlers:
            if FILTER not in handler.filters:
                handler.addFilter(FILTER)
