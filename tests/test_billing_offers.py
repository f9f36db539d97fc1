"""What can be bought: the pack and plan files seed an empty database once (start-up never changes
the catalogue afterwards), a bad file is refused in one clear sentence with nothing seeded, and
``workbench billing offers`` lists what the database holds."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger.amounts import credits
from ledger.service import Ledger
from tests.conftest import FakeClock
from tests.test_cli_ledger import db_file, workbench
from workbench.billing import offers
from workbench.config import DATA
from workbench.db import schema as app_schema
from workbench.gateway.errors import InvalidRequest

__all__ = ["db_file"]

PACKS = DATA / "credit_packs.toml"
PLANS = DATA / "plans.toml"


@pytest.fixture
def book(ledger: Ledger) -> Ledger:
    app_schema.migrate(ledger.engine)
    return ledger


def count(book: Ledger) -> int:
    with book.engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(app_schema.offers)).scalar_one()
        )


def test_the_files_seed_an_empty_catalogue_once(
    book: Ledger, clock: FakeClock, tmp_path: Path
) -> None:
    assert offers.seed(book.engine, PACKS, PLANS, clock.now) == 5
    with book.engine.connect() as conn:
        packs = offers.listed(conn, "pack")
        plans = offers.listed(conn, "plan")
        by_price = offers.by_price(conn, "price_workbench_team_monthly")
    assert [(p.id, p.micros) for p in packs] == [
        ("starter", credits(10000)),
        ("team", credits(55000)),
        ("department", credits(240000)),
    ]
    assert [p.id for p in plans] == ["team-monthly", "department-monthly"]
    assert by_price is not None and by_price.kind == "plan" and by_price.micros == credits(60000)
    changed = tmp_path / "packs.toml"
    changed.write_text(PACKS.read_text().replace("credits = 10000", "credits = 1"), "utf-8")
    assert offers.seed(book.engine, changed, PLANS, clock.now) == 0
    with book.engine.connect() as conn:
        assert offers.by_id(conn, "pack", "starter") == packs[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[pack]]\nid = "a"\nname = "A"\ncredits = "10"\nprice_usd = "1.00"\n', "credits"),
        ('[[pack]]\nid = "a"\nname = "A"\ncredits = 10\nprice_usd = "ten"\n', "price_usd"),
        ('[[pack]]\nid = "a"\nname = "A"\ncredits = 0\nprice_usd = "1.00"\n', "micros"),
        ('[[pack]]\nid = "a"\nname = "A"\ncredits = 10\nprice_usd = "1.00"\nextra = 1\n', "extra"),
        (
            '[[pack]]\nid = "a"\nname = "A"\ncredits = 1\nprice_usd = "1.00"\n'
            '[[pack]]\nid = "a"\nname = "B"\ncredits = 2\nprice_usd = "2.00"\n',
            "id a appears more than once",
        ),
        ("[[pack]\n", "cannot read"),
    ],
)
def test_a_bad_catalogue_is_refused_and_seeds_nothing(
    book: Ledger, clock: FakeClock, tmp_path: Path, text: str, message: str
) -> None:
    bad = tmp_path / "credit_packs.toml"
    bad.write_text(text, "utf-8")
    with pytest.raises(InvalidRequest, match=message):
        offers.seed(book.engine, bad, PLANS, clock.now)
    assert count(book) == 0


def test_the_same_price_in_packs_and_plans_is_refused(
    book: Ledger, clock: FakeClock, tmp_path: Path
) -> None:
    plans = tmp_path / "plans.toml"
    plans.write_text(
        '[[plan]]\nid = "p"\nname = "P"\nmonthly_credits = 5\nprice_usd = "5.00"\n'
        'stripe_price = "price_workbench_starter"\n',
        "utf-8",
    )
    with pytest.raises(InvalidRequest, match="stripe_price price_workbench_starter"):
        offers.seed(book.engine, PACKS, plans, clock.now)
    assert count(book) == 0


def test_the_command_line_lists_the_catalogue(db_file: Path) -> None:
    shown = workbench(db_file, "billing", "offers")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any(line.startswith("pack  starter") and "10,000 credits" in line for line in lines)
    assert any("team-monthly" in line and "60,000 credits a month" in line for line in lines)
    assert "Purchases are not configured" in shown.stdout
    events = workbench(db_file, "billing", "events")
    assert events.returncode == 0 and "No Stripe event received yet." in events.stdout
