"""Driving the real app over its websocket and reading what it tells its operators: the metrics at
``/metrics`` and the JSON lines of its console.

A chat turn is sent as Streamlit's frontend sends one: a run of the Chat page, then a rerun whose
widget states carry the message box's value (``chat_input_value``), under the member's session
cookie. An image call is a rerun of the Images page with the prompt typed and Generate pressed.
Both wait until the runs they start have finished, reruns included (``tests.streamlit_socket``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from ledger.schema import entries, holds, usage_records
from tests.browser_harness import MEMBER, AppServer, http_session_token
from tests.streamlit_socket import StreamlitSocket, streamlit_socket

Labels = frozenset[tuple[str, str]]


# --- the websocket ---------------------------------------------------------------------------


@contextmanager
def member_socket(server: AppServer, username: str = MEMBER) -> Iterator[StreamlitSocket]:
    """A websocket session signed in as ``username`` (local sign-in's cookie)."""
    token = http_session_token(server, username)
    with streamlit_socket(server.url, cookie=f"workbench_session={token}") as opened:
        yield opened


def new_elements(messages: list[ForwardMsg], kind: str) -> list[Any]:
    """Each new element of ``kind`` (``chat_input``, ``text_area``…) the server sent."""
    return [
        getattr(m.delta.new_element, kind)
        for m in messages
        if m.WhichOneof("type") == "delta"
        and m.delta.WhichOneof("type") == "new_element"
        and m.delta.new_element.WhichOneof("type") == kind
    ]


def page_hash(socket: StreamlitSocket, url_path: str) -> str:
    navigation = [m for m in socket.run() if m.WhichOneof("type") == "navigation"][-1]
    [page] = [p for p in navigation.navigation.app_pages if p.url_pathname == url_path]
    return str(page.page_script_hash)


def _rerun(page: str) -> BackMsg:
    message = BackMsg()
    message.rerun_script.query_string = ""
    message.rerun_script.page_script_hash = page
    return message


def send_chat(socket: StreamlitSocket, text: str) -> list[ForwardMsg]:
    """Type ``text`` in the Chat page's message box and send it; everything the server sent until
    the reply was saved and shown."""
    page = ""  # Chat is the default page
    [box, *_] = new_elements(socket.run(page), "chat_input")
    message = _rerun(page)
    typed = message.rerun_script.widget_states.widgets.add()
    typed.id = box.id
    typed.chat_input_value.data = text
    socket.connection.send(message.SerializeToString())
    return socket.until_finished()


def generate_image(socket: StreamlitSocket, prompt: str) -> list[ForwardMsg]:
    """Describe the image on the Images page and press Generate."""
    page = page_hash(socket, "images")
    shown = socket.run(page)
    [describe] = [a for a in new_elements(shown, "text_area") if a.label == "Describe the image"]
    [generate] = [b for b in new_elements(shown, "button") if b.label == "Generate"]
    message = _rerun(page)
    typed = message.rerun_script.widget_states.widgets.add()
    typed.id = describe.id
    typed.string_value = prompt
    pressed = message.rerun_script.widget_states.widgets.add()
    pressed.id = generate.id
    pressed.trigger_value = True
    socket.connection.send(message.SerializeToString())
    return socket.until_finished()


# --- /metrics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scrape:
    """One scrape of ``/metrics``: its text and every sample by (name, labels)."""

    text: str
    samples: dict[tuple[str, Labels], float]
    types: dict[str, str]

    def value(self, name: str, **labels: str) -> float:
        """A sample's value; 0 for a series not (yet) there, as Prometheus reads a new counter."""
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def label_values(self) -> set[str]:
        return {value for _, labels in self.samples for _, value in labels}


def parse(text: str) -> Scrape:
    samples: dict[tuple[str, Labels], float] = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return Scrape(text, samples, types)


def scrape(server: AppServer, headers: dict[str, str] | None = None) -> Scrape:
    answer = httpx.get(f"{server.url}/metrics", headers=headers, timeout=30, trust_env=False)
    assert answer.status_code == 200, (answer.status_code, answer.text[:200])
    return parse(answer.text)


def wait_for(server: AppServer, check: Any, timeout_s: float = 20.0) -> Scrape:
    """Scrape until ``check(scrape)`` holds (a call's settlement can land a moment after the page
    run that showed it); the last scrape either way."""
    deadline = time.monotonic() + timeout_s
    seen = scrape(server)
    while not check(seen) and time.monotonic() < deadline:
        time.sleep(0.1)
        seen = scrape(server)
    return seen


# --- the app's database ----------------------------------------------------------------------


@contextmanager
def app_database(server: AppServer) -> Iterator[sa.Engine]:
    engine = sa.create_engine(server.env["WORKBENCH_DATABASE_URL"])
    try:
        yield engine
    finally:
        engine.dispose()


def hold_ids_after(engine: sa.Engine, last_id: int) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(holds.c.id).where(holds.c.id > last_id)).scalars())


def last_hold_id(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(holds.c.id), 0))).scalar())


def journal_captured(engine: sa.Engine, hold_ids: list[int]) -> int:
    """Micro-credits the journal's capture lines took for these holds."""
    with engine.connect() as conn:
        taken = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(entries.c.balance_delta), 0)).where(
                entries.c.kind == "capture", entries.c.hold_id.in_(hold_ids)
            )
        ).scalar()
    return -int(taken or 0)


def usage_rows(engine: sa.Engine, hold_ids: list[int]) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(usage_records)
                .where(usage_records.c.hold_id.in_(hold_ids))
                .order_by(usage_records.c.id)
            )
        )


# --- the console's JSON lines ------------------------------------------------------------------


def json_lines(output: str) -> list[dict[str, Any]]:
    """Every console line that is a JSON object (the log); the others are Streamlit's start-up
    banner and the first admin's password, printed, not logged."""
    lines: list[dict[str, Any]] = []
    for line in output.splitlines():
        if line.startswith("{"):
            parsed = json.loads(line)  # a line that starts like JSON must be JSON
            assert isinstance(parsed, dict)
            lines.append(parsed)
    return lines


def wait_for_line(server: AppServer, check: Any, timeout_s: float = 20.0) -> list[dict[str, Any]]:
    """The console's JSON lines once one of them satisfies ``check`` (the console arrives
    through a pipe, a moment after the server wrote it)."""
    deadline = time.monotonic() + timeout_s
    lines = json_lines(server.output())
    while not any(check(line) for line in lines) and time.monotonic() < deadline:
        time.sleep(0.1)
        lines = json_lines(server.output())
    return lines
