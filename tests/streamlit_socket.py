"""A client for the running app's websocket (``/_stcore/stream``) that speaks as Streamlit's
frontend does, for tests of what an anonymous client can send and what the server then does.

The handshake is the frontend's (``connectToWebSocket`` in Streamlit's bundle): subprotocols
``streamlit``, then the XSRF cookie's value or ``PLACEHOLDER_AUTH_TOKEN``, then, when it
reconnects, the session id it had; an ``Origin`` of the app itself. After that each side sends
protobufs: ``BackMsg`` up (``rerun_script`` starts a run, with widget values when a person typed
or clicked something; ``clear_cache`` clears every Streamlit cache of the process), ``ForwardMsg``
down (``new_session`` carries the session id; a run ends with ``script_finished``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin, Subprotocol

RUN_TIMEOUT_S = 60.0
# A run the script ended early to start another (``st.rerun``, a page switch) is not the end.
_DONE = {
    ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY,
    ForwardMsg.ScriptFinishedStatus.FINISHED_WITH_COMPILE_ERROR,
}


@contextmanager
def streamlit_socket(
    server_url: str, *, session_id: str | None = None, cookie: str | None = None
) -> Iterator[StreamlitSocket]:
    """An open connection to the app at ``server_url``; ``session_id`` asks to be reconnected
    to that session, as the frontend does after a dropped connection."""
    protocols = ["streamlit", "PLACEHOLDER_AUTH_TOKEN", *([session_id] if session_id else [])]
    with connect(
        server_url.replace("http", "ws", 1) + "/_stcore/stream",
        subprotocols=[Subprotocol(p) for p in protocols],
        origin=Origin(server_url),
        additional_headers={"Cookie": cookie} if cookie else None,
        proxy=None,
        max_size=None,
    ) as connection:
        yield StreamlitSocket(connection)


class StreamlitSocket:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        # Known once the first run's ``new_session`` message has arrived.
        self.session_id = ""

    def run(self, page_script_hash: str = "") -> list[ForwardMsg]:
        """Ask for a run of the app's script, as a page load does, and return everything the
        server sent until it finished."""
        message = BackMsg()
        message.rerun_script.query_string = ""
        message.rerun_script.page_script_hash = page_script_hash
        self.connection.send(message.SerializeToString())
        return self.until_finished()

    def send_chat(self, widget_id: str, text: str, page_script_hash: str = "") -> list[ForwardMsg]:
        """What pressing Enter in the chat input ``widget_id`` sends (a run carrying ``text`` as
        the input's value), and everything the server sent until that run, and any rerun it
        asked for, finished."""
        message = BackMsg()
        message.rerun_script.query_string = ""
        message.rerun_script.page_script_hash = page_script_hash
        typed = message.rerun_script.widget_states.widgets.add()
        typed.id = widget_id
        typed.chat_input_value.data = text
        self.connection.send(message.SerializeToString())
        return self.until_finished()

    def clear_cache(self) -> None:
        """What Streamlit's "Clear cache" menu item sends (any client may send it)."""
        message = BackMsg()
        message.clear_cache = True
        self.connection.send(message.SerializeToString())

    def until_finished(self) -> list[ForwardMsg]:
        received: list[ForwardMsg] = []
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                kinds = [m.WhichOneof("type") for m in received]
                raise TimeoutError(f"no end of the run within {RUN_TIMEOUT_S} s: {kinds}")
            forward = ForwardMsg()
            forward.ParseFromString(cast(bytes, self.connection.recv(timeout=remaining)))
            received.append(forward)
            kind = forward.WhichOneof("type")
            if kind == "new_session":
                self.session_id = forward.new_session.initialize.session_id
            if kind == "script_finished" and forward.script_finished in _DONE:
                return received


def page_script_hash(messages: list[ForwardMsg], url_path: str) -> str:
    """The script hash of the page at ``url_path`` (``images``, ``credits``...; the default
    page's is ``""``, the root URL) in the newest navigation the server sent: what a run of that
    page names."""
    navigation = [m for m in messages if m.WhichOneof("type") == "navigation"][-1]
    [page] = [p for p in navigation.navigation.app_pages if p.url_pathname == url_path]
    return str(page.page_script_hash)


def new_elements(messages: list[ForwardMsg]) -> list[Element]:
    """Every element the server sent, in order (``element.WhichOneof("type")`` says its kind:
    ``markdown``, ``alert``, ``chat_input``...)."""
    return [
        m.delta.new_element
        for m in messages
        if m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element"
    ]
