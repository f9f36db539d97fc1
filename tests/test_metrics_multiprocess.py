"""With ``PROMETHEUS_MULTIPROC_DIR`` set, ``/metrics`` sums every process that shares the folder.

The real app serves a chat turn sent over its websocket; a second process, started with the same
environment, answers another turn through the gateway on the same database. One scrape of the
app shows both turns, and credits equal to what the journal captured for the two holds: values
kept in the app's memory alone would show one.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.amounts import credits
from ledger.service import Ledger
from tests.browser_harness import MEMBER, ROOT, AppServer, start_app
from tests.observability_harness import (
    app_database,
    hold_ids_after,
    journal_captured,
    last_hold_id,
    member_socket,
    scrape,
    send_chat,
    usage_rows,
)

CHAT = {"model": "demo/chat", "feature": "ai_text_chat"}

# A second process of the same deployment: the gateway, in-process, on the app's database.
_OTHER_PROCESS = """
import sys
from workbench.bootstrap import open_services
from workbench.config import settings
from workbench.gateway.caller import Caller

svc = open_services(settings())
user = svc.ledger.user("member")
workspace = svc.ledger.workspace("demo")
caller = Caller(user.id, workspace.id, workspace.account_id)
turn = svc.gateway.chat(caller, [{"role": "user", "content": sys.argv[1]}], key="other-process-1")
"".join(turn)
assert turn.result is not None and turn.result.status == "ok", turn.result
svc.ledger.close()
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prometheus-multiproc")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, folder: Path) -> Iterator[AppServer]:
    server = start_app(
        tmp_path_factory.mktemp("multiproc-app"),
        stream_delay_s=0.0,
        extra_env={"PROMETHEUS_MULTIPROC_DIR": str(folder)},
    )
    try:
        yield server
    finally:
        server.stop()


def test_one_scrape_sums_every_process(app: AppServer, folder: Path) -> None:
    with app_database(app) as database:
        first_new = last_hold_id(database)
        with member_socket(app) as socket:
            send_chat(socket, "Hello from the browser")
        subprocess.run(
            [sys.executable, "-c", _OTHER_PROCESS, "Hello from another process"],
            cwd=ROOT,
            env=app.env,
            check=True,
            timeout=300,
            capture_output=True,
        )
        made = hold_ids_after(database, first_new)
        rows = usage_rows(database, made)
        captured = journal_captured(database, made)

    assert [row.status for row in rows] == ["ok", "ok"]
    seen = scrape(app)
    assert seen.value("workbench_calls_total", status="ok", **CHAT) == 2
    assert seen.value("workbench_credits_captured_micros_total", **CHAT) == captured > 0
    assert seen.value("workbench_call_latency_seconds_count", **CHAT) == 2
    assert seen.value("workbench_database_up") == 1
    # Each process wrote its own files in the shared folder.
    writers = {path.stem.rpartition("_")[2] for path in folder.glob("counter_*.db")}
    assert len(writers) >= 2, sorted(p.name for p in folder.iterdir())


def test_the_open_holds_come_from_the_database_once(app: AppServer) -> None:
    # In multiprocess mode the gauge is still the database's: one series, not one per process.
    with app_database(app) as database:
        book = Ledger(database)
        demo = book.workspace("demo")
        hold = book.reserve(
            demo.account_id,
            user_id=book.user(MEMBER).id,
            feature_key="ai_text_chat",
            model="demo/chat",
            amount=credits(1),
            key="multiproc-open-1",
        ).hold
        try:
            seen = scrape(app)
        finally:
            book.release(hold.id, reason="test over", key="multiproc-release-1")
    assert seen.text.count("# TYPE workbench_holds_open gauge") == 1
    assert seen.value("workbench_holds_open", **CHAT) == 1
    assert seen.value("workbench_holds_open_micros", **CHAT) == credits(1)
