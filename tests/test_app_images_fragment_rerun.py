"""Changing a widget of the Images page's request form reruns the form only: the server sends
the form's elements again and nothing of the gallery, not one image (before the form was a
fragment, every change re-sent the whole gallery: 2.1-2.4 s with a full one).

Spoken over the app's websocket as Streamlit's frontend speaks it (``tests.streamlit_socket``),
against the real server: a page run, then the rerun a changed "Size" asks for, which names the
form's fragment. AppTest cannot show this: it always runs the whole script.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.browser_harness import MEMBER, AppServer, app_fixture, http_session_token
from tests.images_harness import NO_RATE_LIMIT, seed_server_images
from tests.streamlit_socket import StreamlitSocket, streamlit_socket

app = app_fixture(extra_env=NO_RATE_LIMIT)
CALLS = 6
_ENDS = {
    ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY,
    ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
    ForwardMsg.ScriptFinishedStatus.FINISHED_WITH_COMPILE_ERROR,
}


@pytest.fixture(scope="module")
def seeded(app: AppServer) -> AppServer:
    seed_server_images(app, MEMBER, [f"Call {n}" for n in range(1, CALLS + 1)])
    return app


@pytest.fixture
def socket(seeded: AppServer) -> Iterator[StreamlitSocket]:
    token = http_session_token(seeded, MEMBER)
    with streamlit_socket(seeded.url, cookie=f"workbench_session={token}") as opened:
        yield opened


def until_done(socket: StreamlitSocket) -> list[ForwardMsg]:
    """Everything the server sends until a run (whole or a fragment's) has finished."""
    received: list[ForwardMsg] = []
    while True:
        forward = ForwardMsg()
        forward.ParseFromString(cast(bytes, socket.connection.recv(timeout=60)))
        received.append(forward)
        if forward.WhichOneof("type") == "script_finished" and forward.script_finished in _ENDS:
            return received


def elements(messages: list[ForwardMsg]) -> list[tuple[str, str, ForwardMsg]]:
    """Each new element sent: (its kind, the fragment it belongs to, the message)."""
    return [
        (m.delta.new_element.WhichOneof("type") or "", m.delta.fragment_id, m)
        for m in messages
        if m.WhichOneof("type") == "delta" and m.delta.WhichOneof("type") == "new_element"
    ]


def images_page_hash(socket: StreamlitSocket) -> str:
    navigation = [m for m in socket.run() if m.WhichOneof("type") == "navigation"][-1]
    [page] = [p for p in navigation.navigation.app_pages if p.url_pathname == "images"]
    return str(page.page_script_hash)


def test_changing_the_size_sends_the_form_again_and_no_image(socket: StreamlitSocket) -> None:
    page_hash = images_page_hash(socket)
    first = elements(socket.run(page_hash))  # the page as a person opens it
    assert len([kind for kind, _, _ in first if kind == "imgs"]) == CALLS
    [(_, form, size_message)] = [
        (kind, fragment, m)
        for kind, fragment, m in first
        if kind == "selectbox" and m.delta.new_element.selectbox.label == "Size"
    ]
    assert form, "the request form is not a fragment"
    size = size_message.delta.new_element.selectbox
    assert "512x512" in size.options

    rerun = BackMsg()
    rerun.rerun_script.page_script_hash = page_hash
    rerun.rerun_script.fragment_id = form
    changed = rerun.rerun_script.widget_states.widgets.add()
    changed.id = size.id
    changed.string_value = "512x512"
    socket.connection.send(rerun.SerializeToString())
    after = until_done(socket)

    finished = [m.script_finished for m in after if m.WhichOneof("type") == "script_finished"]
    assert finished[-1] == ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY
    sent = elements(after)
    assert {fragment for _, fragment, _ in sent} == {form}  # the form's elements only
    assert [kind for kind, _, _ in sent if kind in ("imgs", "link_button", "text")] == []
    captions = [m.delta.new_element.markdown.body for kind, _, m in sent if kind == "markdown"]
    assert any("1 × 512x512 standard" in caption for caption in captions), captions
