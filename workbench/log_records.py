"""Taking secrets out of a log record in place: its message, each argument, its traceback.

Shared by the two process-wide redactions (provider keys, ``workbench.gateway.keys``; Streamlit
session ids, ``workbench.web.log_redaction``). Arguments are redacted one by one rather than
flattened into the message, so a formatter that reads ``record.args`` itself (uvicorn's access
log does) keeps working.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

Redact = Callable[[str], str]


def redacted_value(value: Any, redact: Redact) -> Any:
    """A string redacted; an object whose text shows a secret replaced by that text, redacted;
    anything else untouched, so ``%d`` and the like still format."""
    if isinstance(value, str):
        return redact(value)
    if value is None or isinstance(value, int | float):
        return value
    try:
        text = str(value)
    except Exception:
        return value
    cleaned = redact(text)
    return cleaned if cleaned != text else value


def redact_record(record: logging.LogRecord, redact: Redact) -> None:
    record.msg = redacted_value(record.msg, redact)
    if isinstance(record.args, Mapping):
        record.args = {key: redacted_value(value, redact) for key, value in record.args.items()}
    elif isinstance(record.args, tuple):
        record.args = tuple(redacted_value(value, redact) for value in record.args)
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        cleaned = redact(text)
        if cleaned != text:
            record.exc_text = cleaned
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
