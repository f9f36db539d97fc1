"""What a workspace can buy: credit packs (one payment) and plans (a monthly subscription).

The files ``data/credit_packs.toml`` and ``data/plans.toml`` seed an empty database, as the price
catalogue does; from then on the ``offers`` table is the catalogue, read by the pages and by
fulfilment (a Stripe Price ID names the offer a payment was for). An offer with no Stripe Price ID
is listed but cannot be bought.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.engine import Connection, Engine

from ledger.amounts import credits
from ledger.errors import InvalidAmount
from workbench.db.schema import offers
from workbench.gateway.errors import InvalidRequest

OfferKind = Literal["pack", "plan"]


@dataclass(frozen=True)
class Offer:
    kind: OfferKind
    id: str
    name: str
    # Credits a purchase gives (a pack) or a month of the plan gives, in micro-credits.
    micros: int
    price_usd: str
    stripe_price: str | None = None
    note: str = ""

    @property
    def buyable(self) -> bool:
        return bool(self.stripe_price)


class _OfferFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    micros: int = Field(gt=0)
    price_usd: str = Field(pattern=r"^\d{1,9}(\.\d{2})?$")
    stripe_price: str | None = Field(default=None, min_length=1, max_length=255)
    note: str = Field(default="", max_length=200)

    @field_validator("micros", mode="before")
    @classmethod
    def _in_credits(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise ValueError(f"credits must be a number, got {value!r:.40}")
        try:
            return credits(value)
        except InvalidAmount as exc:
            raise ValueError(exc.message) from None


def load_file(path: Path, kind: OfferKind) -> list[Offer]:
    """The offers of one catalogue file: ``[[pack]]`` with ``credits``, or ``[[plan]]`` with
    ``monthly_credits``."""
    table, amount = ("pack", "credits") if kind == "pack" else ("plan", "monthly_credits")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        items = raw.get(table, [])
        if not isinstance(items, list):
            raise InvalidRequest(f"{path.name}: [[{table}]] must be a list of tables")
        parsed = []
        for item in items:
            fields = dict(item)
            if amount in fields:
                fields["micros"] = fields.pop(amount)
            parsed.append(_OfferFile.model_validate(fields))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise InvalidRequest(f"cannot read the {table} catalogue {path.name}: {exc}") from None
    found = [Offer(kind=kind, **p.model_dump()) for p in parsed]
    _refuse_duplicates(found, path.name)
    return found


def _refuse_duplicates(found: Sequence[Offer], where: str) -> None:
    ids = [o.id for o in found]
    prices = [o.stripe_price for o in found if o.stripe_price]
    for what, values in (("id", ids), ("stripe_price", prices)):
        repeated = sorted({v for v in values if values.count(v) > 1})
        if repeated:
            raise InvalidRequest(f"{where}: {what} {', '.join(repeated)} appears more than once")


def seed(engine: Engine, packs_file: Path, plans_file: Path, now: datetime) -> int:
    """Fill an empty ``offers`` table from the files; returns how many were added (0 when the
    table already had offers: start-up never changes the catalogue)."""
    found = [*load_file(packs_file, "pack")]
    if plans_file.exists():
        found += load_file(plans_file, "plan")
    _refuse_duplicates(found, f"{packs_file.name} and {plans_file.name}")
    with engine.begin() as conn:
        if conn.execute(sa.select(sa.func.count()).select_from(offers)).scalar_one():
            return 0
        if found:
            conn.execute(
                offers.insert(),
                [
                    {**_row(offer), "position": n, "active": True, "created_at": now}
                    for n, offer in enumerate(found)
                ],
            )
    return len(found)


def _row(offer: Offer) -> dict[str, Any]:
    return {
        "kind": offer.kind,
        "id": offer.id,
        "name": offer.name,
        "micros": offer.micros,
        "price_usd": offer.price_usd,
        "stripe_price": offer.stripe_price,
        "note": offer.note,
    }


def _offer(row: Any) -> Offer:
    return Offer(
        kind=row.kind,
        id=row.id,
        name=row.name,
        micros=row.micros,
        price_usd=row.price_usd,
        stripe_price=row.stripe_price,
        note=row.note,
    )


def listed(conn: Connection, kind: OfferKind) -> list[Offer]:
    """The active offers of one kind, in catalogue order."""
    query = (
        sa.select(offers)
        .where(offers.c.kind == kind, offers.c.active.is_(True))
        .order_by(offers.c.position, offers.c.id)
    )
    return [_offer(row) for row in conn.execute(query)]


def by_id(conn: Connection, kind: OfferKind, offer_id: str) -> Offer | None:
    row = conn.execute(
        sa.select(offers).where(offers.c.kind == kind, offers.c.id == offer_id)
    ).first()
    return None if row is None else _offer(row)


def by_price(conn: Connection, stripe_price: str) -> Offer | None:
    """The offer a Stripe Price ID stands for (withdrawn ones too: a payment for an offer that was
    since withdrawn is still credited)."""
    row = conn.execute(sa.select(offers).where(offers.c.stripe_price == stripe_price)).first()
    return None if row is None else _offer(row)
