"""Configuration: ``WORKBENCH_*`` environment variables, optionally from a ``.env`` file.

The embedded default needs no configuration at all: a SQLite file under ``data/``, the offline
demo provider, local sign-in. Provider keys are also read under their usual names
(``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``) and, failing those, from Streamlit's secrets
(``workbench.gateway.keys``); they are held as ``SecretStr`` so no repr or log shows them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"


def _env(name: str, *aliases: str) -> AliasChoices:
    return AliasChoices(f"WORKBENCH_{name}", *aliases)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WORKBENCH_",
        env_file=ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- database ---------------------------------------------------------------------------
    database_url: str = Field(
        default=f"sqlite:///{DATA / 'workbench.db'}",
        description="SQLAlchemy URL: sqlite:///path or postgresql://user@host/db",
    )
    price_catalogue: Path = Field(default=DATA / "prices.toml")
    hold_ttl_seconds: int = Field(default=900, gt=0, le=86_400)
    db_pool_size: int = Field(default=20, gt=0)
    sqlite_synchronous: Literal["OFF", "NORMAL", "FULL", "EXTRA"] = "NORMAL"
    sqlite_busy_timeout_s: float = Field(default=30.0, gt=0)
    # The usage dashboards' DuckDB copy (workbench.analytics.mirror): rebuilt from the database,
    # one per process that writes it. Unset: beside the image folder. Set it to a local path when
    # the image folder is a volume several replicas share (DuckDB allows one writing process).
    analytics_mirror: Path | None = None

    # --- sign-in ----------------------------------------------------------------------------
    auth_mode: Literal["local", "oidc", "proxy"] = Field(
        default="local",
        description="local: username and password; oidc: st.login with [auth] in secrets; "
        "proxy: a user header set by a trusted reverse proxy",
    )
    proxy_user_header: str = "X-Forwarded-User"
    # Local sign-in's throttle (workbench.auth.throttle), counted in the database so it holds across
    # app processes: this many failures within the window lock a username, or a client address,
    # for the lock's length. An address gets more room than a name: several people share one.
    sign_in_username_failures: int = Field(default=5, ge=1, le=1000)
    sign_in_address_failures: int = Field(default=20, ge=1, le=10_000)
    sign_in_window_minutes: int = Field(default=15, ge=1, le=1440)
    sign_in_lock_minutes: int = Field(default=15, ge=1, le=1440)
    # Local sign-in's server-side sessions (workbench.auth.web_sessions): ended by this much
    # inactivity, and in any case this long after signing in.
    session_idle_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    session_lifetime_days: float = Field(default=7.0, gt=0, le=366)
    balance_refresh_s: float = Field(default=5.0, gt=0, le=600)

    # --- AI providers -----------------------------------------------------------------------
    model_catalogue: Path = Field(default=DATA / "models.toml")
    credit_packs: Path = Field(default=DATA / "credit_packs.toml")
    default_chat_model: str | None = Field(
        default=None, description="catalogue id; unset means the catalogue's own default"
    )
    default_image_model: str | None = None
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    openai_api_base: str | None = Field(
        default=None, validation_alias=_env("OPENAI_API_BASE", "OPENAI_BASE_URL")
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY")
    )
    anthropic_api_base: str | None = Field(
        default=None, validation_alias=_env("ANTHROPIC_API_BASE", "ANTHROPIC_BASE_URL")
    )
    # One attempt's timeout and the retries after it; the hold TTL is derived from both.
    provider_timeout_s: float = Field(default=60.0, gt=0, le=600)
    provider_max_retries: int = Field(default=2, ge=0, le=5)
    # Per user, across every app process (counted in the database). 0 switches a limit off.
    rate_limit_per_minute: int = Field(default=30, ge=0)
    rate_limit_concurrent: int = Field(default=3, ge=0)
    image_dir: Path = Field(default=DATA / "images")
    # Seconds between the demo provider's streamed words: enough to watch a reply stream.
    demo_stream_delay_s: float = Field(default=0.03, ge=0, le=1)

    # --- billing (Stripe) -------------------------------------------------------------------
    # Without a secret key the packs and plans are listed and the page says purchases are not
    # configured. The webhook secret may hold several (comma-separated) while one is rotated.
    stripe_secret_key: SecretStr | None = Field(
        default=None, validation_alias=_env("STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY")
    )
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("STRIPE_WEBHOOK_SECRET", "STRIPE_WEBHOOK_SECRET")
    )
    # Where the Stripe SDK sends API requests: unset means Stripe itself (tests use a loopback).
    stripe_api_base: str | None = None
    stripe_timeout_s: float = Field(default=20.0, gt=0, le=120)
    plans: Path = Field(default=DATA / "plans.toml")

    # --- observability (workbench.observability) ------------------------------------------------
    # One log line per record on stderr: JSON objects (with the call's request id) or plain text.
    log_format: Literal["json", "text"] = "json"
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
    ] = "INFO"
    # Prompts and replies in the log: only for debugging, never on in production.
    log_prompts: bool = False
    # /metrics answers loopback clients; any other client needs "Authorization: Bearer <this>"
    # (without it, they get 403).
    metrics_token: SecretStr | None = None

    # --- retention (workbench.retention) --------------------------------------------------------
    # Days kept by `workbench purge`; unset keeps forever (0 is refused: it would keep nothing).
    # Whatever is older than the start (00:00 UTC) of the day that many days ago goes:
    # conversations by their last message (with their messages and attached files), stored images
    # by their call, raw usage rows into daily totals (analytics over whole days stay the same).
    # The journal and the audit trail are never purged.
    retention_conversation_days: int | None = Field(default=None, ge=1, le=36_500)
    retention_image_days: int | None = Field(default=None, ge=1, le=36_500)
    retention_usage_days: int | None = Field(default=None, ge=1, le=36_500)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()
