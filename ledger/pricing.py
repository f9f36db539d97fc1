"""Versioned prices, loaded from the catalogue file in ``data/``, and the arithmetic of cost.

A price version is immutable; changing a model's price in the catalogue adds a new version, and
each hold (later each usage row) records the version it was priced with. A model whose latest
version is inactive, or that never had one, is *unpriced*: nothing can be reserved against it.

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

from ledger.amounts import check_amount, check_count, credits
from ledger.errors import InvalidInput, UnpricedModel
from ledger.features import PRICE_UNITS, OperationType, PriceUnit, operation_type
from ledger.schema import image_prices, price_versions

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
            f"priced: {offered}",
            model=price.model,
            size=size,
            quality=quality,
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
        raise InvalidInput(f"cannot read price catalogue {path}: {exc}", path=str(path)) from None
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
            feature_key=feature_key,
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
        raise UnpricedModel(f"no price version {version_id!r}", version_id=version_id)
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


def sync_catalogue(conn: Connection, catalogue: Sequence[Price], now: datetime) -> list[str]:
    """Add a price version for every model whose terms changed; withdraw models no longer listed.

    Returns a line per change. Running it again with the same catalogue changes nothing.
    """
    changes: list[str] = []
    listed = {price.model for price in catalogue}
    for price in catalogue:
        latest = conn.execute(
            sa.select(price_versions.c.version, price_versions.c.active)
            .where(price_versions.c.model == price.model)
            .order_by(price_versions.c.version.desc())
            .limit(1)
        ).first()
        if (
            latest is not None
            and latest.active
            and current_price(conn, price.model).same_terms(price)
        ):
            continue
        version = 1 if latest is None else latest.version + 1
        _insert_version(conn, price, version, True, now)
        changes.append(f"{price.model}: price version {version}")
    known = conn.execute(sa.select(price_versions.c.model).distinct()).scalars().all()
    for model in sorted(set(known) - listed):
        latest = conn.execute(
            sa.select(price_versions)
            .where(price_versions.c.model == model)
            .order_by(price_versions.c.version.desc())
            .limit(1)
        ).one()
        if latest.active:
            withdrawn = Price(model=model, feature_key=latest.feature_key)
            _insert_version(conn, withdrawn, latest.version + 1, False, now)
            changes.append(f"{model}: withdrawn (now unpriced)")
    return changes


def _insert_version(
    conn: Connection, price: Price, version: int, active: bool, now: datetime
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
