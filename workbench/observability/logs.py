"""The process's log lines: one handler on stderr, JSON objects (or plain text), each carrying the
call's request id, idempotency key and hold id while a call is in progress.

``configure`` runs once per process, from ``workbench/app.py`` as the server starts:

- the root logger gets the one handler, at ``log_level``; the workbench's, the ledger's and
  every library's lines that reach the root go through it;
- Streamlit's loggers do not propagate to the root: each has its own console handler with a text
  format (``streamlit.logger``). Their handler is swapped for ours, also for the loggers
  Streamlit makes later (it makes one per module, as each is first imported), so Streamlit's own
  lines are JSON too. Their levels stay Streamlit's (``logger.level``);
- litellm puts its own stream handlers on its loggers when it is imported: they are removed so
  its lines go through ours, and held at WARNING (at DEBUG litellm logs whole requests, prompts
  included) unless prompts are to be logged;
- Python's warnings become log lines (``py.warnings``).

The redactions (provider keys, ``workbench.gateway.keys``; Streamlit session ids,
``workbench.web.log_redaction``) are log record factories: they clean a record as it is made,
before any filter or formatter sees it. The JSON formatter would format a traceback afresh from
the live exception; it is given the redacted text instead (``JsonLines``).

Prompts and replies are never logged, unless ``log_prompts`` (``WORKBENCH_LOG_PROMPTS=true``) is
set for debugging: the gateway asks ``prompts_logged`` before putting them in a line.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from workbench.config import Settings
from workbench.gateway import keys
from workbench.observability import request_ids
from workbench.web import log_redaction

HANDLER_NAME = "workbench"
LITELLM_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")
# The fields a call adds to its lines (``request_ids.CallIds``), in the order they are shown.
CALL_FIELDS = ("request_id", "idempotency_key", "hold_id")


class CallIdsFilter(logging.Filter):
    """Adds the ids of the call in progress (if any) to a record. Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = request_ids.current()
        if ids is None:
            return True
        for name in CALL_FIELDS:
            value = getattr(ids, name)
            # A value the line gave itself (``extra``) wins.
            if value is not None and getattr(record, name, None) is None:
                setattr(record, name, value)
        return True


class JsonLines(JsonFormatter):
    """One JSON object per line: ``time`` (UTC), ``level``, ``logger``, ``message``, the call's
    ids and whatever the line gave in ``extra``; ``exc_info`` holds a traceback."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_ensure_ascii=False,
            # uvicorn repeats each message with colour codes in ``color_message``; litellm marks
            # the records its filter has seen (``litellm_redacted``, an opaque sentinel).
            reserved_attrs=[*RESERVED_ATTRS, "color_message", "litellm_redacted"],
        )

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and record.exc_text:
            # The redactions left the traceback's cleaned text in ``exc_text``; the base class
            # would format the live exception again, secrets and all.
            exc_info, record.exc_info = record.exc_info, None
            try:
                return super().format(record)
            finally:
                record.exc_info = exc_info
        return super().format(record)


class TextLines(logging.Formatter):
    """``2026-03-10T12:00:00.123Z INFO workbench.gateway: message [request_id=… hold_id=…]``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [f"{name}={getattr(record, name)}" for name in CALL_FIELDS if hasattr(record, name)]
        if not ids:
            return line
        head, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{head} [{' '.join(ids)}]{newline}{rest}"


def handler(log_format: str, stream: Any = None) -> logging.Handler:
    """The workbench's handler: ``stream`` (stderr by default) in ``log_format``."""
    made = logging.StreamHandler(stream if stream is not None else sys.stderr)
    made.set_name(HANDLER_NAME)
    made.setFormatter(JsonLines() if log_format == "json" else TextLines())
    made.addFilter(CallIdsFilter())
    return made


_lock = threading.Lock()
_handler: logging.Handler | None = None
_prompts_logged = False
_streamlit_adopted = False
_litellm_adopted = False


def configure(config: Settings) -> logging.Handler:
    """Send the process's log lines through one handler, as ``config`` says. Calling it again
    replaces that handler (never a second one beside it)."""
    global _handler, _prompts_logged
    with _lock:
        # Before any line is made: a record is redacted as it is created.
        log_redaction.install()
        keys.install_log_redaction()
        made = handler(config.log_format)
        root = logging.getLogger()
        for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
            root.removeHandler(old)
        root.addHandler(made)
        root.setLevel(config.log_level)
        _handler = made
        _prompts_logged = config.log_prompts
        logging.captureWarnings(True)
        _adopt_streamlit_loggers()
    adopt_litellm_loggers()
    return made


def prompts_logged() -> bool:
    """Whether prompts and replies may be put in log lines (``WORKBENCH_LOG_PROMPTS``)."""
    return _prompts_logged


def adopt_litellm_loggers() -> None:
    """Take litellm's lines into the workbench's handler, once litellm has been imported (it adds
    its handlers then). Cheap to call again: the gateway calls it before each provider call, in
    case litellm was imported after ``configure``."""
    global _litellm_adopted
    if _litellm_adopted or "litellm._logging" not in sys.modules:
        return  # the usual case, without taking the lock
    with _lock:
        if _handler is None:
            return
        level = logging.NOTSET if _prompts_logged else logging.WARNING
        for name in LITELLM_LOGGERS:
            logger = logging.getLogger(name)
            for own in list(logger.handlers):
                logger.removeHandler(own)
            logger.propagate = True
            logger.setLevel(level)
        _litellm_adopted = True


def _adopt_streamlit_loggers() -> None:
    """Streamlit's loggers write through the workbench's handler instead of their own."""
    global _streamlit_adopted
    from streamlit import logger as streamlit_logger

    if not _streamlit_adopted:
        # Streamlit sets each logger up in ``setup_formatter`` (new loggers, and all of them again
        # when its configuration is read): ours runs right after it.
        original = streamlit_logger.setup_formatter

        def setup_formatter(logger: logging.Logger) -> None:
            original(logger)
            _use_workbench_handler(logger)

        streamlit_logger.setup_formatter = setup_formatter
        _streamlit_adopted = True
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and hasattr(logger, "streamlit_console_handler"):
            _use_workbench_handler(logger)


def _use_workbench_handler(logger: logging.Logger) -> None:
    """Swap the logger's console handlers (Streamlit's, or uvicorn's own on ``uvicorn``) for the
    workbench's. A logger left with no handler at all was silenced on purpose (Streamlit turns
    uvicorn's access log off that way) and stays silent."""
    console = [h for h in logger.handlers if _writes_to_console(h) and h is not _handler]
    if not console:
        return
    for old in console:
        logger.removeHandler(old)
    if _handler is not None and _handler not in logger.handlers:
        logger.addHandler(_handler)


def _writes_to_console(handler: logging.Handler) -> bool:
    if handler.get_name() == HANDLER_NAME:  # an earlier ``configure``'s
        return True
    stream = getattr(handler, "stream", None)
    return type(handler) is logging.StreamHandler and stream in (sys.stderr, sys.stdout)
