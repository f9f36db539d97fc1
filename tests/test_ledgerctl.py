"""The command-line tool: every subcommand has --help, bad arguments get one clear line."""

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
    "prices",
]


def ledgerctl(db_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WORKBENCH_DATABASE_URL": f"sqlite:///{db_file}"}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "ledgerctl.py"), *args],
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
    top = ledgerctl(db_file, "--help")
    assert top.returncode == 0
    for name in SUBCOMMANDS:
        assert name in top.stdout
        result = ledgerctl(db_file, name, "--help")
        assert result.returncode == 0, result.stderr
        assert f"usage: ledgerctl {name}" in result.stdout
    nested = ledgerctl(db_file, "prices", "import", "--help")
    assert nested.returncode == 0 and "usage: ledgerctl prices import" in nested.stdout
    assert "--dry-run" in nested.stdout and "--withdraw-missing" in nested.stdout
    assert not db_file.exists(), "--help must not create a database"


def test_seed_grant_balance_history_verify(db_file: Path) -> None:
    assert "seeded workspace 'demo'" in ledgerctl(db_file, "seed", "--if-empty").stdout
    assert "nothing to do" in ledgerctl(db_file, "seed", "--if-empty").stdout
    granted = ledgerctl(db_file, "grant", "demo", "1,500", "--kind", "paid", "--key", "g-1")
    assert granted.returncode == 0, granted.stderr
    assert "51,500 available" in granted.stdout
    replay = ledgerctl(db_file, "grant", "demo", "1500", "--kind", "paid", "--key", "g-1")
    assert "already done earlier" in replay.stdout and "51,500 available" in replay.stdout
    history = ledgerctl(db_file, "history", "demo", "--kind", "grant")
    assert len(history.stdout.strip().splitlines()) == 2
    assert ledgerctl(db_file, "sweep").returncode == 0
    verify = ledgerctl(db_file, "verify")
    assert (verify.returncode, verify.stdout.strip()) == (0, "verify: the books balance")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["grant", "demo", "-5"], "must be greater than zero"),
        (["grant", "demo", "ten"], "is not a whole number"),
        (["grant", "nowhere", "5"], "no workspace named 'nowhere'"),
        (["grant", "demo", "5", "--kind", "gift"], "invalid choice: 'gift'"),
        (["balance"], "the following arguments are required: workspace"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["grant", "demo", "5", "--key", "bad key"], "idempotency key must be"),
    ],
)
def test_bad_arguments_get_one_clear_line(db_file: Path, args: list[str], words: str) -> None:
    ledgerctl(db_file, "seed")
    before = ledgerctl(db_file, "history", "demo").stdout
    result = ledgerctl(db_file, *args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert ledgerctl(db_file, "history", "demo").stdout == before


def test_verify_exits_1_on_a_mismatch(db_file: Path) -> None:
    ledgerctl(db_file, "seed")
    engine = sa.create_engine(f"sqlite:///{db_file}")
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE accounts SET balance = balance + 1")
    engine.dispose()
    result = ledgerctl(db_file, "verify")
    assert result.returncode == 1
    assert "MISMATCH account 1: journal balance sum to 50,000 but the account says 50,001" in (
        result.stdout
    )


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "ledgerctl.py"),
            "--database-url",
            "postgresql://nobody@127.0.0.1:1/none",
            "status",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Connection refused" in result.stderr or "connection" in result.stderr.lower()


def price_rows(db_file: Path) -> list[tuple[str, int, bool, int | None, str | None]]:
    engine = sa.create_engine(f"sqlite:///{db_file}")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT model, version, active, created_by_user_id, reason FROM price_versions "
            "ORDER BY model, version"
        ).all()
    engine.dispose()
    return [(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]


def test_prices_import_dry_run_writes_nothing_then_imports(db_file: Path, tmp_path: Path) -> None:
    assert ledgerctl(db_file, "seed").returncode == 0  # the first open seeds data/prices.toml
    seeded = price_rows(db_file)
    assert ("demo/chat", 1, True, None, "seeded from the price catalogue") in seeded
    shipped = (ROOT / "data" / "prices.toml").read_text(encoding="utf-8")
    changed = tmp_path / "prices.toml"
    changed.write_text(
        shipped.replace("input_per_million = 100", "input_per_million = 125", 1).replace(
            "input_per_million = 3000", "input_per_million = 2500", 1
        ),
        encoding="utf-8",
    )

    dry = ledgerctl(db_file, "prices", "import", str(changed), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "demo/chat: price version 2: in 125 / out 400 per million tokens; was in 100" in (
        dry.stdout
    )
    assert "openai/gpt-4o: price version 2: in 2500 / out 12000" in dry.stdout
    assert "dry run: 2 new price version(s) would be added; nothing was written" in dry.stdout
    assert price_rows(db_file) == seeded

    real = ledgerctl(
        db_file, "prices", "import", str(changed), "--by", "admin", "--reason", "new list"
    )
    assert real.returncode == 0, real.stderr
    assert "imported 2 new price version(s)" in real.stdout
    added = [row for row in price_rows(db_file) if row not in seeded]
    assert [(m, v, a, r) for m, v, a, _, r in added] == [
        ("demo/chat", 2, True, "new list"),
        ("openai/gpt-4o", 2, True, "new list"),
    ]
    assert all(actor is not None for _, _, _, actor, _ in added)

    again = ledgerctl(db_file, "prices", "import", str(changed))
    assert "nothing to import" in again.stdout and len(price_rows(db_file)) == len(seeded) + 2


def test_prices_import_withdraws_missing_models_only_when_asked(
    db_file: Path, tmp_path: Path
) -> None:
    ledgerctl(db_file, "migrate")
    only_demo = tmp_path / "demo-only.toml"
    shipped = (ROOT / "data" / "prices.toml").read_text(encoding="utf-8")
    only_demo.write_text(
        "\n\n".join(
            b
            for b in shipped.split("\n\n")
            if 'model = "openai/' not in b and 'model = "anthropic/' not in b
        ),
        encoding="utf-8",
    )
    kept = ledgerctl(db_file, "prices", "import", str(only_demo))
    assert "nothing to import" in kept.stdout
    before = price_rows(db_file)
    dry = ledgerctl(db_file, "prices", "import", str(only_demo), "--withdraw-missing", "--dry-run")
    assert "openai/gpt-4o: withdrawn (now unpriced)" in dry.stdout
    assert price_rows(db_file) == before
    real = ledgerctl(db_file, "prices", "import", str(only_demo), "--withdraw-missing")
    assert "imported 6 new price version(s)" in real.stdout, real.stdout
    assert ("openai/gpt-4o", 2, False, None, None) in price_rows(db_file)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["prices", "import", "/nonexistent/prices.toml"], "cannot read price catalogue"),
        (["prices", "import", "{file}", "--by", "nobody"], "no user named 'nobody'"),
        (["prices"], "the following arguments are required: import"),
        (["prices", "export"], "invalid choice: 'export'"),
    ],
)
def test_prices_import_refusals_are_one_line(
    db_file: Path, tmp_path: Path, args: list[str], words: str
) -> None:
    ledgerctl(db_file, "migrate")
    before = price_rows(db_file)
    path = tmp_path / "prices.toml"
    path.write_text((ROOT / "data" / "prices.toml").read_text().replace("= 100", "= 101", 1))
    result = ledgerctl(db_file, *[a.replace("{file}", str(path)) for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert price_rows(db_file) == before
