"""The app benchmark's database (scripts/bench_app.py): what ``make run`` prepares (migrations,
a workspace with ``admin`` and ``member``, ``admin`` an operator as the first start makes it)
plus ``rows`` usage rows, and a cache of it so that a rerun need not write a million rows again.

The workspace ``make run`` seeds is made under the slug of the synthetic organisation's busiest
workspace (``synth-ws-1``, ``workbench ledger seed --workspace``), so the operator's own
workspace is the one with the most calls, the most journal lines and the most members: its pages
(Credit admin opens it first, My credits, the workspace totals) see the most data.

Two ways to write the rows (``--seed``):

* ``ledger`` (the default): ``workbench usage seed``, every call through the ledger as the
  gateway writes it (a hold, its capture or release with the usage row, the journal lines, top-ups
  as the workspaces run low), over 90 days ending at the moment of seeding. Exactly the tables a
  real million calls leave, and slow: ~600 calls a second on this machine, half an hour for a
  million.
* ``bulk``: the usage rows alone, drawn with the same generator's distributions over ~13 months
  and inserted in bulk by ``scripts/bench_analytics.py`` (``make_world``, ``timeline``,
  ``insert_rows``): under a minute for a million, but no holds or journal lines, so the pages that
  read those see a small ledger.

The cache is honest only for the same database: an entry is used when its key matches (the way,
row count, seed and organisation, and the content of every file that shapes the database: the
ledger and app schemas and migrations, the catalogues, the seeding code) and it is younger than
``max_age_h`` (its rows end when it was seeded; "the last 30 days" of an old copy hold fewer of
them). Each benchmark run works on a fresh copy of the entry, so nothing one run writes (sign-in
sessions, the analytics mirror) is seen by the next.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

import sqlalchemy as sa

from ledger.schema import usage_records, workspaces
from ledger.service import Ledger
from scripts.bench_analytics import insert_rows, make_world, timeline
from scripts.bench_measure import log, stage
from tests.browser_harness import ADMIN, ROOT, run_cli
from workbench.analytics.synthetic import workspace_slug
from workbench.gateway.providers.demo import draw
from workbench.images.raster import decode
from workbench.images.store import ImageStore

OPERATOR_WORKSPACE: Final = workspace_slug(0)  # the synthetic organisation's largest
LEDGER_DAYS: Final = 90
RECENT_IMAGES: Final = 50  # two pages of the gallery
DB_NAME: Final = "workbench.db"
META_NAME: Final = "meta.json"
# Everything whose change would make a cached database differ from a freshly seeded one.
SHAPING: Final = (
    "ledger/**/*.py",
    "workbench/db/**/*.py",
    "workbench/auth/**/*.py",
    "workbench/billing/offers.py",
    "workbench/cli/ledger_commands.py",
    "workbench/cli/usage_commands.py",
    "workbench/analytics/synthetic*.py",
    "data/*.toml",
    "scripts/bench_analytics.py",
    "scripts/bench_app_world.py",
)

Way = Literal["ledger", "bulk"]


@dataclass(frozen=True)
class Plan:
    """``rows`` usage rows written the ``way`` given, by the synthetic organisation of
    ``workspaces`` and ``users``, drawn with ``seed``."""

    rows: int
    way: Way = "ledger"
    seed: int = 1
    workspaces: int = 4
    users: int = 40


@dataclass(frozen=True)
class Prepared:
    """A database ready for the app: its URL, and how it came to be (for the JSON)."""

    url: str
    facts: dict[str, Any]


def cache_key(plan: Plan) -> str:
    digest = hashlib.sha256(json.dumps(asdict(plan), sort_keys=True).encode())
    for pattern in SHAPING:
        for path in sorted(ROOT.glob(pattern)):
            if "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def seed_database(url: str, env: dict[str, str], plan: Plan) -> dict[str, Any]:
    """Prepare the database at ``url`` as ``make run`` would (through the ``workbench`` command)
    and write the usage rows; returns when and how long it took."""
    started = time.perf_counter()
    env = {**env, "WORKBENCH_DATABASE_URL": url}
    run_cli(["ledger", "seed", "--workspace", OPERATOR_WORKSPACE], env)
    run_cli(["auth", "operator", ADMIN, "--reason", "the first admin (benchmark)"], env)
    now = datetime.now(UTC).replace(microsecond=0)
    with stage(f"write {plan.rows:,} usage rows ({plan.way})"):
        if plan.way == "ledger":
            usage_seed(env, plan)
        else:
            bulk_rows(url, plan, now)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            counted = conn.execute(sa.text("SELECT count(*) FROM usage_records")).scalar_one()
            journal = conn.execute(sa.text("SELECT count(*) FROM entries")).scalar_one()
    finally:
        engine.dispose()
    if counted != plan.rows:
        raise RuntimeError(f"{counted:,} usage rows after seeding, {plan.rows:,} planned")
    return {
        "seeded_at": now.isoformat(),
        "seed_s": round(time.perf_counter() - started, 1),
        "journal_lines": journal,
    }


def usage_seed(env: dict[str, str], plan: Plan) -> None:
    """``workbench usage seed``: its progress bar on this process's stderr."""
    options = {
        "--events": plan.rows,
        "--days": LEDGER_DAYS,
        "--seed": plan.seed,
        "--workspaces": plan.workspaces,
        "--users": plan.users,
    }
    subprocess.run(
        [sys.executable, "-m", "workbench", "usage", "seed"]
        + [part for option, value in options.items() for part in (option, str(value))],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        check=True,
    )


def bulk_rows(url: str, plan: Plan, now: datetime) -> None:
    book = Ledger.open(url)
    try:
        world = make_world(book, plan.workspaces, plan.users, plan.seed)
        insert_rows(book.engine, world, timeline(plan.rows, now, plan.seed), 1, plan.seed)
    finally:
        book.close()


def checkpoint(path: Path) -> None:
    """Fold the write-ahead log into the file, so the file alone is the whole database."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def prepare_sqlite(
    workdir: Path, env: dict[str, str], plan: Plan, cache_dir: Path | None, max_age_h: float
) -> Prepared:
    """A fresh SQLite file at ``workdir/workbench.db``: a copy of the cached entry for ``plan``
    when one is valid, else seeded (and, with a ``cache_dir``, kept there for the next run)."""
    target = workdir / DB_NAME
    key = cache_key(plan)
    facts: dict[str, Any] = {
        "backend": "sqlite",
        "usage_rows": plan.rows,
        "seeded_by": plan.way,
        "operator_workspace": OPERATOR_WORKSPACE,
        "cache_key": key,
    }
    entry = cache_dir / key if cache_dir is not None else None
    meta = _valid_meta(entry, max_age_h) if entry is not None else None
    if entry is not None and meta is not None:
        with stage(f"copy the cached database ({entry})"):
            shutil.copyfile(entry / DB_NAME, target)
        age_h = (datetime.now(UTC) - datetime.fromisoformat(meta["seeded_at"])).total_seconds()
        kept = {name: meta[name] for name in ("seeded_at", "seed_s", "journal_lines")}
        facts.update(kept, reused_cache=True, cache_age_h=round(age_h / 3600, 2))
        return Prepared(f"sqlite:///{target}", facts)
    with stage(f"seed a database with {plan.rows:,} usage rows"):
        seeded = seed_database(f"sqlite:///{target}", env, plan)
    checkpoint(target)
    facts.update(seeded, reused_cache=False, cache_age_h=0.0)
    if cache_dir is not None:
        _store(cache_dir, key, target, seeded, plan)
    return Prepared(f"sqlite:///{target}", facts)


def copy_prepared(source: Path, workdir: Path) -> Prepared:
    """A fresh copy of a database prepared earlier (``--from-database``: the same data for two
    versions of the code), with its counts for the JSON."""
    target = workdir / DB_NAME
    shutil.copyfile(source, target)
    with closing(sqlite3.connect(target)) as conn:
        rows = conn.execute("SELECT count(*) FROM usage_records").fetchone()[0]
        journal = conn.execute("SELECT count(*) FROM entries").fetchone()[0]
    facts = {
        "backend": "sqlite",
        "usage_rows": rows,
        "journal_lines": journal,
        "copied_from": str(source),
        "reused_cache": None,
    }
    return Prepared(f"sqlite:///{target}", facts)


def store_recent_images(url: str, image_dir: Path, count: int = RECENT_IMAGES) -> int:
    """Images for the newest ``count`` image calls of the operator's workspace, in the image
    store as the gateway leaves them (small pictures: a page run reads only their metadata).
    The seeded calls come without files, and a gallery with no call left to show would read past
    every image call of the workspace looking for one. Returns how many calls got images."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(usage_records)
                .join(workspaces, workspaces.c.id == usage_records.c.workspace_id)
                .where(
                    workspaces.c.slug == OPERATOR_WORKSPACE,
                    usage_records.c.images > 0,
                    usage_records.c.hold_id.is_not(None),
                )
                .order_by(usage_records.c.id.desc())
                .limit(count)
            ).all()
    finally:
        engine.dispose()
    store = ImageStore(image_dir)
    for row in rows:
        prompt = f"Benchmark call {row.hold_id}: a lighthouse at dusk"
        store.save(
            row.hold_id,
            [decode(draw(prompt, "256x256", index)) for index in range(row.images)],
            user_id=row.user_id,
            workspace_id=row.workspace_id,
            meta={
                "prompt": prompt,
                "model": row.model,
                "size": row.image_size,
                "quality": row.image_quality,
                "requested": row.images,
            },
        )
    return len(rows)


def _valid_meta(entry: Path, max_age_h: float) -> dict[str, Any] | None:
    try:
        meta: dict[str, Any] = json.loads((entry / META_NAME).read_text(encoding="utf-8"))
        seeded_at = datetime.fromisoformat(meta["seeded_at"])
        float(meta["seed_s"]), int(meta["journal_lines"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (entry / DB_NAME).is_file():
        return None
    age_h = (datetime.now(UTC) - seeded_at).total_seconds() / 3600
    if age_h > max_age_h:
        log(f"the cached database is {age_h:.1f} h old (at most {max_age_h} h): seeding anew")
        return None
    return meta


def _store(cache_dir: Path, key: str, database: Path, seeded: dict[str, Any], plan: Plan) -> None:
    """Keep a copy as the cache's entry for ``key``. Written under a temporary name and renamed,
    so a half-written entry is never used; an entry this one supersedes (the same way and row
    count, made by other code) is removed: each is large."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for old in cache_dir.iterdir():
        try:
            meta = json.loads((old / META_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if old.name != key and (meta.get("way"), meta.get("rows")) == (plan.way, plan.rows):
            shutil.rmtree(old, ignore_errors=True)
    staging = cache_dir / f".{key}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    shutil.copyfile(database, staging / DB_NAME)
    meta = {**seeded, "way": plan.way, "rows": plan.rows}
    (staging / META_NAME).write_text(json.dumps(meta), encoding="utf-8")
    shutil.rmtree(cache_dir / key, ignore_errors=True)
    staging.rename(cache_dir / key)
    log(f"kept the seeded database in {cache_dir / key} for the next run")
