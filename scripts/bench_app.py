#!/usr/bin/env python3
"""Benchmark the app itself: how long the server takes to start, and how long each page's script
run takes for an operator with a million usage rows in the database.

    .venv/bin/python -m scripts.bench_app                       # 1,000,000 calls (cached)
    .venv/bin/python -m scripts.bench_app --usage-rows 2000 --runs 2 --starts 1
    .venv/bin/python -m scripts.bench_app --seed bulk           # usage rows alone, in a minute
    .venv/bin/python -m scripts.bench_app --no-cache            # seed afresh, keep nothing
    .venv/bin/python -m scripts.bench_app --from-database FILE  # a copy of FILE, as it is
    .venv/bin/python -m scripts.bench_app --postgres-url postgresql://postgres@127.0.0.1:5432/test

The database (``scripts/bench_app_world.py``): what ``make run`` prepares (migrations, a workspace
with ``admin`` and ``member``, ``admin`` an operator) under the slug of the synthetic
organisation's busiest workspace, then ``--usage-rows`` calls by ``workbench usage seed`` through
the ledger (holds, captures, journal lines and usage rows as the gateway writes them; half an
hour for a million on this machine) or, with ``--seed bulk``, the usage rows alone. Seeded once
and kept in ``--cache-dir`` (a temporary folder by default); a later run uses a fresh copy of it
if nothing that shapes the database has changed and it is at most ``--cache-max-age-h`` old (its
rows end when it was seeded). ``database`` in the JSON says which it was (``reused_cache``,
``cache_age_h``, ``seed_s``, ``journal_lines``). ``--from-database`` measures a copy of a file
prepared earlier instead (two versions of the code on the same data). The newest image calls of
the operator's workspace get their images in the run's image store (``stored_images``), as the
gateway would have left them.

``--postgres-url URL`` (an administrator's connection to a PostgreSQL server: a superuser) measures
the same with the app on PostgreSQL (``scripts/bench_app_postgres.py``): the SQLite database is
prepared as above (seeded, or the cache's copy), then copied into a new database on the server
(migrated as ``workbench`` migrates, every table's rows by ``COPY`` with triggers off, sequences
reset, ``VACUUM (FREEZE, ANALYZE)``; row counts and balances checked against the file), kept there
as ``workbench_bench_<cache key>``, and each run gets ``CREATE DATABASE ... TEMPLATE`` of it,
dropped when the run ends. ``database`` then has ``backend: "postgresql"``, ``reused_cache`` (the
copy on the server), ``sqlite_reused_cache``, ``copy_s``, ``prepare_s``, ``template_s``,
``table_rows`` and ``run_database``; every other key of the JSON is as on SQLite. A URL that is
not ``postgresql://``, or a server that cannot be reached, is refused before anything is seeded.

* ``startup_s``: from launching ``workbench run --port P`` (what ``make run`` runs: migrate,
  seed if empty, then ``streamlit run workbench/app.py``) on that database until
  ``/_stcore/health`` answers 200. Median of ``--starts``. ``startup_parts_s`` splits it at the
  hand-over to Streamlit (``prepare_s``: the command's own work; ``serve_s``: Streamlit's start,
  the app's imports and its services built in the lifespan). Baseline, started the same way and
  interleaved with the app's starts: ``bare_startup_s``, a bare two-page Streamlit app
  (``scripts/bench_ui_bare.py``) under ``streamlit run``. ``import_s`` (one fresh interpreter,
  ``python -X importtime -c "import workbench.app"``): the entry script's imports, and within them
  Streamlit's and litellm's (litellm's only if the entry script imports it: it does not, the app
  imports it after the server is up).
* ``page_ms``: each page's script run for ``admin`` (an operator: all six pages), signed in
  through ``POST /auth/sign-in`` and speaking the app's websocket as the frontend does
  (``scripts/bench_app_pages.py``): from the request for the page's run to its
  ``script_finished``. Each page once first (``page_first_ms``: cold, the first Usage analytics
  run builds the DuckDB mirror of every row), then ``--runs`` rounds of every page in the
  sidebar's order; medians of those. Baseline: ``bare_page_ms``, a page run of the bare app the
  same way. ``page_sent`` is what the last run of each page sent (messages, kB).

Targets (issue 15): ``startup_s`` ≤ 5 and every page ≤ 300 ms warm (``targets_met``). The
machine's load average at the start and the end is in the JSON: on a busy machine both sides of
each comparison slow down. Progress goes to stderr; the last line of stdout is one JSON object.
The exit status is 1 when a page run went wrong (an exception, no title, a failure box) or the
PostgreSQL copy differs from the SQLite file, 2 for bad arguments (or a server out of reach).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

from scripts.bench_app_pages import PageRun, Session
from scripts.bench_app_pg_copy import CopyMismatch
from scripts.bench_app_postgres import on_postgres, refusal
from scripts.bench_app_starts import Started, import_seconds, start_app, start_bare
from scripts.bench_app_world import (
    DB_NAME,
    Plan,
    Prepared,
    copy_prepared,
    prepare_sqlite,
    store_recent_images,
)
from scripts.bench_measure import log, quiet, stage
from scripts.bench_ui_bare import BARE_TITLES
from tests.browser_harness import ADMIN, AppServer, app_env, http_session_token, run_cli
from tests.streamlit_socket import streamlit_socket
from workbench.config import Settings
from workbench.ui.page_registry import PAGES, spec

TARGET_STARTUP_S: Final = 5.0
TARGET_PAGE_MS: Final = 300.0
DEFAULT_CACHE: Final = Path(tempfile.gettempdir()) / "workbench-bench-app"
TITLES: Final = [page.title for page in PAGES]  # the sidebar's order


@dataclass
class Samples:
    app_starts: list[Started] = field(default_factory=list)
    bare_starts: list[float] = field(default_factory=list)
    first: dict[str, PageRun] = field(default_factory=dict)
    warm: dict[str, list[PageRun]] = field(default_factory=dict)
    bare_pages: list[float] = field(default_factory=list)
    imports: dict[str, float] = field(default_factory=dict)


class PageFailed(Exception):
    """A page's run went wrong: the benchmark would time the wrong thing."""


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--usage-rows", type=int, default=1_000_000, help="usage rows seeded")
    parser.add_argument(
        "--seed",
        choices=("ledger", "bulk"),
        default="ledger",
        help="through the ledger (workbench usage seed) or usage rows alone in bulk",
    )
    parser.add_argument("--runs", type=int, default=7, help="warm rounds of every page")
    parser.add_argument("--starts", type=int, default=3, help="timed starts of each server")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--no-cache", action="store_true", help="seed afresh and keep nothing")
    parser.add_argument("--cache-max-age-h", type=float, default=24.0)
    parser.add_argument(
        "--from-database",
        type=Path,
        help="use a copy of this prepared SQLite file instead (the same data for two versions)",
    )
    parser.add_argument(
        "--postgres-url",
        help="measure on PostgreSQL: a copy of the database on this server (an admin's URL)",
    )
    parser.add_argument("--timeout-s", type=float, default=60.0, help="per warm page run")
    parser.add_argument(
        "--first-timeout-s", type=float, default=600.0, help="per first run (builds the mirror)"
    )
    parser.add_argument(
        "--json-only", action="store_true", help="no progress on stderr, only the JSON line"
    )
    args = parser.parse_args(argv)
    if args.usage_rows < 1 or args.runs < 1 or args.starts < 1:
        parser.error("--usage-rows, --runs and --starts must be positive")
    if args.timeout_s <= 0 or args.first_timeout_s <= 0 or args.cache_max_age_h < 0:
        parser.error("timeouts must be positive and --cache-max-age-h not negative")
    if args.from_database is not None and not args.from_database.is_file():
        parser.error(f"--from-database {args.from_database}: no such file")
    return args


def server_env(workdir: Path) -> dict[str, str]:
    """The app's environment as the browser tests build it (no provider keys: the offline demo
    models; its own SQLite file and image folder under ``workdir``), with the app's defaults for
    the demo model's pace and the balance's refresh."""
    fields = Settings.model_fields
    return app_env(
        workdir,
        stream_delay_s=fields["demo_stream_delay_s"].default,
        balance_refresh_s=fields["balance_refresh_s"].default,
    )


def check(title: str, run: PageRun) -> PageRun:
    if run.problems or title not in run.headings:
        raise PageFailed(f"{title}: {run.problems or f'no title among {run.headings}'}")
    return run


def measure_pages(
    server: AppServer, args: argparse.Namespace, samples: Samples
) -> dict[str, PageRun]:
    """The first run of every page, then ``--runs`` rounds; returns each page's last run."""
    token = http_session_token(server, ADMIN)
    last: dict[str, PageRun] = {}
    with streamlit_socket(server.url, cookie=f"workbench_session={token}") as socket:
        session = Session(socket)
        hashes, _ = session.pages(args.first_timeout_s)
        missing = [title for title in TITLES if title not in hashes]
        if missing:
            raise PageFailed(f"the operator's navigation lacks {missing} (has {list(hashes)})")
        with stage("the first run of every page"):
            for title in TITLES:
                run = check(title, session.run(hashes[title], args.first_timeout_s))
                samples.first[title] = run
                log(f"  {title}: {run.seconds * 1000:.0f} ms")
        with stage(f"{args.runs} rounds of every page"):
            for n in range(args.runs):
                for title in TITLES:
                    last[title] = check(title, session.run(hashes[title], args.timeout_s))
                    samples.warm.setdefault(title, []).append(last[title])
                shown = {t: f"{runs[-1].seconds * 1000:.0f}" for t, runs in samples.warm.items()}
                log(f"  round {n + 1}: {shown} ms")
    return last


def measure_bare_pages(bare: Started, args: argparse.Namespace, samples: Samples) -> None:
    with streamlit_socket(bare.url) as socket:
        session = Session(socket)
        hashes, _ = session.pages(args.first_timeout_s)
        for title in BARE_TITLES:  # each once first, as the app's pages
            check(title, session.run(hashes[title], args.timeout_s))
        for _ in range(args.runs):
            for title in BARE_TITLES:
                run = check(title, session.run(hashes[title], args.timeout_s))
                samples.bare_pages.append(run.seconds)


@contextmanager
def database(args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> Iterator[Prepared]:
    """The run's database: a fresh SQLite file, or (``--postgres-url``) a fresh PostgreSQL
    database holding the same, dropped on exit."""
    plan = Plan(rows=args.usage_rows, way=args.seed)
    cache = None if args.no_cache else args.cache_dir
    if args.from_database is not None:
        prepared = copy_prepared(args.from_database, workdir)
    else:
        prepared = prepare_sqlite(workdir, env, plan, cache, args.cache_max_age_h)
    if args.postgres_url is None:
        yield prepared
        return
    keep = cache is not None and args.from_database is None
    with on_postgres(args.postgres_url, workdir / DB_NAME, prepared, keep=keep) as copied:
        (workdir / DB_NAME).unlink()  # the app runs on PostgreSQL: nothing may use the file
        yield copied


def measure(args: argparse.Namespace, workdir: Path, samples: Samples) -> dict[str, Any]:
    with database(args, workdir, server_env(workdir)) as prepared:
        env = {**server_env(workdir), "WORKBENCH_DATABASE_URL": prepared.url}
        return measure_on(args, workdir, env, prepared, samples)


def measure_on(
    args: argparse.Namespace,
    workdir: Path,
    env: dict[str, str],
    prepared: Prepared,
    samples: Samples,
) -> dict[str, Any]:
    prepared.facts["stored_images"] = store_recent_images(prepared.url, workdir / "images")
    password = secrets.token_urlsafe(12)
    run_cli(["auth", "set-password", ADMIN], env, stdin=password)
    with stage("import times of the entry script"):
        samples.imports = import_seconds(env, ("streamlit", "litellm"))
    app: Started | None = None
    bare: Started | None = None
    try:
        with stage(f"{args.starts} starts of the app and of a bare Streamlit app"):
            for n in range(args.starts):
                # The last start of each is kept running for the page runs.
                for kept in (app, bare):
                    if kept is not None:
                        kept.stop()
                app = start_app(env, workdir / f"server-{n}.log")
                samples.app_starts.append(app)
                bare = start_bare(workdir / "bare", env, workdir / f"bare-{n}.log")
                samples.bare_starts.append(bare.seconds)
                log(f"  start {n + 1}: app {app.seconds:.2f} s, bare {bare.seconds:.2f} s")
        assert app is not None and bare is not None
        app.admin_password = password
        last = measure_pages(app, args, samples)
        with stage("the bare app's page runs"):
            measure_bare_pages(bare, args, samples)
    finally:
        for kept in (app, bare):
            if kept is not None:
                kept.stop()
    return {"database": prepared.facts, "last": last}


# --- figures -------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def median_ms(runs: Sequence[PageRun]) -> float:
    return ms(statistics.median(run.seconds for run in runs))


def summarise(samples: Samples, measured: dict[str, Any]) -> dict[str, Any]:
    starts = [start.seconds for start in samples.app_starts]
    handovers = [s.handover_s for s in samples.app_starts if s.handover_s is not None]
    serves = [s.seconds - s.handover_s for s in samples.app_starts if s.handover_s is not None]
    page_ms = {title: median_ms(samples.warm[title]) for title in TITLES}
    slowest = max(page_ms, key=page_ms.__getitem__)
    startup_s = round(statistics.median(starts), 2)
    bare_startup_s = round(statistics.median(samples.bare_starts), 2)
    last: dict[str, PageRun] = measured["last"]
    usage_first = samples.first[spec("usage").title]
    result: dict[str, Any] = {
        "startup_s": startup_s,
        "bare_startup_s": bare_startup_s,
        "startup_over_bare_s": round(startup_s - bare_startup_s, 2),
        "startup_parts_s": {
            "prepare_s": round(statistics.median(handovers), 2) if handovers else None,
            "serve_s": round(statistics.median(serves), 2) if serves else None,
        },
        "import_s": samples.imports,
        "page_ms": page_ms,
        "slowest_page": slowest,
        "bare_page_ms": ms(statistics.median(samples.bare_pages)),
        "page_first_ms": {title: ms(run.seconds) for title, run in samples.first.items()},
        "page_sent": {
            title: {"messages": run.messages, "kb": round(run.sent_bytes / 1000, 1)}
            for title, run in last.items()
        },
        # What the operator's Usage analytics showed: the data was there.
        "usage_requests_shown": usage_first.metrics.get("Requests"),
        "database": measured["database"],
        "samples": {
            "startup_s": [round(s, 3) for s in starts],
            "bare_startup_s": [round(s, 3) for s in samples.bare_starts],
            "page_ms": {t: [ms(r.seconds) for r in runs] for t, runs in samples.warm.items()},
            "bare_page_ms": [ms(s) for s in samples.bare_pages],
        },
    }
    targets = {
        "startup_s_le_5": startup_s <= TARGET_STARTUP_S,
        "page_ms_le_300": page_ms[slowest] <= TARGET_PAGE_MS,
    }
    result["targets"] = targets
    result["targets_met"] = all(targets.values())
    return result


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    refused = refusal(args.postgres_url) if args.postgres_url is not None else None
    if refused is not None:
        print(f"bench_app: {refused}.", file=sys.stderr)
        return 2
    quiet(args.json_only)
    # Stopped by SIGTERM, it unwinds as on Ctrl-C: servers stopped, the run's database dropped.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    started = time.perf_counter()
    load_at_start = round(os.getloadavg()[0], 2)
    workdir = Path(tempfile.mkdtemp(prefix="bench_app_"))
    samples = Samples()
    try:
        measured = measure(args, workdir, samples)
    except PageFailed as failed:
        print(f"bench_app: a page run went wrong: {failed} (logs in {workdir})", file=sys.stderr)
        return 1
    except CopyMismatch as mismatch:
        shutil.rmtree(workdir, ignore_errors=True)  # no server ran: nothing to look at
        print(
            f"bench_app: the PostgreSQL copy does not hold what the SQLite file holds: {mismatch}",
            file=sys.stderr,
        )
        return 1
    except BaseException:
        log(f"the run failed; the servers' logs are in {workdir}")
        raise
    result = summarise(samples, measured)
    shutil.rmtree(workdir, ignore_errors=True)
    result.update(
        {
            "usage_rows": args.usage_rows,
            "runs": args.runs,
            "starts": args.starts,
            "streamlit_version": version("streamlit"),
            "elapsed_s": round(time.perf_counter() - started, 1),
            "loadavg_1m": [load_at_start, round(os.getloadavg()[0], 2)],
            "cpus": os.cpu_count(),
        }
    )
    log(
        f"start-up {result['startup_s']} s (bare {result['bare_startup_s']} s); "
        f"pages {result['page_ms']} ms (bare {result['bare_page_ms']} ms)"
    )
    print(json.dumps(result))
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
