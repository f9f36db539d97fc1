"""Streamlit's clear-cache message, which any websocket client may send signed in or not, leaves
the process's services as they were: the same objects, and not one more database connection.

The server side runs the real app and speaks to ``/_stcore/stream`` as the browser does, as an
anonymous client: 60 times "clear cache" then a run of the script (the run is what would rebuild
anything the clear dropped). What it compares from outside the process, before and after: SQLite,
the server process's open file descriptors on the database file (and its ``-wal`` and ``-shm``);
PostgreSQL, the test database's connections in ``pg_stat_activity`` (which server processes, since
when). Both must be exactly the same. In-process, under
``AppTest``, the services a page gets are the very same object after every Streamlit cache is
cleared.

Clearing the cached reads (``workbench/ui/cached_reads.py``: catalogues and conversation lists)
is harmless: they are copies of rows the next run reads again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import streamlit as st

from tests import browser_harness
from tests.app_harness import AppEnv, app_env, assert_no_exception
from tests.browser_harness import AppServer, start_app
from tests.conftest import BACKENDS, POSTGRES_URL, drop_postgres_database, new_postgres_database
from tests.streamlit_socket import streamlit_socket
from workbench.ui import session

CLEARS = 60


def sqlite_connections(server: AppServer) -> set[str]:
    """The server process's open descriptors on its database's files."""
    database = str(server.workdir / "workbench.db")
    found = set()
    for fd in Path(f"/proc/{server.process.pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed since the listing
            continue
        if target.startswith(database):
            found.add(f"fd {fd.name} -> {target}")
    return found


def postgres_connections(database_url: str) -> Callable[[AppServer], set[str]]:
    """The test database's connections, each by its server process and start: services built
    anew would connect anew, even if the old ones' connections were closed meanwhile."""
    name = sa.make_url(database_url).database

    def connections(_server: AppServer) -> set[str]:
        admin = sa.create_engine(sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"))
        try:
            with admin.connect() as conn:
                rows = conn.execute(
                    sa.text(
                        "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = :name"
                    ),
                    {"name": name},
                ).all()
        finally:
            admin.dispose()
        return {f"pid {pid} since {started.isoformat()}" for pid, started in rows}

    return connections


@pytest.fixture(scope="module", params=BACKENDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AppServer, Callable[[AppServer], set[str]]]]:
    """The real app on either backend, and how to count its database connections."""
    workdir = tmp_path_factory.mktemp(f"cache-clear-{request.param}")
    if request.param == "sqlite":
        server = start_app(workdir)
        try:
            yield server, sqlite_connections
        finally:
            server.stop()
        return
    database_url = new_postgres_database()
    make_env = browser_harness.app_env

    def on_postgres(*args: Any, **kwargs: Any) -> dict[str, str]:
        return {**make_env(*args, **kwargs), "WORKBENCH_DATABASE_URL": database_url}

    # The harness always builds a SQLite app; this module needs the same app on PostgreSQL.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(browser_harness, "app_env", on_postgres)
        server = start_app(workdir)
    try:
        yield server, postgres_connections(database_url)
    finally:
        server.stop()
        drop_postgres_database(database_url)


def test_sixty_anonymous_cache_clears_open_no_connection(
    served: tuple[AppServer, Callable[[AppServer], set[str]]],
) -> None:
    server, connections = served
    with streamlit_socket(server.url) as client:
        # A few runs first, so whatever a run needs (its pooled connections) is already open.
        for _ in range(3):
            client.run()
        before = connections(server)
        assert before, "sees none of the app's connections: it would prove nothing"
        for _ in range(CLEARS):
            client.clear_cache()
            messages = client.run()
            assert any(m.WhichOneof("type") == "delta" for m in messages)
        after = connections(server)
    assert after == before, f"after {CLEARS} clears: {sorted(before)} became {sorted(after)}"
    assert server.process.poll() is None


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def test_clearing_every_streamlit_cache_keeps_the_same_services(env: AppEnv) -> None:
    at = env.signed_in(env.member)
    assert_no_exception(at)
    shared = session.services()
    pool: Any = shared.ledger.engine.pool
    opened = pool.checkedin() + pool.checkedout()
    for _ in range(CLEARS):
        st.cache_data.clear()
        st.cache_resource.clear()
        at.run()
        assert_no_exception(at)
        assert session.services() is shared
    assert pool.checkedin() + pool.checkedout() == opened
