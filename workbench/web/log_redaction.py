"""Streamlit session ids never reach the server log.

A Streamlit session id is a bearer secret: a websocket client that presents one (the third entry
of its ``Sec-WebSocket-Protocol`` header) is reconnected to that session, with whatever the
person had signed in to. Streamlit logs it in warnings ("Session with id … is already connected",
"Ignoring reconnect to …"), at debug level in many places, and in the upload URL
(``/_stcore/upload_file/<session id>/…``) that an access log would show, so anyone who can read
the log could take over a live session.

Session ids are UUIDs (``str(uuid.uuid4())``). A process-wide log record factory replaces every
hyphenated UUID in a record (its message, its arguments, its traceback) with a short fingerprint
(``<id 1a2b3c4d>``, the start of its SHA-256): lines about the same session can still be matched
up, and the id cannot be recovered. The workbench's own identifiers are integers or UUIDs written
without hyphens, so nothing of ours is hidden. Arguments are redacted one by one rather than
flattened into the message (``workbench.log_records``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from typing import Any

from workbench import log_records

UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)


def _fingerprint(match: re.Match[str]) -> str:
    return f"<id {hashlib.sha256(match.group().lower().encode()).hexdigest()[:8]}>"


def redact(text: str) -> str:
    return UUID.sub(_fingerprint, text)


def redact_record(record: logging.LogRecord) -> None:
    log_records.redact_record(record, redact)


def _redacting_factory(base: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = base(*args, **kwargs)
        redact_record(record)
        return record

    return factory


_lock = threading.Lock()
_installed = False


def install() -> None:
    """Redact UUIDs from every log record created in this process from now on (idempotent)."""
    global _installed
    # A flag, not a look at the current factory: the provider keys' redaction wraps the factory
    # too, and each would otherwise see the other on top and wrap again at every rebuild.
    with _lock:
        if not _installed:
            logging.setLogRecordFactory(_redacting_factory(logging.getLogRecordFactory()))
            _installed = True
