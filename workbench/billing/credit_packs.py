"""The credit packs on offer (``data/credit_packs.toml``).

The file says how many credits a pack gives (a whole number, or up to six decimals); a
``CreditPack`` carries that amount in micro-credits (``micros``), the unit the ledger grants in.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ledger.amounts import credits
from ledger.errors import InvalidAmount
from workbench.gateway.errors import InvalidRequest


class CreditPack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    # ``credits = 10000`` in the file; micro-credits here.
    micros: int = Field(alias="credits", gt=0)
    price_usd: str
    note: str = ""

    @field_validator("micros", mode="before")
    @classmethod
    def _in_credits(cls, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise ValueError(f"credits must be a number, got {value!r:.40}")
        try:
            return credits(value)
        except InvalidAmount as exc:
            raise ValueError(exc.message) from None


def load(path: Path) -> list[CreditPack]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
        return [CreditPack.model_validate(item) for item in raw.get("pack", [])]
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise InvalidRequest(f"cannot read the credit packs {path.name}: {exc}") from None
