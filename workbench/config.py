"""Configuration: ``WORKBENCH_*`` environment variables, optionally from a ``.env`` file.

The embedded default needs no configuration at all: a SQLite file under ``data/``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WORKBENCH_", env_file=ROOT / ".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default=f"sqlite:///{DATA / 'workbench.db'}",
        description="SQLAlchemy URL: sqlite:///path or postgresql://user@host/db",
    )
    price_catalogue: Path = Field(default=DATA / "prices.toml")
    hold_ttl_seconds: int = Field(default=900, gt=0, le=86_400)
    db_pool_size: int = Field(default=20, gt=0)
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "NORMAL"
    sqlite_busy_timeout_s: float = Field(default=30.0, gt=0)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()
