"""``workbench ledger``: every subcommand has --help, bad arguments get one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ROOT

SUBCOMMANDS = [
    "migrate",
    "seed",
    "grant",
    "balance",
    "history",
    "sweep",
    "verify",
    "status",
]


def ledger_cli(db_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``workbench ledger ARGS`` in a subprocess, as a person's shell runs it."""
    return workbench(db_file, "ledger", *args)


def workbench(db_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``workbench ARGS`` in a subprocess, against the SQLite file ``db_file``."""
    env = {**os.environ, "WORKBENCH_DATABASE_URL": f"sqlite:///{db_file}"}
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def db_file(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


def test_every_subcommand_has_help(db_file: Path) -> None:
    top = ledger_cli(db_file, "--help")
    assert top.returncode == 0
    for name in SUBCOMMANDS:
        assert name in top.stdout
        result = ledger_cli(db_file, name, "--help")
        assert result.returncode == 0, result.stderr
        assert f"Usage: workbench ledger {name}" in result.stdout
    assert not db_file.exists(), "--help must not create a database"


def test_seed_grant_balance_history_verify(db_file: Path) -> None:
    assert "seeded workspace 'demo'" in ledger_cli(db_file, "seed", "--if-empty").stdout
    assert "nothing to do" in ledger_cli(db_file, "seed", "--if-empty").stdout
    granted = ledger_cli(db_file, "grant", "demo", "1,500", "--kind", "paid", "--key", "g-1")
    assert granted.returncode == 0, granted.stderr
    assert "51,500 available" in granted.stdout
    replay = ledger_cli(db_file, "grant", "demo", "1500", "--kind", "paid", "--key", "g-1")
    assert "already done earlier" in replay.stdout and "51,500 available" in replay.stdout
    history = ledger_cli(db_file, "history", "demo", "--kind", "grant")
    assert len(history.stdout.strip().splitlines()) == 2
    assert "+1,500" in history.stdout and "+50,000" in history.stdout
    assert ledger_cli(db_file, "sweep").returncode == 0
    verify = ledger_cli(db_file, "verify")
    assert (verify.returncode, verify.stdout.strip()) == (0, "verify: the books balance")


def test_fractions_of_a_credit_are_granted_and_shown(db_file: Path) -> None:
    ledger_cli(db_file, "seed")
    granted = ledger_cli(db_file, "grant", "demo", "0.234", "--kind", "promo")
    assert granted.returncode == 0, granted.stderr
    assert "granted 0.234 promo credits to demo" in granted.stdout
    assert "demo: 50,000.23 available, 0 held, 50,000.23 credits total" in granted.stdout
    history = ledger_cli(db_file, "history", "demo", "--kind", "grant", "--limit", "1")
    assert "+0.234" in history.stdout
    tiny = ledger_cli(db_file, "grant", "demo", "0.000001", "--kind", "promo")
    assert "granted 0.000001 promo credits" in tiny.stdout
    status = ledger_cli(db_file, "status")
    assert "workspace 'demo': 50,000.23 credits available, 0 held" in status.stdout
    assert ledger_cli(db_file, "verify").returncode == 0


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["grant", "demo", "-5"], "No such option '-5'"),
        (["grant", "demo", "0"], "must be more than zero credits"),
        (["grant", "demo", "ten"], "is not an amount of credits: write a number such as 5"),
        (["grant", "demo", "0.0000001"], "is not an amount of credits"),
        (["grant", "demo", "1,00"], "is not an amount of credits"),
        (["grant", "nowhere", "5"], "no workspace named 'nowhere'"),
        (["grant", "demo", "5", "--kind", "gift"], "'gift' is not one of 'paid'"),
        (["balance"], "Missing argument 'WORKSPACE'"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["grant", "demo", "5", "--key", "bad key"], "idempotency key must be"),
    ],
)
def test_bad_arguments_get_one_clear_line(db_file: Path, args: list[str], words: str) -> None:
    ledger_cli(db_file, "seed")
    before = ledger_cli(db_file, "history", "demo").stdout
    result = ledger_cli(db_file, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert ledger_cli(db_file, "history", "demo").stdout == before


def test_verify_exits_1_on_a_mismatch(db_file: Path) -> None:
    ledger_cli(db_file, "seed")
    engine = sa.create_engine(f"sqlite:///{db_file}")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE accounts SET balance = balance + 1")
    engine.dispose()
    result = ledger_cli(db_file, "verify")
    assert result.returncode == 1
    # One micro-credit off is a mismatch, shown exactly.
    mismatch = "journal balance sum to 50,000 but the account says 50,000.000001"
    assert f"MISMATCH account 1: {mismatch}" in result.stdout


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "workbench",
            "--database-url",
            "postgresql://nobody@127.0.0.1:1/none",
            "ledger",
            "status",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Connection refused" in result.stderr or "connection" in result.stderr.lower()
