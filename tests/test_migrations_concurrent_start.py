"""Replicas starting at once on one empty PostgreSQL database, as a deployment rolls them out:
real processes, each the command line's ``workbench ledger migrate`` (migrate both trees, seed the
catalogue and the offers) or the app's own start-up (``bootstrap.services()``, which the
``st.App`` lifespan runs before the first request: the same, then the first admin). Every one
starts, the schema is at head once, and what start-up seeds is there once.

To make them meet, the test holds the migration lock (``ledger.db.MIGRATION_LOCK``) while the
processes start, waits until every one of them is queued on an advisory lock of the database
(``pg_locks``), then lets go: they all reach the schema in the same instant, as replicas
started together do.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from ledger import db
from ledger.pricing import load_catalogue
from ledger.schema import catalogue_switches, price_versions, users, workspaces
from tests.browser_harness import PASSWORD_LINE, app_env
from tests.conftest import ROOT
from workbench.auth.local_logins import verify_password
from workbench.billing.offers import load_file
from workbench.db import schema
from workbench.db.migrate import Revisions, revisions, start_up_lock
from workbench.db.schema import local_logins, offers
from workbench.gateway import catalogue as model_catalogue

pytestmark = pytest.mark.postgres

DATA = ROOT / "data"
MIGRATORS = 6
APP_STARTS = 4
# Only a guard against a hang: how long the processes may take to queue on the lock (their
# imports, on a busy machine), and to finish.
QUEUE_TIMEOUT_S = 180.0
FINISH_TIMEOUT_S = 180.0


def head(location: Path) -> str | None:
    return ScriptDirectory.from_config(db.alembic_config(location=location)).get_current_head()


HEADS = Revisions(ledger=head(db.MIGRATIONS), app=head(schema.MIGRATIONS))
MIGRATE = [sys.executable, "-m", "workbench", "ledger", "migrate"]
APP_START_UP = [
    sys.executable,
    "-c",
    "from workbench import bootstrap; bootstrap.services(); bootstrap.shutdown()",
]


@dataclass(frozen=True)
class Finished:
    status: int
    output: str


def waiting_on_locks(engine: sa.Engine, database: str) -> int:
    """Sessions of ``database`` queued on an advisory lock."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = :name"
                ),
                {"name": database},
            ).scalar_one()
        )


@contextmanager
def migration_lock_held(engine: sa.Engine) -> Iterator[None]:
    """The migration lock, held by this test until the block ends (a session lock, on a
    connection in autocommit mode)."""
    key = {"key": db.MIGRATION_LOCK}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), key)
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), key)


def start_together(command: list[str], count: int, url: str, workdir: Path) -> list[Finished]:
    """``count`` processes running ``command`` on the database at ``url``, released together
    once all of them are queued on its locks; what each printed and its exit status."""
    env = app_env(workdir, stream_delay_s=0.0, balance_refresh_s=5.0, database_url=url)
    engine = db.create_engine(url, pool_size=2)
    database = str(sa.make_url(url).database)
    processes: list[subprocess.Popen[str]] = []
    try:
        with migration_lock_held(engine):
            processes += [
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
                for _ in range(count)
            ]
            deadline = time.monotonic() + QUEUE_TIMEOUT_S
            queued = 0
            while queued < count and time.monotonic() < deadline:
                exited = [p for p in processes if p.poll() is not None]
                if exited:  # one did not wait for the schema: it cannot have started right
                    break
                time.sleep(0.1)
                queued = waiting_on_locks(engine, database)
        finished = []
        for process in processes:
            output, _ = process.communicate(timeout=FINISH_TIMEOUT_S)
            finished.append(Finished(process.returncode, output))
    finally:
        for process in processes:
            if process.poll() is None:  # only after a failure above
                process.kill()
                process.wait()
        engine.dispose()
    assert queued == count, (
        f"only {queued} of {count} processes queued on the database's locks: "
        f"{[f.output[-600:] for f in finished if f.status != 0]}"
    )
    return finished


def rows(url: str, query: sa.Select[tuple[object, ...]]) -> list[sa.Row[tuple[object, ...]]]:
    engine = db.create_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return list(conn.execute(query))
    finally:
        engine.dispose()


def version_rows(url: str, table: str) -> list[str]:
    found = rows(url, sa.select(sa.column("version_num")).select_from(sa.table(table)))
    return [str(row[0]) for row in found]


def test_migrations_started_together_all_succeed_and_run_once(
    postgres_url: str, tmp_path: Path
) -> None:
    finished = start_together(MIGRATE, MIGRATORS, postgres_url, tmp_path)

    failed = [f.output for f in finished if f.status != 0]
    assert failed == [], failed
    assert all(f"schema at revision {HEADS}" in f.output for f in finished)
    engine = db.create_engine(postgres_url, pool_size=1)
    try:
        assert revisions(engine) == HEADS
    finally:
        engine.dispose()
    # One row per version table: the schema was brought to head, not stamped twice.
    assert version_rows(postgres_url, "alembic_version") == [HEADS.ledger]
    assert version_rows(postgres_url, schema.VERSION_TABLE) == [HEADS.app]
    # Seeded once: version 1 of every catalogue price, a first switch per model, each offer.
    prices = rows(postgres_url, sa.select(price_versions.c.model, price_versions.c.version))
    assert sorted(prices) == sorted(
        (price.model, 1) for price in load_catalogue(DATA / "prices.toml")
    )
    switches = rows(
        postgres_url,
        sa.select(catalogue_switches.c.key).where(catalogue_switches.c.kind == "model"),
    )
    models = model_catalogue.load(DATA / "models.toml")
    assert sorted(row.key for row in switches) == sorted(entry.id for entry in models.entries)
    seeded = rows(postgres_url, sa.select(offers.c.kind, offers.c.id))
    files = load_file(DATA / "credit_packs.toml", "pack") + load_file(DATA / "plans.toml", "plan")
    assert sorted(seeded) == sorted((offer.kind, offer.id) for offer in files)


def test_app_start_ups_together_all_start_with_one_first_admin(
    postgres_url: str, tmp_path: Path
) -> None:
    finished = start_together(APP_START_UP, APP_STARTS, postgres_url, tmp_path)

    failed = [f.output for f in finished if f.status != 0]
    assert failed == [], failed
    announced = [found.group(1) for f in finished if (found := PASSWORD_LINE.search(f.output))]
    assert len(announced) == 1, f"{len(announced)} processes announced a first admin"
    # One login, the admin's, and the password that was printed is the one it has.
    [login] = rows(
        postgres_url,
        sa.select(users.c.username, local_logins.c.password_hash).join(
            users, users.c.id == local_logins.c.user_id
        ),
    )
    assert login.username == "admin"
    assert verify_password(announced[0], login.password_hash)
    assert [row.slug for row in rows(postgres_url, sa.select(workspaces.c.slug))] == ["demo"]


def test_the_start_up_lock_lets_one_holder_in_at_a_time(postgres_url: str) -> None:
    """What the start-up work runs under: one holder at a time across connections (threads here,
    each on its own pooled connection), re-entrant within a thread, and let go afterwards."""
    engine = db.create_engine(postgres_url, pool_size=8)
    guard = threading.Lock()
    inside: list[int] = []
    most_inside = 0
    entered: list[int] = []
    barrier = threading.Barrier(4)

    def take_turn(n: int) -> None:
        nonlocal most_inside
        barrier.wait()
        with start_up_lock(engine), start_up_lock(engine):  # the nested one passes through
            with guard:
                inside.append(n)
                entered.append(n)
                most_inside = max(most_inside, len(inside))
            time.sleep(0.05)  # room for another thread to get in, were the lock not there
            with guard:
                inside.remove(n)

    threads = [threading.Thread(target=take_turn, args=(n,)) for n in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=FINISH_TIMEOUT_S)
        assert sorted(entered) == [0, 1, 2, 3]
        assert most_inside == 1
        database = str(sa.make_url(postgres_url).database)
        with engine.connect() as conn:
            held = conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                    "WHERE l.locktype = 'advisory' AND d.datname = :name"
                ),
                {"name": database},
            ).scalar_one()
        assert held == 0
    finally:
        engine.dispose()
