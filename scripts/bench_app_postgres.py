"""The app benchmark on PostgreSQL (scripts/bench_app.py ``--postgres-url``): the SQLite database
the benchmark prepares anyway (seeded, or its cache entry) copied into a database on the server,
kept there as a cache, and a fresh copy of that for each run.

Seeding a million calls through the ledger takes half an hour; copying the rows takes a minute
or two. The copy (``_build``) is made under a temporary name: ``CREATE DATABASE``, then the
rows migrated, copied and checked by ``scripts/bench_app_pg_copy.py`` (COPY with triggers off,
sequences reset; row counts, balances and journal sums compared, a mismatch is
``CopyMismatch`` and the copy is dropped), with ``VACUUM (FREEZE, ANALYZE)`` between the copy
and the check: planner statistics, and every page already visible-to-all and frozen, as on a
database that has been running for a while, so a run's copy does not spend its first page runs
setting hint bits.

The copy is then renamed ``workbench_bench_<cache key>`` (the SQLite cache entry's key) with its
facts in the database's comment (JSON: when the SQLite rows were seeded, a digest of the copying
code, the way and row count, the copy's timings and row counts). A later run reuses it while the
SQLite entry it came from is the one in use (the same ``seeded_at``) and that code has not
changed; a kept copy of an older key for the same way and row count is dropped, as the SQLite
cache drops its superseded entries. Each run works on ``CREATE DATABASE workbench_bench_run_<random>
TEMPLATE workbench_bench_<key>`` (a file-level copy: seconds), dropped when the run ends, also
on an error. Without a cache (``--no-cache``, ``--from-database``) the copy itself is the run's
database, and is dropped the same way. What a killed run could not drop, the next run does
(``scripts/bench_app_pg_leftovers.py``).

The server URL is an administrator's connection (a superuser: creating databases and switching
triggers off need one), e.g. ``postgresql://postgres@127.0.0.1:5432/test``; ``refusal`` says in
one sentence why a URL cannot be used, before anything is seeded.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from psycopg import sql

from scripts import bench_app_pg_copy as pg_copy
from scripts import bench_app_pg_leftovers as leftovers
from scripts.bench_app_world import Prepared
from scripts.bench_measure import log, stage

PREFIX: Final = "workbench_bench_"
RUN_PREFIX: Final = f"{PREFIX}run_"
STAGING_PREFIX: Final = f"{PREFIX}staging_"
CONNECT_TIMEOUT_S: Final = 5
# A kept copy made by other code is made again.
COPIER: Final = hashlib.sha256(
    Path(__file__).read_bytes() + Path(pg_copy.__file__).read_bytes()
).hexdigest()[:16]
DRIVERS: Final = ("postgresql", "postgresql+psycopg")


class Server:
    """The PostgreSQL server behind an administrator's URL."""

    def __init__(self, url: str) -> None:
        self.url = sa.make_url(url)

    def conninfo(self, database: str | None = None) -> str:
        """A libpq URI for ``database`` (the admin URL's own by default)."""
        url = self.url.set(drivername="postgresql")
        if database is not None:
            url = url.set(database=database)
        return url.render_as_string(hide_password=False)

    def app_url(self, database: str) -> str:
        """The SQLAlchemy URL the app (and ``ledger.db.create_engine``) is given."""
        url = self.url.set(drivername="postgresql+psycopg", database=database)
        return url.render_as_string(hide_password=False)

    def shown(self) -> str:
        return self.url.set(drivername="postgresql").render_as_string(hide_password=True)

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)

    def execute(self, statement: sql.Composed) -> None:
        with closing(self.admin()) as conn:
            conn.execute(statement)

    def create(self, name: str, template: str | None = None) -> None:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self.execute(statement)

    def drop(self, name: str) -> None:
        self.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    def rename(self, old: str, new: str) -> None:
        self.execute(
            sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                sql.Identifier(old), sql.Identifier(new)
            )
        )

    def databases(self, prefix: str = PREFIX) -> dict[str, str | None]:
        """The databases whose names start with ``prefix``, with their comments."""
        with closing(self.admin()) as conn:
            rows = conn.execute(
                "SELECT datname, shobj_description(oid, 'pg_database') FROM pg_database "
                "WHERE starts_with(datname, %s)",
                (prefix,),
            ).fetchall()
        return dict(rows)


def refusal(url: str) -> str | None:
    """Why ``url`` cannot serve as the benchmark's server, in one sentence; None if it can."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return f"--postgres-url {url!r} is not a database URL (postgresql://USER@HOST:PORT/DB)"
    if parsed.drivername not in DRIVERS:
        return f"--postgres-url must be a postgresql:// URL, not {parsed.drivername}://"
    server = Server(url)
    try:
        with closing(server.admin()) as conn:
            row = conn.execute(
                "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.Error as error:
        said = str(error).strip().splitlines() or [type(error).__name__]
        reason = said[0].removeprefix("connection failed: ").rstrip(" .")
        return f"cannot reach the PostgreSQL server at {server.shown()}: {reason}"
    if row is None or not row[0]:
        return (
            f"{server.shown()} does not connect as a superuser, which creating the benchmark's "
            "databases and copying with triggers off need"
        )
    return None


@contextmanager
def on_postgres(url: str, source: Path, sqlite: Prepared, *, keep: bool) -> Iterator[Prepared]:
    """A fresh database on the server at ``url`` holding what the SQLite file ``source`` holds
    (``sqlite``: how that file came to be), dropped on exit. With ``keep`` (``source`` is a cache
    entry's copy) the copy is kept as ``workbench_bench_<key>`` and reused while it is valid."""
    server = Server(url)
    facts: dict[str, Any] = {
        **sqlite.facts,
        "backend": "postgresql",
        "sqlite_reused_cache": sqlite.facts.get("reused_cache"),
        "server": server.shown(),
    }
    key = sqlite.facts.get("cache_key")
    kept = f"{PREFIX}{key}" if keep and key else None
    run = f"{RUN_PREFIX}{secrets.token_hex(6)}"
    for name in leftovers.drop_abandoned(server, (RUN_PREFIX, STAGING_PREFIX)):
        log(f"dropped {name}, left by a run that was killed")
    try:
        if kept is None:
            with stage(f"copy the SQLite database into {run} on {server.shown()}"):
                meta = _build(server, run, source)
            no_cache = sqlite.facts.get("reused_cache") is None
            facts.update(reused_cache=None if no_cache else False, template_s=None)
        else:
            wanted = {"seeded_at": sqlite.facts.get("seeded_at"), "copier": COPIER}
            found = _valid(server, kept, wanted)
            facts["reused_cache"] = found is not None
            if found is None:
                with stage(f"copy the SQLite database into {kept} on {server.shown()}"):
                    plan = {"way": facts["seeded_by"], "rows": facts["usage_rows"]}
                    meta = _keep(server, kept, source, {**wanted, **plan})
            else:
                meta = found
                log(f"reusing the copy {kept} on {server.shown()} (made {meta['copied_at']})")
            started = time.perf_counter()
            with stage(f"a fresh database {run} from {kept}"):
                server.create(run, template=kept)
                leftovers.claim(server, run)
            facts["template_s"] = round(time.perf_counter() - started, 2)
        facts.update(
            {name: meta[name] for name in ("copied_at", "copy_s", "prepare_s", "table_rows")},
            postgres_cache=kept,
            run_database=run,
        )
        yield Prepared(server.app_url(run), facts)
    finally:
        with stage(f"drop the run's database {run}"):
            server.drop(run)


def _valid(server: Server, name: str, wanted: dict[str, Any]) -> dict[str, Any] | None:
    """The facts of the kept copy ``name`` if it is there and was made from the SQLite entry in
    use, by this code; a stale one is dropped."""
    found = server.databases(name)
    if name not in found:
        return None
    try:
        meta = json.loads(found[name] or "")
    except ValueError:
        meta = None
    if isinstance(meta, dict) and all(meta.get(field) == value for field, value in wanted.items()):
        return meta
    log(f"{name} was copied from another seeding, or by other code: copying anew")
    server.drop(name)
    return None


def _keep(server: Server, name: str, source: Path, facts: dict[str, Any]) -> dict[str, Any]:
    """Build the copy under a temporary name, then give it the name ``name``; drops the kept
    copies of other keys made for the same way and row count (each is large)."""
    staging = f"{STAGING_PREFIX}{secrets.token_hex(6)}"
    try:
        meta = {**facts, **_build(server, staging, source)}
        server.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(staging), sql.Literal(json.dumps(meta))
            )
        )
        server.drop(name)
        server.rename(staging, name)
    finally:
        server.drop(staging)
    for other, comment in server.databases().items():
        try:
            theirs = json.loads(comment or "")
        except ValueError:
            continue
        plan = (theirs.get("way"), theirs.get("rows")) if isinstance(theirs, dict) else None
        if other != name and plan == (facts["way"], facts["rows"]):
            log(f"dropping {other}, a copy this one supersedes")
            server.drop(other)
    log(f"kept the copy as {name} on {server.shown()} for the next run")
    return meta


def _build(server: Server, name: str, source: Path) -> dict[str, Any]:
    """Create the database ``name`` and copy the SQLite file ``source`` into it; dropped again
    if anything goes wrong. Returns the copy's facts."""
    started = time.perf_counter()
    server.create(name)
    try:
        leftovers.claim(server, name)
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as lite:
            tables = pg_copy.migrate_like(server.app_url(name), lite)
            with closing(psycopg.connect(server.conninfo(name))) as conn:
                copy_s = pg_copy.copy_rows(conn, lite, tables)
            with closing(psycopg.connect(server.conninfo(name), autocommit=True)) as conn:
                with stage("VACUUM (FREEZE, ANALYZE)"):
                    conn.execute("VACUUM (FREEZE, ANALYZE)")
                rows = pg_copy.check_copy(
                    conn, lite, [*(t.name for t in tables), *pg_copy.VERSION_TABLES]
                )
    except BaseException:
        server.drop(name)
        raise
    return {
        "copied_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "copy_s": copy_s,
        "prepare_s": round(time.perf_counter() - started, 1),
        "table_rows": rows,
    }
