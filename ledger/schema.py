"""Tables of the ledger (SQLAlchemy Core). Alembic migrations create them; this describes them.

Cascades: only rows that mean nothing without their parent cascade (a membership without its user
or workspace, an image price without its price version). Everything that records money (accounts,
grants, holds, entries) references its parents with the default NO ACTION, so deleting a workspace
or user that has money history fails loudly instead of erasing the history: deactivate instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect

from ledger.statuses import HoldStatus, UsageStatus

ROLES = ("admin", "member")
AUDIT_TARGETS = (
    "workspace",
    "user",
    "membership",
    "grant",
    "hold",
    "model",
    "feature",
    "retention",
)
GRANT_KINDS = ("paid", "plan", "promo", "adjustment")
HOLD_STATUSES = tuple(status.value for status in HoldStatus)
ENTRY_KINDS = ("grant", "hold", "capture", "release", "expire", "refund", "adjustment")
USAGE_STATUSES = tuple(status.value for status in UsageStatus)
SWITCH_KINDS = ("model", "feature")


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are stored as naive UTC
    text and come back aware. Naive datetimes are refused on the way in: a local time stored by
    accident would shift every expiry by the server's offset.

    On SQLite the text is written and read here, in SQLAlchemy's own SQLite ``DATETIME`` format
    (``2026-01-31 12:00:00.000000``, so stored values compare as text in time order), by one
    ``isoformat`` / ``fromisoformat`` call each way: every hot statement binds the time.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _SQLITE_TEXT
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; use an aware UTC datetime")
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # "YYYY-MM-DD HH:MM:SS.ffffff+00:00" without its offset.
            return value.isoformat(" ", "microseconds")[:26]
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _SQLiteText(sqlite.DATETIME):
    """SQLite's ``DATETIME`` (as Alembic compares it) whose values ``UTCDateTime`` has already
    turned into, and takes back from, its text: no processors of its own."""

    def bind_processor(self, dialect: Dialect) -> None:
        return None

    def result_processor(self, dialect: Dialect, coltype: object) -> None:
        return None


_SQLITE_TEXT = _SQLiteText()  # type: ignore[no-untyped-call]  # SQLAlchemy's own is untyped


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Every money column holds micro-credits (1 credit = 1,000,000; see ledger.amounts).
Credits = sa.BigInteger

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("slug", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    # Below this many available micro-credits every page of the workspace warns; NULL: never.
    sa.Column("low_balance_threshold", Credits, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(
        "low_balance_threshold IS NULL OR low_balance_threshold >= 0",
        name="threshold_nonnegative",
    ),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
    # The platform or finance team: top-ups and adjustments anywhere, prices, models, switches.
    sa.Column("is_operator", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

memberships = sa.Table(
    "memberships",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "workspace_id",
        sa.Integer,
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    # Credits a member may spend per calendar month (UTC); NULL means no cap.
    sa.Column("monthly_cap", Credits, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("workspace_id", "user_id"),
    sa.CheckConstraint(_in("role", ROLES), name="role"),
    sa.CheckConstraint("monthly_cap IS NULL OR monthly_cap >= 0", name="cap_nonnegative"),
    sa.Index(None, "user_id"),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("name", sa.String(64), nullable=False, server_default="main"),
    # Cached sums of the journal, maintained only by the trigger on ``entries``.
    sa.Column("balance", Credits, nullable=False, server_default="0"),
    sa.Column("held", Credits, nullable=False, server_default="0"),
    # Earliest expiry among grants that still have credits: lets every operation notice, without
    # a query, that grant expiry is due on this account.
    sa.Column("next_grant_expiry", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("workspace_id", "name"),
    sa.CheckConstraint("held >= 0", name="held_nonnegative"),
    sa.CheckConstraint("balance - held >= 0", name="available_nonnegative"),
    # Credits owed: taken back by a refund after they were spent (``ledger.payments``); the
    # account's net balance is ``balance - debt``. Kept by the journal trigger like ``balance``.
    sa.Column("debt", Credits, nullable=False, server_default="0"),
    sa.CheckConstraint("debt >= 0", name="debt_nonnegative"),
)

price_versions = sa.Table(
    "price_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("feature_key", sa.String(64), nullable=False),
    # False when the model left the catalogue: the model is then unpriced (fail closed).
    sa.Column("active", sa.Boolean, nullable=False),
    # Micro-credits per million tokens (the catalogue says credits; see ledger.amounts).
    sa.Column("input_micros_per_mtok", Credits, nullable=True),
    sa.Column("output_micros_per_mtok", Credits, nullable=True),
    sa.Column("effective_at", UTCDateTime, nullable=False),
    # Who added this version: NULL for the catalogue file (seed or import without --by).
    sa.Column("created_by_user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.UniqueConstraint("model", "version"),
)

image_prices = sa.Table(
    "image_prices",
    metadata,
    sa.Column(
        "price_version_id",
        sa.Integer,
        sa.ForeignKey("price_versions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("size", sa.String(32), primary_key=True),
    sa.Column("quality", sa.String(32), primary_key=True),
    sa.Column("micros_per_image", Credits, nullable=False),
    sa.CheckConstraint("micros_per_image >= 0", name="price_nonnegative"),
)

grants = sa.Table(
    "grants",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("amount", Credits, nullable=False),
    sa.Column("remaining", Credits, nullable=False),
    # Lower numbers are spent first; ties go to the grant that expires first.
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=True),
    sa.Column("actor_user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # The outside payment this grant is for (``stripe:cs_…``): at most one grant per payment.
    sa.Column("reference", sa.String(255), nullable=True),
    sa.CheckConstraint(_in("kind", GRANT_KINDS), name="kind"),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_in_range"),
    # Not on ``remaining``: every capture changes it, and an index on it would be one more page
    # written per capture. An account has few grants; its open ones are filtered in the scan.
    sa.Index(None, "account_id"),
    sa.Index(None, "reference", unique=True),
)

holds = sa.Table(
    "holds",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("operation_type", sa.String(32), nullable=False),
    sa.Column("feature_key", sa.String(64), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("price_version_id", sa.Integer, sa.ForeignKey("price_versions.id"), nullable=False),
    sa.Column("amount", Credits, nullable=False),
    sa.Column("captured", Credits, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("release_reason", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.CheckConstraint(_in("status", HOLD_STATUSES), name="status"),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint(
        "captured IS NULL OR (captured >= 0 AND captured <= amount)", name="captured_in_range"
    ),
    # The sweeper's query: pending holds by expiry. Partial, so it holds only pending holds.
    sa.Index(
        "ix_holds_pending_expires_at",
        "expires_at",
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    ),
    # Monthly caps: one member's holds on one account by time.
    sa.Index(None, "account_id", "user_id", "created_at"),
    # Rate limits: one user's holds by time, across every account they spend from.
    sa.Index(None, "user_id", "created_at"),
)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    # Change to the account's balance (credits owned) and to its held total (credits reserved).
    sa.Column("balance_delta", Credits, nullable=False),
    sa.Column("held_delta", Credits, nullable=False),
    sa.Column("hold_id", sa.Integer, sa.ForeignKey("holds.id"), nullable=True),
    sa.Column("grant_id", sa.Integer, sa.ForeignKey("grants.id"), nullable=True),
    sa.Column("operation_type", sa.String(32), nullable=True),
    sa.Column("actor_user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Change to the credits the account owes (``accounts.debt``): refunds of spent credits.
    sa.Column("debt_delta", Credits, nullable=False, server_default="0"),
    # The outside object this line is for (a Stripe payment, refund or dispute).
    sa.Column("reference", sa.String(255), nullable=True),
    sa.CheckConstraint(_in("kind", ENTRY_KINDS), name="kind"),
    # History pages: an account's entries newest first, optionally since a date.
    sa.Index(None, "account_id", "created_at"),
    sa.Index(None, "hold_id"),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("scope", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    # JSON: {"ok": {...}} or {"error": {...}} — the outcome a replay returns.
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Keyed by (scope, key) alone: no rowid b-tree beside the primary key on SQLite.
    sqlite_with_rowid=False,
)

usage_records = sa.Table(
    "usage_records",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("account_id", sa.Integer, sa.ForeignKey("accounts.id"), nullable=False),
    # One usage row per provider call: a hold's row is written in the transaction that ends it.
    # NULL for refusals, which never got a hold.
    sa.Column("hold_id", sa.Integer, sa.ForeignKey("holds.id"), nullable=True, unique=True),
    sa.Column("feature_key", sa.String(64), nullable=False),
    sa.Column("operation_type", sa.String(32), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("provider", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("input_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("output_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("cached_tokens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("images", sa.Integer, nullable=False, server_default="0"),
    sa.Column("image_size", sa.String(32), nullable=True),
    sa.Column("image_quality", sa.String(32), nullable=True),
    sa.Column("credits", Credits, nullable=False, server_default="0"),
    # The provider's list price of the call in billionths of a US dollar (litellm's cost map);
    # an integer like every other money column. NULL when the cost is unknown.
    sa.Column("usd_cost_nanos", sa.BigInteger, nullable=True),
    sa.Column("price_version_id", sa.Integer, sa.ForeignKey("price_versions.id"), nullable=True),
    sa.Column("latency_ms", sa.Integer, nullable=True),
    sa.Column("ttft_ms", sa.Integer, nullable=True),
    sa.Column("error_type", sa.String(64), nullable=True),
    sa.Column("error_message", sa.Text, nullable=True),
    sa.Column("idempotency_key", sa.String(200), nullable=True),
    sa.CheckConstraint(_in("status", USAGE_STATUSES), name="status"),
    sa.CheckConstraint("credits >= 0", name="credits_nonnegative"),
    # Dashboards: a workspace's or a user's calls by time.
    sa.Index(None, "workspace_id", "created_at"),
    sa.Index(None, "user_id", "created_at"),
    # The Images gallery (Ledger.image_calls): only calls that kept images, newest first.
    sa.Index(
        "ix_usage_records_image_calls_workspace_id",
        "workspace_id",
        "id",
        sqlite_where=sa.text("images > 0 AND hold_id IS NOT NULL"),
        postgresql_where=sa.text("images > 0 AND hold_id IS NOT NULL"),
    ),
    sa.Index(
        "ix_usage_records_image_calls_user_id",
        "user_id",
        "id",
        sqlite_where=sa.text("images > 0 AND hold_id IS NOT NULL"),
        postgresql_where=sa.text("images > 0 AND hold_id IS NOT NULL"),
    ),
)

# Model and feature switches, append-only (triggers refuse UPDATE and DELETE): every change is a
# new row with its author, and the latest row (highest id) per (kind, key) is the current state.
# A model with no row is as data/models.toml lists it; a feature with no row is on.
catalogue_switches = sa.Table(
    "catalogue_switches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    # A model id (models.toml) or a feature key (ledger.features).
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    # Shown to people while a feature is off.
    sa.Column("message", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    # NULL for the catalogue file (the first state of a model, seeded from models.toml).
    sa.Column("actor_user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(_in("kind", SWITCH_KINDS), name="kind"),
    # The current state: the latest row per (kind, key); and one switch's history.
    sa.Index(None, "kind", "key", "id"),
)

# Who changed what, when and why: one row per admin action, written in the transaction of the
# change it records. Append-only (triggers refuse UPDATE, DELETE and, on PostgreSQL, TRUNCATE).
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # NULL only for the command line run without --by (someone with shell access to the server).
    sa.Column("actor_user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    # The workspace the change belongs to; NULL for platform-wide ones (prices, switches).
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=True),
    sa.Column("target_kind", sa.String(16), nullable=False),
    sa.Column("target", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    # JSON objects: the values the action changed, before and after it.
    sa.Column("before", sa.Text, nullable=True),
    sa.Column("after", sa.Text, nullable=True),
    sa.CheckConstraint(_in("target_kind", AUDIT_TARGETS), name="target_kind"),
    # The audit view: one workspace's events newest first; everyone's by time.
    sa.Index(None, "workspace_id", "id"),
    sa.Index(None, "created_at"),
)

# --- retention (workbench.retention) -------------------------------------------------------------
# The measures of ``purged_usage_daily``: what the usage dashboards sum over a day's rows.
PURGED_USAGE_MEASURES = (
    "requests",
    "credits",
    "usd_cost_nanos",
    "usd_cost_unknown",
    "credits_costed",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "images",
    "latency_ms_sum",
    "latency_count",
)

# The daily totals of the usage rows the retention purge removed, per UTC day and the dashboards'
# key: the rows go, their sums stay, so analytics over whole days read the same after a purge (and
# a new analytics mirror, filled from the database, finds them). A purge batch deletes its rows and
# adds them here in one transaction; ``generation`` is the batch that last added to a row, so a
# mirror re-reads only the days that changed since it last looked.
purged_usage_daily = sa.Table(
    "purged_usage_daily",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("model", sa.String(200), primary_key=True),
    sa.Column("feature_key", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(32), primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    *(sa.Column(name, sa.BigInteger, nullable=False) for name in PURGED_USAGE_MEASURES),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Index(None, "generation"),
)

# One row: how many purge batches have removed usage rows (``generation``, which each such batch
# raises in its transaction, so batches queue on this row and commit in the order of their
# numbers) and the newest usage cut-off applied (usage rows created before it may be gone).
usage_purge_state = sa.Table(
    "usage_purge_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("purged_before", UTCDateTime, nullable=True),
    sa.CheckConstraint("id = 1", name="one_row"),
)
