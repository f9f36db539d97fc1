"""Versioned prices in the database, the catalogue file that seeds them, and the arithmetic of cost.

Prices live in the database. ``data/prices.toml`` seeds an empty database and can be imported on
purpose (``plan_import``/``apply``); an operator's change (``Ledger.set_price``) is a new version
too. A price version is immutable and records who added it (NULL: the catalogue file) and when;
each hold and usage row records the version it was priced with. A model whose latest version is
inactive, or that never had one, is *unpriced*: nothing can be reserved against it.

The catalogue file says credits per million tokens and credits per image (decimals allowed, up to
six); the database and ``Price`` hold integer micro-credits per million tokens and per image. A
call's cost is its exact list price rounded up to a whole micro-credit once, over the sum of its
parts: ``ceil((in * in_price + out * out_price) / 10**6)`` micro-credits, so a call never costs less
than its tokens' worth and never more than a millionth of a credit above it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger.amounts import check_amount, check_count, credits, format_credits
from ledger.errors import InvalidInput, UnpricedModel
from ledger.features import PRICE_UNITS, OperationType, PriceUnit, operation_type
from ledger.schema import image_prices, price_versions, users

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class Price:
    """One model's price at one version, in micro-credits per million tokens and per image."""

    model: str
    feature_key: str
    input_per_mtok: int | None = None
    output_per_mtok: int | None = None
    images: Mapping[tuple[str, str], int] = field(default_factory=dict)
    version_id: int | None = None
    version: int | None = None

    @property
    def operation_type(self) -> OperationType:
        return operation_type(self.feature_key)

    def same_terms(self, other: Price) -> bool:
        return (self.feature_key, self.input_per_mtok, self.output_per_mtok, dict(self.images)) == (
            other.feature_key,
            other.input_per_mtok,
            other.output_per_mtok,
            dict(other.images),
        )


def token_cost(price: Price, input_tokens: int, output_tokens: int) -> int:
    """Micro-credits for a text call: the exact list price rounded up once, over input and output
    together, to a whole micro-credit."""
    if price.input_per_mtok is None or price.output_per_mtok is None:
        raise UnpricedModel(f"model {price.model!r} has no token price", model=price.model)
    check_count(input_tokens, "input tokens", allow_zero=True)
    check_count(output_tokens, "output tokens", allow_zero=True)
    exact = input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok
    return -(-exact // PER_MILLION)


def chat_estimate(price: Price, prompt_tokens: int, max_tokens: int, n: int = 1) -> int:
    """What a chat call may cost at most: the prompt plus ``max_tokens`` for each of ``n`` replies.

    In micro-credits, never below one, so every call holds something.
    """
    check_count(n, "n")
    check_count(max_tokens, "max_tokens")
    return max(1, token_cost(price, prompt_tokens, max_tokens * n))


def image_cost(price: Price, size: str, quality: str, n: int) -> int:
    """Micro-credits for ``n`` images of one size and quality."""
    check_count(n, "number of images", allow_zero=True)
    try:
        per_image = price.images[(size, quality)]
    except KeyError:
        offered = ", ".join(f"{s}/{q}" for s, q in sorted(price.images)) or "none"
        raise InvalidInput(
            f"model {price.model!r} has no price for size {size!r} at quality {quality!r}; "
            f"priced: {offered}"
        ) from None
    return per_image * n


# --- the catalogue file ----------------------------------------------------------------------


def load_catalogue(path: Path) -> list[Price]:
    """Parse and validate ``prices.toml``; a bad file is refused whole with the entry named.

    Numbers with decimals are read as exact decimals (never floats) and become micro-credits.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"cannot read price catalogue {path}: {exc}") from None
    prices: list[Price] = []
    seen: set[str] = set()
    for index, raw in enumerate(document.get("model", [])):
        price = _parse_entry(raw, f"{path.name} model #{index + 1}")
        if price.model in seen:
            raise InvalidInput(f"{path.name}: model {price.model!r} is priced twice")
        seen.add(price.model)
        prices.append(price)
    return prices


def _parse_entry(raw: Mapping[str, Any], where: str) -> Price:
    model = raw.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidInput(f"{where}: 'model' must be a non-empty string")
    feature = raw.get("feature")
    try:
        unit = PRICE_UNITS[operation_type(str(feature))]
    except InvalidInput:
        raise
    except Exception as exc:
        raise InvalidInput(f"{where} ({model}): {exc}") from None
    if unit is PriceUnit.TOKENS:
        try:
            input_price = _catalogue_credits(raw.get("input_per_million"), "input_per_million")
            output_price = _catalogue_credits(raw.get("output_per_million"), "output_per_million")
        except InvalidInput as exc:
            raise InvalidInput(f"{where} ({model}): {exc.message}") from None
        return Price(model, str(feature), input_price, output_price)
    images: dict[tuple[str, str], int] = {}
    table = raw.get("images")
    if not isinstance(table, Mapping) or not table:
        raise InvalidInput(f"{where} ({model}): 'images' must map sizes to {{quality = credits}}")
    for size, qualities in table.items():
        if not isinstance(qualities, Mapping) or not qualities:
            raise InvalidInput(f"{where} ({model}): size {size!r} needs {{quality = credits}}")
        for quality, listed in qualities.items():
            try:
                images[(str(size), str(quality))] = _catalogue_credits(listed, "image price")
            except InvalidInput as exc:
                raise InvalidInput(f"{where} ({model} {size}/{quality}): {exc.message}") from None
    return Price(model, str(feature), images=images)


def _catalogue_credits(value: object, what: str) -> int:
    """A price written in credits (an int, or a decimal read exactly), as micro-credits."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidInput(f"{what} must be a number of credits, got {value!r:.40}")
    return check_amount(credits(value), what, allow_zero=True)


# --- prices in the database ------------------------------------------------------------------


def check_current(
    model: str,
    feature_key: str,
    version_id: int | None,
    version_feature_key: str | None,
    active: bool | None,
) -> int:
    """Given the model's latest price version (or None), its id, or ``UnpricedModel``."""
    if version_id is None or not active:
        raise UnpricedModel(
            f"model {model!r} has no price, so it cannot be used (an admin must price it first)",
            model=model,
        )
    if version_feature_key != feature_key:
        raise UnpricedModel(
            f"model {model!r} is priced for {version_feature_key!r}, not {feature_key!r}",
            model=model,
        )
    return version_id


def current_price(conn: Connection, model: str) -> Price:
    row = conn.execute(
        sa.select(price_versions)
        .where(price_versions.c.model == model)
        .order_by(price_versions.c.version.desc())
        .limit(1)
    ).first()
    if row is None or not row.active:
        raise UnpricedModel(
            f"model {model!r} has no price, so it cannot be used (an admin must price it first)",
            model=model,
        )
    return _price_from_row(conn, row)


def price_version(conn: Connection, version_id: int) -> Price:
    """One price version by id (what a hold was priced at), active or not: versions never change."""
    row = conn.execute(sa.select(price_versions).where(price_versions.c.id == version_id)).first()
    if row is None:
        raise UnpricedModel(f"no price version {version_id!r}")
    return _price_from_row(conn, row)


def _price_from_row(conn: Connection, row: Any) -> Price:
    images = {
        (r.size, r.quality): r.micros_per_image
        for r in conn.execute(
            sa.select(image_prices).where(image_prices.c.price_version_id == row.id)
        )
    }
    return Price(
        model=row.model,
        feature_key=row.feature_key,
        input_per_mtok=row.input_micros_per_mtok,
        output_per_mtok=row.output_micros_per_mtok,
        images=images,
        version_id=row.id,
        version=row.version,
    )


def priced_models(conn: Connection) -> list[Price]:
    latest = (
        sa.select(price_versions.c.model, sa.func.max(price_versions.c.version).label("version"))
        .group_by(price_versions.c.model)
        .subquery()
    )
    query = (
        sa.select(price_versions.c.model)
        .join(
            latest,
            sa.and_(
                latest.c.model == price_versions.c.model,
                latest.c.version == price_versions.c.version,
            ),
        )
        .where(price_versions.c.active.is_(True))
        .order_by(price_versions.c.model)
    )
    return [current_price(conn, model) for model in conn.execute(query).scalars()]


@dataclass(frozen=True)
class PriceChange:
    """One version an import or a price change adds (or would add, in a dry run)."""

    model: str
    version: int
    price: Price
    previous: Price | None = None
    withdrawn: bool = False

    def __str__(self) -> str:
        if self.withdrawn:
            return f"{self.model}: withdrawn (now unpriced)"
        return f"{self.model}: price version {self.version}"

    def describe(self) -> str:
        """The change with its terms, old → new, for a person to check before importing."""
        if self.withdrawn:
            return f"{self} (was {terms(self.previous)})" if self.previous else str(self)
        was = f"; was {terms(self.previous)}" if self.previous else " (new model)"
        return f"{self}: {terms(self.price)}{was}"


def terms(price: Price | None) -> str:
    """A price's terms in one line, in credits: ``in 100 / out 400 per million tokens``, or
    per image (every decimal shown: a price is compared with the old one digit by digit)."""
    if price is None:
        return "unpriced"
    if price.images:
        each = ", ".join(
            f"{s} {q} {format_credits(c, exact=True)}" for (s, q), c in sorted(price.images.items())
        )
        return f"{each} per image"
    per_in = format_credits(price.input_per_mtok or 0, exact=True)
    per_out = format_credits(price.output_per_mtok or 0, exact=True)
    return f"in {per_in} / out {per_out} per million tokens"


@dataclass(frozen=True)
class PriceVersionRecord:
    """One version in a model's history: its terms, whether it priced the model, who and when."""

    price: Price
    active: bool
    effective_at: datetime
    created_by_user_id: int | None
    # The author's username; None for the catalogue file.
    created_by: str | None
    reason: str | None


def check_price(price: Price) -> Price:
    """A price as an operator typed it: the feature is sold and the terms fit its unit."""
    if not isinstance(price.model, str) or not price.model.strip() or len(price.model) > 200:
        raise InvalidInput(f"model must be a non-empty name, got {price.model!r:.60}")
    unit = PRICE_UNITS[operation_type(price.feature_key)]
    if unit is PriceUnit.TOKENS:
        if price.images:
            raise InvalidInput(f"{price.model}: a token-priced model has no image prices")
        check_amount(price.input_per_mtok, "input credits per million tokens", allow_zero=True)
        check_amount(price.output_per_mtok, "output credits per million tokens", allow_zero=True)
        return price
    if price.input_per_mtok is not None or price.output_per_mtok is not None:
        raise InvalidInput(f"{price.model}: an image model is priced per image, not per token")
    if not price.images:
        raise InvalidInput(f"{price.model}: give at least one size and quality with its price")
    for (size, quality), micros in price.images.items():
        if not isinstance(size, str) or not size or not isinstance(quality, str) or not quality:
            raise InvalidInput(f"{price.model}: image sizes and qualities must be names")
        check_amount(micros, f"price of a {size} {quality} image", allow_zero=True)
    return price


def plan_import(
    conn: Connection, catalogue: Sequence[Price], *, withdraw_missing: bool = False
) -> list[PriceChange]:
    """The versions importing ``catalogue`` adds: one for every model whose terms differ from its
    current price (or that is unpriced), and with ``withdraw_missing`` an inactive version for
    every priced model the catalogue does not list. Reads only; ``apply`` writes the plan.
    """
    changes: list[PriceChange] = []
    for price in catalogue:
        latest = _latest_version(conn, price.model)
        current = _price_from_row(conn, latest) if latest is not None and latest.active else None
        if current is not None and current.same_terms(price):
            continue
        version = 1 if latest is None else latest.version + 1
        changes.append(PriceChange(price.model, version, price, current))
    if withdraw_missing:
        listed = {price.model for price in catalogue}
        for current in priced_models(conn):
            if current.model not in listed:
                assert current.version is not None
                withdrawn = Price(model=current.model, feature_key=current.feature_key)
                changes.append(
                    PriceChange(current.model, current.version + 1, withdrawn, current, True)
                )
    return changes


def apply(
    conn: Connection,
    changes: Sequence[PriceChange],
    now: datetime,
    *,
    actor_user_id: int | None = None,
    reason: str | None = None,
) -> None:
    """Write the versions ``changes`` plans, in the caller's transaction."""
    for change in changes:
        _insert_version(
            conn,
            change.price,
            change.version,
            not change.withdrawn,
            now,
            actor_user_id=actor_user_id,
            reason=reason,
        )


def has_prices(conn: Connection) -> bool:
    return conn.execute(sa.select(price_versions.c.id).limit(1)).first() is not None


def history(conn: Connection, model: str, limit: int = 100) -> list[PriceVersionRecord]:
    """A model's price versions, newest first, with who added each and when."""
    rows = conn.execute(
        sa.select(price_versions, users.c.username.label("created_by"))
        .outerjoin(users, users.c.id == price_versions.c.created_by_user_id)
        .where(price_versions.c.model == model)
        .order_by(price_versions.c.version.desc())
        .limit(limit)
    )
    return [
        PriceVersionRecord(
            price=_price_from_row(conn, row),
            active=bool(row.active),
            effective_at=row.effective_at,
            created_by_user_id=row.created_by_user_id,
            created_by=row.created_by,
            reason=row.reason,
        )
        for row in rows
    ]


def _latest_version(conn: Connection, model: str) -> Any:
    return conn.execute(
        sa.select(price_versions)
        .where(price_versions.c.model == model)
        .order_by(price_versions.c.version.desc())
        .limit(1)
    ).first()


def _insert_version(
    conn: Connection,
    price: Price,
    version: int,
    active: bool,
    now: datetime,
    *,
    actor_user_id: int | None = None,
    reason: str | None = None,
) -> None:
    version_id = conn.execute(
        price_versions.insert()
        .values(
            model=price.model,
            version=version,
            feature_key=price.feature_key,
            active=active,
            input_micros_per_mtok=price.input_per_mtok,
            output_micros_per_mtok=price.output_per_mtok,
            effective_at=now,
            created_by_user_id=actor_user_id,
            reason=reason,
        )
        .returning(price_versions.c.id)
    ).scalar_one()
    if price.images:
        conn.execute(
            image_prices.insert(),
            [
                {"price_version_id": version_id, "size": s, "quality": q, "micros_per_image": c}
                for (s, q), c in price.images.items()
            ],
        )
