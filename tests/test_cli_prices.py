"""``workbench prices import``: a catalogue file is imported on purpose, a dry run writes nothing,
models the file leaves out keep their prices unless asked, and refusals are one line."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ROOT
from tests.test_cli_ledger import db_file, ledger_cli, workbench

__all__ = ["db_file"]  # the fixture, shared with the ledger commands' tests


def test_prices_import_help_names_its_options(db_file: Path) -> None:
    nested = workbench(db_file, "prices", "import", "--help")
    assert nested.returncode == 0 and "Usage: workbench prices import" in nested.stdout
    assert "--dry-run" in nested.stdout and "--withdraw-missing" in nested.stdout
    assert not db_file.exists()


def test_prices_alone_shows_its_commands(db_file: Path) -> None:
    shown = workbench(db_file, "prices")
    assert shown.returncode == 0 and "import" in shown.stdout and "list" in shown.stdout


def test_prices_import_dry_run_writes_nothing_then_imports(db_file: Path, tmp_path: Path) -> None:
    assert ledger_cli(db_file, "seed").returncode == 0  # the first open seeds data/prices.toml
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

    dry = workbench(db_file, "prices", "import", str(changed), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "demo/chat: price version 2: in 125 / out 400 per million tokens; was in 100" in (
        dry.stdout
    )
    assert "openai/gpt-4o: price version 2: in 2,500 / out 12,000" in dry.stdout
    assert "dry run: 2 new price version(s) would be added; nothing was written" in dry.stdout
    assert price_rows(db_file) == seeded

    # --by names a person, who must be an operator (as on the Pricing & features page).
    refused = workbench(
        db_file, "prices", "import", str(changed), "--by", "admin", "--reason", "new list"
    )
    assert refused.returncode == 2
    assert "only an operator may import prices; admin is not one" in refused.stderr
    assert price_rows(db_file) == seeded
    made = workbench(db_file, "auth", "operator", "admin", "--reason", "runs the price list")
    assert made.returncode == 0, made.stderr
    assert "'admin' is now an operator" in made.stdout
    real = workbench(
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

    again = workbench(db_file, "prices", "import", str(changed))
    assert "nothing to import" in again.stdout and len(price_rows(db_file)) == len(seeded) + 2


def test_prices_import_withdraws_missing_models_only_when_asked(
    db_file: Path, tmp_path: Path
) -> None:
    ledger_cli(db_file, "migrate")
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
    kept = workbench(db_file, "prices", "import", str(only_demo))
    assert "nothing to import" in kept.stdout
    before = price_rows(db_file)
    dry = workbench(db_file, "prices", "import", str(only_demo), "--withdraw-missing", "--dry-run")
    assert "openai/gpt-4o: withdrawn (now unpriced)" in dry.stdout
    assert price_rows(db_file) == before
    real = workbench(db_file, "prices", "import", str(only_demo), "--withdraw-missing")
    # One withdrawal per provider model the shipped file prices.
    withdrawn = sum(
        1 for b in shipped.split("\n\n") if 'model = "openai/' in b or 'model = "anthropic/' in b
    )
    assert withdrawn >= 6
    assert f"imported {withdrawn} new price version(s)" in real.stdout, real.stdout
    assert ("openai/gpt-4o", 2, False, None, None) in price_rows(db_file)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["prices", "import", "/nonexistent/prices.toml"], "cannot read price catalogue"),
        (["prices", "import", "{file}", "--by", "nobody"], "no user named 'nobody'"),
        (["prices", "export"], "No such command 'export'"),
    ],
)
def test_prices_import_refusals_are_one_line(
    db_file: Path, tmp_path: Path, args: list[str], words: str
) -> None:
    ledger_cli(db_file, "migrate")
    before = price_rows(db_file)
    path = tmp_path / "prices.toml"
    path.write_text((ROOT / "data" / "prices.toml").read_text().replace("= 100", "= 101", 1))
    result = workbench(db_file, *[a.replace("{file}", str(path)) for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], result.stderr
    assert price_rows(db_file) == before


def price_rows(db_file: Path) -> list[tuple[str, int, bool, int | None, str | None]]:
    engine = sa.create_engine(f"sqlite:///{db_file}")
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT model, version, active, created_by_user_id, reason FROM price_versions "
            "ORDER BY model, version"
        ).all()
    engine.dispose()
    return [(r[0], r[1], bool(r[2]), r[3], r[4]) for r in rows]
