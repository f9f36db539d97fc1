"""Databases a killed PostgreSQL benchmark run left behind, found and dropped by the next run.

A run drops its own database (``workbench_bench_run_*``, and while it copies,
``workbench_bench_staging_*``) when it ends, on an error, Ctrl-C or SIGTERM; SIGKILL gives it no
chance, and each such copy of a million calls is gigabytes. So each run marks the databases it
makes with who made them (this machine's name and the process id, as the database's comment),
and the next run drops those whose process is gone from this machine. A database of a live run,
or of another machine (the server may be shared), is left alone.
"""

from __future__ import annotations

import json
import os
import socket
from typing import TYPE_CHECKING, Any

from psycopg import sql

if TYPE_CHECKING:
    from scripts.bench_app_postgres import Server


def owner() -> dict[str, Any]:
    return {"host": socket.gethostname(), "pid": os.getpid()}


def claim(server: Server, name: str) -> None:
    """Mark ``name`` as this process's, for ``drop_abandoned`` to judge later."""
    server.execute(
        sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(name), sql.Literal(json.dumps(owner()))
        )
    )


def drop_abandoned(server: Server, prefixes: tuple[str, ...]) -> list[str]:
    """Drop the databases under ``prefixes`` that a process of this machine made and is no
    longer running; their names."""
    dropped = []
    here = socket.gethostname()
    for prefix in prefixes:
        for name, comment in server.databases(prefix).items():
            made_by = _parsed(comment)
            pid = made_by.get("pid")
            if made_by.get("host") == here and isinstance(pid, int) and not _running(pid):
                server.drop(name)
                dropped.append(name)
    return dropped


def _parsed(comment: str | None) -> dict[str, Any]:
    try:
        found = json.loads(comment or "")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running
        return True
    return True
