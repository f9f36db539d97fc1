"""The credit packs on offer (``data/credit_packs.toml``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workbench.gateway.errors import InvalidRequest


class CreditPack(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    credits: int = Field(gt=0)
    price_usd: str
    note: str = ""


def load(path: Path) -> list[CreditPack]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        return [CreditPack.model_validate(item) for item in raw.get("pack", [])]
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise InvalidRequest(f"cannot read the credit packs {path.name}: {exc}") from None
