"""The app with (or without) Stripe, for My credits' and Credit admin's billing tests.

``billing_env(tmp_path, monkeypatch, fake)`` is ``tests.app_harness.app_env`` with the app's
Stripe settings pointed at the loopback fake (``tests.stripe_fakes``): a test secret key, a
webhook secret and ``WORKBENCH_STRIPE_API_BASE``, so checkout and portal sessions go through the
real ``stripe`` SDK over HTTP. Every Price ID of the shipped catalogue (``data/credit_packs.toml``,
``data/plans.toml``, seeded into the database) is added to the fake at its list price. Without a
fake, Stripe is switched off: no key, whatever the developer's shell holds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from ledger.schema import audit_events, entries, grants
from tests.app_harness import AppEnv, app_env
from tests.stripe_fakes import FakeStripe
from workbench.billing.offers import OfferKind
from workbench.db.schema import auto_top_ups, payments

SECRET_KEY = "sk_test_workbench_app"
WEBHOOK_SECRET = "whsec_workbench_app"


def stripe_settings(fake: FakeStripe) -> dict[str, str]:
    return {
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WORKBENCH_STRIPE_API_BASE": fake.base_url,
        "WORKBENCH_STRIPE_TIMEOUT_S": "10",
    }


def add_catalogue_prices(env: AppEnv, fake: FakeStripe) -> None:
    """The fake sells every offer in the app's catalogue, at its list price."""
    kinds: tuple[OfferKind, ...] = ("pack", "plan")
    for kind in kinds:
        for offer in env.svc.billing.offers(kind):
            assert offer.stripe_price is not None
            fake.add_price(
                offer.stripe_price,
                unit_amount=int(Decimal(offer.price_usd) * 100),
                recurring_interval="month" if kind == "plan" else None,
            )


@contextmanager
def billing_env(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeStripe | None = None,
    *,
    micros: int = credits(50_000),
) -> Iterator[AppEnv]:
    # The app harness clears every Stripe variable, then sets these.
    stripe = stripe_settings(fake) if fake is not None else {}
    with app_env(tmp_path, monkeypatch, micros=micros, **stripe) as env:
        assert env.svc.billing.configured == (fake is not None)
        if fake is not None:
            add_catalogue_prices(env, fake)
        yield env


# --- reading what happened ---------------------------------------------------------------------


def count(env: AppEnv, table: sa.Table, **where: Any) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with env.svc.ledger.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def money_state(env: AppEnv) -> tuple[int, int, int, int, int, int]:
    """What an uncredited return must leave as it was: balance, debt, journal lines, grants,
    payments and audit events."""
    balance = env.svc.ledger.balance(env.account_id)
    return (
        balance.balance,
        balance.debt,
        count(env, entries),
        count(env, grants),
        count(env, payments),
        count(env, audit_events),
    )


def auto_top_up_rows(env: AppEnv) -> list[Any]:
    with env.svc.ledger.engine.connect() as conn:
        return list(conn.execute(sa.select(auto_top_ups)))


def checkout_requests(fake: FakeStripe) -> list[Any]:
    return fake.requests_to("POST", "/v1/checkout/sessions")


def link_buttons(at: AppTest) -> dict[str, str]:
    """The page's link buttons, label to URL (AppTest has no typed accessor for them)."""
    return {str(b.proto.label): str(b.proto.url) for b in at.get("link_button")}


def texts_of(at: AppTest, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]
