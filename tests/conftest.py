"""Shared fixtures: a real SQLite file per test, a fresh PostgreSQL database per test when
``WORKBENCH_TEST_POSTGRES_URL`` is set, a movable clock, and a seeded workspace."""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ledger.amounts import credits
from ledger.service import HoldOutcome, Ledger
from tests.browser_harness import CHROMIUM, NO_CHROMIUM
from tests.fake_providers import FakeProvider
from tests.gateway_harness import Harness, HarnessFactory, build
from workbench.gateway.caller import Caller

ROOT = Path(__file__).resolve().parent.parent
PRICES = ROOT / "data" / "prices.toml"
POSTGRES_URL = os.environ.get("WORKBENCH_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pytest_configure(config: pytest.Config) -> None:
    """No test may touch the developer's own database or images under data/: anything that falls
    back to the default configuration gets a throwaway folder instead."""
    scratch = Path(tempfile.mkdtemp(prefix="workbench-tests-"))
    os.environ.setdefault("WORKBENCH_DATABASE_URL", f"sqlite:///{scratch / 'default.db'}")
    os.environ.setdefault("WORKBENCH_IMAGE_DIR", str(scratch / "images"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_URL:
        return
    skip = pytest.mark.skip(reason="PostgreSQL tests need WORKBENCH_TEST_POSTGRES_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not CHROMIUM.exists():
        terminalreporter.write_line(
            f"NOTE: browser tests were SKIPPED: {NO_CHROMIUM}.", yellow=True, bold=True
        )
    if not POSTGRES_URL:
        terminalreporter.write_line(
            "NOTE: PostgreSQL tests were SKIPPED: set WORKBENCH_TEST_POSTGRES_URL "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test) to run them.",
            yellow=True,
            bold=True,
        )


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """AppTest runs the app script as ``__main__``; put the real one back afterwards, or a later
    test's multiprocessing workers (spawned) would re-run the app script instead of pytest."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


class FakeClock:
    """A clock tests move by hand; aware UTC like the ledger's own."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def new_postgres_database() -> str:
    """Create an empty database on the test server; returns its URL."""
    base = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"wbtest_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    base = sa.make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = sa.make_url(url).database
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need WORKBENCH_TEST_POSTGRES_URL")
    url = new_postgres_database()
    yield url
    drop_postgres_database(url)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, once per backend."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def ledger(db_url: str, clock: FakeClock) -> Iterator[Ledger]:
    """A migrated ledger with the shipped price catalogue, on the injected clock."""
    book = Ledger.open(db_url, clock=clock, pool_size=8)
    book.import_prices(PRICES)
    yield book
    book.close()


@dataclass(frozen=True)
class Seed:
    workspace_id: int
    account_id: int
    admin_id: int
    member_id: int
    # An operator (not a member): top-ups and adjustments are theirs.
    operator_id: int


def seed(book: Ledger, micros: int = 0, slug: str = "acme") -> Seed:
    """A workspace with an admin and a member, an operator, and ``micros`` paid micro-credits
    (``credits(1000)`` for 1,000 credits)."""
    workspace = book.create_workspace(slug, slug.title())
    admin = book.create_user(f"{slug}-admin")
    member = book.create_user(f"{slug}-member")
    book.add_member(workspace.id, admin.id, "admin")
    book.add_member(workspace.id, member.id, "member")
    operator = book.create_user(f"{slug}-operator")
    book.set_operator(operator.id, True, actor_user_id=None, reason="test operator")
    if micros:
        book.grant(workspace.account_id, micros, kind="paid", key=f"seed-{slug}")
    return Seed(workspace.id, workspace.account_id, admin.id, member.id, operator.id)


@pytest.fixture
def seeded(ledger: Ledger) -> Seed:
    """Workspace ``acme`` with an admin, a member and 1,000 paid credits."""
    return seed(ledger, credits(1000))


def reserve_outcome(
    book: Ledger,
    s: Seed,
    amount: int,
    key: str,
    user_id: int | None = None,
    ttl: timedelta | None = None,
) -> HoldOutcome:
    """Reserve ``amount`` micro-credits on the seeded account for a text chat with the demo
    model."""
    return book.reserve(
        s.account_id,
        user_id=user_id or s.member_id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=amount,
        key=key,
        ttl=ttl,
    )


def reserve(
    book: Ledger,
    s: Seed,
    amount: int,
    key: str,
    user_id: int | None = None,
    ttl: timedelta | None = None,
) -> int:
    """As ``reserve_outcome``; returns the hold id."""
    return reserve_outcome(book, s, amount, key, user_id, ttl).hold.id


# --- the provider gateway over loopback fake providers ------------------------------------------


@pytest.fixture(scope="session")
def fake_provider() -> Iterator[FakeProvider]:
    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def make_harness(
    ledger: Ledger, fake_provider: FakeProvider, tmp_path: Path, clock: FakeClock
) -> Iterator[HarnessFactory]:
    """Builds gateways talking to the fake providers, each on a freshly seeded workspace
    (``make_harness(micros=credits(10_000), slug="acme", **settings)``; the caller is its
    member). On teardown, checks that every provider request had exactly one hold and every hold
    ended exactly once with one usage row, across the whole database."""
    fake_provider.reset()
    built: list[Harness] = []

    def factory(micros: int = credits(10_000), slug: str = "acme", **overrides: Any) -> Harness:
        s = seed(ledger, micros, slug)
        caller = Caller(s.member_id, s.workspace_id, s.account_id)
        h = build(ledger, fake_provider, tmp_path / slug, caller, **overrides)
        built.append(h)
        return h

    yield factory
    if built:
        built[0].check_accounting(clock.now)
    fake_provider.reset()


@pytest.fixture
def harness(make_harness: HarnessFactory) -> Harness:
    """A gateway on workspace ``acme`` with 10,000 paid credits (see ``make_harness``)."""
    return make_harness()
