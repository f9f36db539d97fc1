"""The analytics mirror: a DuckDB file with a columnar copy of the ledger's ``usage_records``,
small dimension tables (``users``: id, username; ``workspaces``: id, slug) and the daily rollup
(``workbench.analytics.rollups``).

``sync`` copies the usage rows added since the last sync. Usage rows are append-only, so the
mirror keeps a watermark (the highest id copied) and reads only ``id > watermark``, in batches
through SQLAlchemy, as Arrow tables inserted into DuckDB (the duckdb wheel cannot load its SQLite
or PostgreSQL scanners offline). Each batch, its rollup and the new watermark commit in one DuckDB
transaction, so an interrupted sync resumes where it stopped and never counts a row twice.

On PostgreSQL ids come from a sequence when a row is inserted, not when it commits: a transaction
still open when a later id has committed leaves a hole below the watermark that fills in a moment
later. ``sync`` remembers such holes for ``GAP_PATIENCE_S`` and looks them up again on each sync
(a few primary-key reads); ids rolled back for good simply expire.

Usage retention removes old rows from the database and keeps their daily sums there; each sync
also takes in the days a purge changed since the last one (``purged_days.catch_up``): their raw
copies here go too, and their rollup becomes those sums plus the rows still kept.

One writer at a time: syncs of the same file in one process queue on a lock keyed by the file's
path. Every call opens its own DuckDB connection and closes it; nothing is shared between calls.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type information
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ledger.db import read_only_connection
from ledger.schema import usage_records, users, workspaces
from workbench.analytics import purged_days, rollups
from workbench.analytics.errors import AnalyticsError

DEFAULT_PATH: Final = Path("data/analytics.duckdb")
BATCH_SIZE: Final = 50_000
# How long a hole below the watermark is looked for again (an uncommitted PostgreSQL insert).
GAP_PATIENCE_S: Final = 600.0
# At most this many holes are remembered (the newest); more means ids rolled back in bulk.
MAX_GAPS: Final = 10_000
# How long to wait for another process holding the DuckDB file.
CONNECT_TIMEOUT_S: Final = 10.0

# The mirror's copy of ``usage_records``: every column, in the ledger's order.
USAGE_COLUMNS: Final[dict[str, tuple[str, Any]]] = {
    "id": ("BIGINT PRIMARY KEY", pa.int64()),
    "created_at": ("TIMESTAMPTZ NOT NULL", pa.timestamp("us", tz="UTC")),
    "user_id": ("INTEGER NOT NULL", pa.int32()),
    "workspace_id": ("INTEGER NOT NULL", pa.int32()),
    "account_id": ("INTEGER NOT NULL", pa.int32()),
    "hold_id": ("INTEGER", pa.int32()),
    "feature_key": ("VARCHAR NOT NULL", pa.string()),
    "operation_type": ("VARCHAR NOT NULL", pa.string()),
    "model": ("VARCHAR NOT NULL", pa.string()),
    "provider": ("VARCHAR NOT NULL", pa.string()),
    "status": ("VARCHAR NOT NULL", pa.string()),
    "input_tokens": ("BIGINT NOT NULL", pa.int64()),
    "output_tokens": ("BIGINT NOT NULL", pa.int64()),
    "cached_tokens": ("BIGINT NOT NULL", pa.int64()),
    "images": ("BIGINT NOT NULL", pa.int64()),
    "image_size": ("VARCHAR", pa.string()),
    "image_quality": ("VARCHAR", pa.string()),
    "credits": ("BIGINT NOT NULL", pa.int64()),
    "usd_cost_nanos": ("BIGINT", pa.int64()),
    "price_version_id": ("INTEGER", pa.int32()),
    "latency_ms": ("INTEGER", pa.int32()),
    "ttft_ms": ("INTEGER", pa.int32()),
    "error_type": ("VARCHAR", pa.string()),
    "error_message": ("VARCHAR", pa.string()),
    "idempotency_key": ("VARCHAR", pa.string()),
}

_DDL: Final = [
    "CREATE TABLE IF NOT EXISTS usage ("
    + ", ".join(f"{name} {sql}" for name, (sql, _) in USAGE_COLUMNS.items())
    + ")",
    "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, username VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS workspaces (id INTEGER PRIMARY KEY, slug VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sync_state (watermark BIGINT NOT NULL, synced_at TIMESTAMPTZ)",
    "CREATE TABLE IF NOT EXISTS pending_gaps (id BIGINT PRIMARY KEY, seen_at DOUBLE NOT NULL)",
    rollups.DDL,
    purged_days.DDL,
]

_USAGE_SCHEMA: Final = pa.schema([(name, arrow) for name, (_, arrow) in USAGE_COLUMNS.items()])
_SELECT_USAGE: Final = sa.select(*(usage_records.c[name] for name in USAGE_COLUMNS))


@dataclass(frozen=True)
class SyncReport:
    """What one ``sync`` did: rows copied, the watermark after it, and how long it took."""

    rows_added: int
    watermark: int
    seconds: float


_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path.resolve(), threading.Lock())


# Opening a DuckDB file costs about 20 ms (a new database instance), and a page run makes a dozen
# queries: so one instance per mirror file is kept in this process while it is in use and for
# KEEP_OPEN_S after, and every caller gets a cursor of its own (its own connection to that
# instance, never shared). Idle, the file is closed again, so another process (the command line,
# a benchmark) can open it.
KEEP_OPEN_S: Final = 5.0


class _Keeper:
    """One mirror file's database instance in this process, and who is using it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.base: Any = None
        self.users = 0
        self.timer: threading.Timer | None = None

    def acquire(self, path: Path, timeout_s: float) -> Any:
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.base is None:
                self.base = _open(path, timeout_s)
            self.users += 1
            return self.base.cursor()

    def release(self) -> None:
        with self.lock:
            self.users -= 1
            if self.users == 0:
                self.timer = threading.Timer(KEEP_OPEN_S, self._close_if_idle)
                self.timer.daemon = True
                self.timer.start()

    def _close_if_idle(self) -> None:
        with self.lock:
            if self.users == 0 and self.base is not None:
                self.base.close()
                self.base = None
            self.timer = None

    def shutdown(self) -> None:
        """Close now, in the calling thread (at exit: a timer thread must not be inside DuckDB
        while the interpreter finalizes, or the process aborts)."""
        with self.lock:
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            if self.base is not None:
                self.base.close()
                self.base = None


_keepers: dict[Path, _Keeper] = {}


@atexit.register
def _close_all() -> None:
    with _locks_guard:
        keepers = list(_keepers.values())
    for keeper in keepers:
        keeper.shutdown()


def _keeper(path: Path) -> _Keeper:
    with _locks_guard:
        return _keepers.setdefault(path.resolve(), _Keeper())


def _open(path: Path, timeout_s: float) -> Any:
    """The file's database instance; waits up to ``timeout_s`` for another process that holds
    the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as error:
            if time.monotonic() >= deadline:
                raise AnalyticsError(
                    f"the analytics mirror {path} is busy in another process; try again shortly"
                ) from error
            time.sleep(0.05)


@contextmanager
def connect(path: Path | str, *, timeout_s: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """A connection of its own to the mirror at ``path``, in UTC, closed on exit (the file's
    database instance is kept open a few seconds for the next caller)."""
    keeper = _keeper(Path(path))
    con = keeper.acquire(Path(path), timeout_s)
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()
        keeper.release()


def watermark(path: Path | str) -> int:
    """The highest usage id copied into the mirror at ``path`` (0 when empty or missing)."""
    if not Path(path).exists():
        return 0
    with connect(path) as con:
        _create(con)
        return _watermark(con)


def sync(
    engine: Engine, path: Path | str = DEFAULT_PATH, *, batch_size: int = BATCH_SIZE
) -> SyncReport:
    """Copy the usage rows added to the ledger since the last sync into the mirror at ``path``,
    add them to the daily rollup, and refresh the dimension tables. Safe to call from several
    threads at once (they take turns); with nothing new it costs a couple of indexed reads."""
    if batch_size < 1:
        raise AnalyticsError(f"batch size must be at least 1, got {batch_size}")
    started = time.perf_counter()
    path = Path(path)
    with _lock_for(path), connect(path) as con:
        _create(con)
        added = _refill_gaps(engine, con)
        mark = _watermark(con)
        while True:
            with read_only_connection(engine) as conn:
                rows = conn.execute(
                    _SELECT_USAGE.where(usage_records.c.id > mark)
                    .order_by(usage_records.c.id)
                    .limit(batch_size)
                ).all()
            if not rows:
                break
            _insert(con, rows, previous=mark)
            added += len(rows)
            mark = rows[-1].id
            if len(rows) < batch_size:
                break
        purged_days.catch_up(engine, con)
        _refresh_dimensions(engine, con)
    return SyncReport(added, mark, time.perf_counter() - started)


def _create(con: Any) -> None:
    for statement in _DDL:
        con.execute(statement)
    rollups.upgrade(con)


def _watermark(con: Any) -> int:
    row = con.execute("SELECT max(watermark) FROM sync_state").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _arrow(rows: Sequence[sa.Row[Any]]) -> Any:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in USAGE_COLUMNS]
    return pa.Table.from_arrays(
        [pa.array(col, type=field.type) for col, field in zip(columns, _USAGE_SCHEMA, strict=True)],
        schema=_USAGE_SCHEMA,
    )


def _insert(con: Any, rows: Sequence[sa.Row[Any]], *, previous: int | None) -> None:
    """Insert ``rows`` (sorted by id), add them to the rollup and, when ``previous`` is the
    watermark they follow, move the watermark and remember the holes — in one transaction."""
    batch = _arrow(rows)
    con.begin()
    try:
        con.register("new_usage", batch)
        con.execute("INSERT INTO usage SELECT * FROM new_usage")
        rollups.add(con, "new_usage")
        con.unregister("new_usage")
        if previous is None:
            con.execute(
                "DELETE FROM pending_gaps WHERE id IN (SELECT unnest(?))", [[r.id for r in rows]]
            )
        else:
            ids = {r.id for r in rows}
            holes = [i for i in range(previous + 1, rows[-1].id) if i not in ids][-MAX_GAPS:]
            if holes:
                con.execute(
                    "INSERT OR IGNORE INTO pending_gaps SELECT unnest(?), ?", [holes, time.time()]
                )
            con.execute("DELETE FROM sync_state")
            con.execute("INSERT INTO sync_state VALUES (?, now())", [rows[-1].id])
        con.commit()
    except BaseException:
        con.rollback()
        raise


def _refill_gaps(engine: Engine, con: Any) -> int:
    """Copy the rows that have appeared in remembered holes; forget holes past their patience."""
    if con.execute("SELECT count(*) FROM pending_gaps").fetchone()[0] == 0:
        return 0  # the usual case: no hole to look at, and no scan of the mirrored ids
    con.execute(
        "DELETE FROM pending_gaps WHERE seen_at < ? OR id IN "
        "(SELECT id FROM usage WHERE id >= (SELECT min(id) FROM pending_gaps))",
        [time.time() - GAP_PATIENCE_S],
    )
    con.execute(
        f"DELETE FROM pending_gaps WHERE id NOT IN "
        f"(SELECT id FROM pending_gaps ORDER BY id DESC LIMIT {MAX_GAPS})"
    )
    holes = [int(r[0]) for r in con.execute("SELECT id FROM pending_gaps ORDER BY id").fetchall()]
    added = 0
    for start in range(0, len(holes), 1000):
        chunk = holes[start : start + 1000]
        with read_only_connection(engine) as conn:
            rows = conn.execute(
                _SELECT_USAGE.where(usage_records.c.id.in_(chunk)).order_by(usage_records.c.id)
            ).all()
        if rows:
            _insert(con, rows, previous=None)
            added += len(rows)
    return added


def _dimension_rows(engine: Engine) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    with read_only_connection(engine) as conn:
        people = [
            (r.id, r.username)
            for r in conn.execute(sa.select(users.c.id, users.c.username).order_by(users.c.id))
        ]
        places = [
            (r.id, r.slug)
            for r in conn.execute(
                sa.select(workspaces.c.id, workspaces.c.slug).order_by(workspaces.c.id)
            )
        ]
    return people, places


def _dimensions_changed(con: Any, people: list[Any], places: list[Any]) -> bool:
    """Whether the ledger's users or workspaces differ from the mirror's (both are small)."""
    return [
        tuple(r) for r in con.execute("SELECT id, username FROM users ORDER BY id").fetchall()
    ] != people or [
        tuple(r) for r in con.execute("SELECT id, slug FROM workspaces ORDER BY id").fetchall()
    ] != places


def _refresh_dimensions(engine: Engine, con: Any) -> None:
    """Replace the dimension tables wholesale when the ledger's differ."""
    people, places = _dimension_rows(engine)
    if not _dimensions_changed(con, people, places):
        return
    con.begin()
    try:
        for name, rows, label in (("users", people, "username"), ("workspaces", places, "slug")):
            table = pa.table(
                {
                    "id": pa.array([r[0] for r in rows], pa.int32()),
                    label: pa.array([r[1] for r in rows], pa.string()),
                }
            )
            con.execute(f"DELETE FROM {name}")
            con.register("new_dimension", table)
            con.execute(f"INSERT INTO {name} SELECT * FROM new_dimension")
            con.unregister("new_dimension")
        con.commit()
    except BaseException:
        con.rollback()
        raise
