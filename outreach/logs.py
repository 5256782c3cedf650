"""Logging for the CLI, the worker and the app's server, with secrets redacted at every level.

Libraries log what they hold: python_http_client logs each request's headers (``Authorization:
Bearer SG.…``) and its whole body (customers' names and e-mails) at DEBUG, and a driver's error
may quote a database URL. So every handler we install carries :class:`Redact`, which rewrites each
record before any handler formats it: the secrets this process knows, anything shaped like a
SendGrid key or a bearer token, and the password of any URL. python_http_client itself is held at
WARNING even with ``--debug``: its request lines are personal data, not a debugging aid.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MASK = "********"
# Shorter values would mask ordinary words; a real key or password is longer.
MIN_SECRET_LENGTH = 4
QUIET_LOGGERS = ("python_http_client",)

_PATTERNS = (
    (re.compile(r"(?i)\b(bearer)\s+[^\s'\",}]+"), rf"\1 {MASK}"),
    (re.compile(r"\bSG\.[\w.\-]+"), f"SG.{MASK}"),
    # scheme://user:password@host: up to the last '@', since a password may hold an unencoded one.
    (re.compile(r"(\b[a-z][\w+.\-]*://[^\s:/@'\"]*):[^\s'\"]*@"), rf"\1:{MASK}@"),
)

_known: set[str] = set()
_known_lock = threading.Lock()


def hide(*values: str | None) -> None:
    """Redact these values (a key, a password) from every log line from now on."""
    with _known_lock:
        _known.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)


def redact(text: str) -> str:
    """``text`` with every known secret and every secret-shaped string masked."""
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)  # a longer secret may contain a shorter one
    for value in known:
        text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class Redact(logging.Filter):
    """Rewrites a record's message, traceback and stack in place, before any handler formats them."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure(level: int | str, secrets: Iterable[str | None] = ()) -> None:
    """One stderr handler on the root logger, redacting; called once by each entry point."""
    logging.basicConfig(level=level, format=FORMAT, stream=sys.stderr)
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, Redact) for f in handler.filters):
            handler.addFilter(Redact())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    hide(*secrets)
