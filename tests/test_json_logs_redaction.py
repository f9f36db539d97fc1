"""The log's redactions still hold with the JSON (and text) formatter, and every library's lines
come out through the workbench's one handler.

Each case is a fresh Python process that sets logging up as the app does
(``workbench.observability.logs.configure``) and logs what would leak: a provider key in a
message, in an argument and in a traceback; a Streamlit session id; litellm's and Streamlit's
own lines (which come with handlers of their own). Its stderr is read back whole.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from tests.browser_harness import ROOT

KEY = "sk-test-LEAKY-7d3e9a1c5b2f4e6a"
SESSION_ID = "3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b"

_SCRIPT = """
import logging, sys
from workbench.config import Settings
from workbench.gateway.keys import redactor
from workbench.observability import logs
from workbench.observability.request_ids import CallIds, bound

KEY, SESSION_ID = sys.argv[2], sys.argv[3]
logs.configure(Settings(_env_file=None, log_format=sys.argv[1], log_level="INFO"))
redactor.add([KEY])
log = logging.getLogger("workbench.gateway")
log.info("the provider answered %s", KEY)
log.warning("the key itself: " + KEY)
try:
    raise RuntimeError(f"provider said {KEY}")
except RuntimeError:
    log.exception("call failed")
log.info("session %s reconnected", SESSION_ID)
with bound(CallIds("0123456789abcdef0123456789abcdef", "chat-k1", 7)):
    log.info("inside a call")
log.debug("below the level")

import litellm  # after configure, as when litellm is imported lazily: its handler comes now
from litellm._logging import verbose_logger
logs.adopt_litellm_loggers()
verbose_logger.warning("litellm warns about %s", KEY)
verbose_logger.info("litellm chatter")  # held at WARNING: at DEBUG it logs whole requests

from streamlit.logger import get_logger
get_logger("streamlit.runtime.made_later").warning("session %s is busy", SESSION_ID)
"""


def run(log_format: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, log_format, KEY, SESSION_ID],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stderr


@pytest.fixture(scope="module")
def json_log() -> list[dict[str, Any]]:
    stderr = run("json")
    assert KEY not in stderr and SESSION_ID not in stderr
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert all(isinstance(line, dict) for line in lines)  # every line, not just most
    return lines


def said(lines: list[dict[str, Any]], start: str) -> dict[str, Any]:
    [line] = [line for line in lines if str(line.get("message", "")).startswith(start)]
    return line


def test_a_key_is_redacted_in_messages_and_arguments(json_log: list[dict[str, Any]]) -> None:
    assert said(json_log, "the provider answered")["message"].endswith("[redacted]")
    assert said(json_log, "the key itself")["message"].endswith("[redacted]")


def test_a_key_is_redacted_in_a_traceback(json_log: list[dict[str, Any]]) -> None:
    failed = said(json_log, "call failed")
    assert failed["level"] == "ERROR"
    assert "RuntimeError: provider said [redacted]" in failed["exc_info"]
    assert "Traceback" in failed["exc_info"]


def test_a_session_id_is_fingerprinted(json_log: list[dict[str, Any]]) -> None:
    ours, streamlit = [line for line in json_log if str(line["message"]).startswith("session")]
    assert re.fullmatch(r"session <id [0-9a-f]{8}> reconnected", ours["message"])
    # Streamlit's line, from a logger it made after logging was set up.
    assert streamlit["logger"] == "streamlit.runtime.made_later"
    assert re.fullmatch(r"session <id [0-9a-f]{8}> is busy", streamlit["message"])


def test_a_call_s_ids_are_on_its_lines_only(json_log: list[dict[str, Any]]) -> None:
    inside = said(json_log, "inside a call")
    assert inside["request_id"] == "0123456789abcdef0123456789abcdef"
    assert (inside["idempotency_key"], inside["hold_id"]) == ("chat-k1", 7)
    assert "request_id" not in said(json_log, "the provider answered")
    assert all(line["time"].endswith("+00:00") for line in json_log)


def test_litellm_goes_through_the_one_handler(json_log: list[dict[str, Any]]) -> None:
    warned = said(json_log, "litellm warns")
    assert (warned["logger"], warned["level"]) == ("LiteLLM", "WARNING")
    assert warned["message"].endswith("[redacted]")
    messages = [line.get("message") for line in json_log]
    assert "litellm chatter" not in messages
    assert "below the level" not in messages
    # Once: litellm's own handler would have written it a second time.
    assert sum("litellm warns" in str(m) for m in messages) == 1


def test_the_text_format_keeps_the_redactions_and_the_ids() -> None:
    stderr = run("text")
    assert KEY not in stderr and SESSION_ID not in stderr
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.search(
        rf"^{stamp} INFO workbench.gateway: the provider answered \[redacted\]$", stderr, re.M
    )
    assert re.search(
        r"inside a call \[request_id=0123456789abcdef0123456789abcdef "
        r"idempotency_key=chat-k1 hold_id=7\]$",
        stderr,
        re.M,
    )
    assert "RuntimeError: provider said [redacted]" in stderr
