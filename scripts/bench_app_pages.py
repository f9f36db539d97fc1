"""The app benchmark's page runs (scripts/bench_app.py): a signed-in Streamlit session over the
app's websocket, asking for one page's run at a time as the frontend does when a navigation link
is clicked, timed from the request to the run's ``script_finished``.

As the frontend, the client tells the server which cacheable messages it already holds
(``cached_message_hashes``), so a large element sent before comes back as a reference, not again
in full. Every run is checked: the page's title was drawn, no exception, no "Something went wrong"
box (``workbench.ui.chrome.run_page``), no "page not found".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Final, cast

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from tests.streamlit_socket import StreamlitSocket

# A run the script ended early for another (``st.rerun``) is not the end of the page's run.
_DONE: Final = {
    ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY,
    ForwardMsg.ScriptFinishedStatus.FINISHED_WITH_COMPILE_ERROR,
}
FAILED_PAGE: Final = "Something went wrong on this page"


@dataclass
class PageRun:
    """One run of a page: how long from the request to ``script_finished``, what was sent, and
    anything wrong with it."""

    seconds: float
    messages: int = 0
    sent_bytes: int = 0
    headings: list[str] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Session:
    """One signed-in session (``socket`` opened with the session cookie)."""

    def __init__(self, socket: StreamlitSocket) -> None:
        self.socket = socket
        self.cached: set[str] = set()

    def pages(self, timeout_s: float) -> tuple[dict[str, str], PageRun]:
        """The session's first run (its default page), and the navigation it was sent: each
        page's title → its script hash."""
        messages: list[ForwardMsg] = []
        run = self.run("", timeout_s, keep=messages)
        navigation = [m.navigation for m in messages if m.WhichOneof("type") == "navigation"]
        if not navigation:
            raise RuntimeError(f"no navigation in the first run: {run.problems or run.headings}")
        pages = {p.page_name: p.page_script_hash for p in navigation[-1].app_pages}
        return pages, run

    def run(
        self, page_hash: str, timeout_s: float, *, keep: list[ForwardMsg] | None = None
    ) -> PageRun:
        """Ask for a run of the page ``page_hash`` ("" the default) and read until it ended."""
        message = BackMsg()
        message.rerun_script.query_string = ""
        message.rerun_script.page_script_hash = page_hash
        message.rerun_script.cached_message_hashes.extend(sorted(self.cached))
        connection = self.socket.connection
        started = time.perf_counter()
        connection.send(message.SerializeToString())
        run = PageRun(seconds=0.0)
        deadline = started + timeout_s
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"no end of the run within {timeout_s} s")
            data = cast(bytes, connection.recv(timeout=remaining))
            forward = ForwardMsg()
            forward.ParseFromString(data)
            run.messages += 1
            run.sent_bytes += len(data)
            if keep is not None:
                keep.append(forward)
            if forward.metadata.cacheable and forward.hash:
                self.cached.add(forward.hash)
            kind = forward.WhichOneof("type")
            if kind == "delta" and forward.delta.WhichOneof("type") == "new_element":
                _note(run, forward.delta.new_element)
            elif kind == "page_not_found":
                run.problems.append("page not found")
            elif kind == "script_finished" and forward.script_finished in _DONE:
                run.seconds = time.perf_counter() - started
                if forward.script_finished != ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY:
                    run.problems.append("the script did not compile")
                return run


def _note(run: PageRun, element: Element) -> None:
    kind = element.WhichOneof("type")
    if kind == "heading":
        run.headings.append(element.heading.body)
    elif kind == "metric":
        run.metrics[element.metric.label] = element.metric.body
    elif kind == "exception":
        run.problems.append(f"exception {element.exception.type}: {element.exception.message}")
    elif kind == "alert" and FAILED_PAGE in element.alert.body:
        run.problems.append(element.alert.body)
