"""Credit admin without Streamlit: what people type turned into ledger arguments (or one clear
sentence), and the ledger's records turned into tables and CSV. Everything a person typed stays
text: these tables go to ``st.dataframe``, never into markdown."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd  # type: ignore[import-untyped]  # no pandas-stubs installed

from ledger.admin_views import AccountOverview, OpenHold
from ledger.amounts import check_amount, format_credits, parse_credits
from ledger.audit import AuditEvent
from ledger.errors import InvalidAmount, InvalidInput
from ledger.grants import Grant
from ledger.journal import JournalLine
from ledger.owners import Membership, User
from ledger.transactions import check_reason
from ledger.usage import UsageRow

# What the audit filter offers (the ledger's actions; "model.switch"/"feature.switch" included).
AUDIT_ACTIONS = (
    "credits.top_up",
    "credits.take_back",
    "credits.void_grant",
    "credits.adjust",
    "credits.grant",
    "hold.force_release",
    "member.add",
    "member.create",
    "member.role",
    "member.cap",
    "user.activate",
    "user.deactivate",
    "user.operator",
    "workspace.threshold",
    "price.change",
    "model.switch",
    "feature.switch",
    "retention.purge",
)
TOP_UP_KINDS = ("paid", "plan", "promo", "adjustment")
# The account table's sort choices: label -> (column, descending).
SORTS: dict[str, tuple[str, bool]] = {
    "Workspace (A-Z)": ("slug", False),
    "Available (lowest first)": ("available", False),
    "Available (highest first)": ("available", True),
    "Spent this month (most first)": ("month_spend", True),
    "Last activity (newest first)": ("last_activity", True),
}
GENERATED_PASSWORD_BYTES = 12  # 16 URL-safe characters, above the 10-character minimum
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- what people type ----------------------------------------------------------------------------


def amount(text: str) -> int:
    """Micro-credits for a typed amount, refused unless between 0.000001 and a billion credits."""
    if not text.strip():
        raise InvalidAmount("enter an amount of credits, such as 5 or 0.25")
    return check_amount(parse_credits(text))


def optional_amount(text: str, what: str) -> int | None:
    """A cap or threshold: blank clears it (None), otherwise zero or more credits."""
    if not text.strip():
        return None
    return check_amount(parse_credits(text), what, allow_zero=True)


def reason(text: str) -> str:
    """The reason, refused when blank (the same sentence the ledger uses)."""
    return check_reason(text)


def expiry(day: date | None, now: datetime) -> datetime | None:
    """The end of ``day`` in UTC (credits last through that day), refused when already past."""
    if day is None:
        return None
    end = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
    if end <= now:
        raise InvalidInput(f"the expiry date {day.isoformat()} is already in the past")
    return end


def priority(value: float | int | None) -> int | None:
    if value is None:
        return None
    if int(value) != value:
        raise InvalidInput(f"priority must be a whole number, got {value}")
    return int(value)


def day_bounds(since: date | None, until: date | None) -> tuple[datetime | None, datetime | None]:
    """A date range as UTC datetimes: from the start of ``since`` to the end of ``until``."""
    start = None if since is None else datetime.combine(since, time.min, tzinfo=UTC)
    end = None if until is None else datetime.combine(until + timedelta(days=1), time.min, UTC)
    if start is not None and end is not None and end <= start:
        raise InvalidInput("the end of the date range is before its start")
    return start, end


def new_password() -> str:
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def new_key(action: str) -> str:
    """One idempotency key per confirmation."""
    return f"admin-{action}-{secrets.token_hex(12)}"


# --- tables ---------------------------------------------------------------------------------------


def when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def duration(delta: timedelta) -> str:
    """A short duration: "3 d 4 h", "2 h 5 min", "40 s"; negative reads as "over"."""
    seconds = int(delta.total_seconds())
    if seconds < 0:
        return "over"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{secs} s"


def accounts_table(rows: Sequence[AccountOverview], search: str, sort: str) -> pd.DataFrame:
    """The accounts the viewer manages, filtered by slug or name and sorted, amounts shown."""
    needle = search.strip().lower()
    chosen = [r for r in rows if needle in r.slug.lower() or needle in r.name.lower()]
    column, descending = SORTS.get(sort, SORTS["Workspace (A-Z)"])
    floor = datetime.min.replace(tzinfo=UTC)

    def key(r: AccountOverview) -> Any:
        value = getattr(r, column)
        return floor if column == "last_activity" and value is None else value

    chosen.sort(key=key, reverse=descending)
    threshold = [r.low_balance_threshold for r in chosen]
    return pd.DataFrame(
        {
            "workspace": [r.slug for r in chosen],
            "name": [r.name for r in chosen],
            "balance": [format_credits(r.balance) for r in chosen],
            "available": [format_credits(r.available) for r in chosen],
            "held": [format_credits(r.held) for r in chosen],
            "spent this month": [format_credits(r.month_spend) for r in chosen],
            "low-balance threshold": ["" if t is None else format_credits(t) for t in threshold],
            "last activity (UTC)": [when(r.last_activity) for r in chosen],
        }
    )


def journal_table(lines: Sequence[JournalLine], names: dict[int, str]) -> pd.DataFrame:
    def who(user_id: int | None) -> str:
        return "" if user_id is None else names.get(user_id, f"user #{user_id}")

    return pd.DataFrame(
        {
            "id": [line.id for line in lines],
            "when (UTC)": [when(line.created_at) for line in lines],
            "kind": [line.kind for line in lines],
            "balance change": [format_credits(line.balance_delta) for line in lines],
            "held change": [format_credits(line.held_delta) for line in lines],
            "hold": [line.hold_id for line in lines],
            "grant": [line.grant_id for line in lines],
            "operation": [line.operation_type or "" for line in lines],
            "by": [who(line.actor_user_id) for line in lines],
            "reason": [line.reason or "" for line in lines],
        }
    )


def journal_csv(lines: Sequence[JournalLine], names: dict[int, str]) -> str:
    """The filtered journal as CSV, exact amounts in micro-credits beside the shown ones; text
    cells that a spreadsheet would run as a formula are prefixed with a quote."""
    frame = journal_table(lines, names)
    frame.insert(4, "balance change (micro-credits)", [line.balance_delta for line in lines])
    frame.insert(6, "held change (micro-credits)", [line.held_delta for line in lines])
    for column in ("by", "reason", "operation"):
        frame[column] = frame[column].map(_no_formula)
    text: str = frame.to_csv(index=False)
    return text


def _no_formula(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def grants_table(rows: Sequence[Grant]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "grant": [g.id for g in rows],
            "kind": [g.kind for g in rows],
            "amount": [format_credits(g.amount) for g in rows],
            "left": [format_credits(g.remaining) for g in rows],
            "priority": [g.priority for g in rows],
            "expires (UTC)": [when(g.expires_at) for g in rows],
            "granted (UTC)": [when(g.created_at) for g in rows],
            "reason": [g.reason or "" for g in rows],
        }
    )


def holds_table(rows: Sequence[OpenHold], now: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "hold": [h.id for h in rows],
            "user": [h.username for h in rows],
            "feature": [h.feature_key for h in rows],
            "model": [h.model for h in rows],
            "amount": [format_credits(h.amount) for h in rows],
            "age": [duration(now - h.created_at) for h in rows],
            "time left": [duration(h.expires_at - now) for h in rows],
        }
    )


def members_table(rows: Sequence[tuple[User, Membership]], active: dict[int, bool]) -> pd.DataFrame:
    caps = [m.monthly_cap for _, m in rows]
    return pd.DataFrame(
        {
            "username": [u.username for u, _ in rows],
            "name": [u.display_name for u, _ in rows],
            "role": [m.role for _, m in rows],
            "monthly cap": ["" if c is None else format_credits(c) for c in caps],
            "active": [active.get(u.id, True) for u, _ in rows],
        }
    )


def usage_table(rows: Sequence[UsageRow], names: dict[int, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "when (UTC)": [when(r.created_at) for r in rows],
            # A former member's calls still show, by id.
            "user": [names.get(r.user_id, f"user #{r.user_id}") for r in rows],
            "model": [r.model for r in rows],
            "status": [r.status for r in rows],
            "credits": [format_credits(r.credits) for r in rows],
            "tokens in/out": [f"{r.input_tokens}/{r.output_tokens}" for r in rows],
            "images": [r.images for r in rows],
            "latency ms": [r.latency_ms for r in rows],
            "error": [r.error_type or "" for r in rows],
        }
    )


def audit_table(rows: Sequence[AuditEvent]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "when (UTC)": [when(e.created_at) for e in rows],
            "by": [e.actor or "command line" for e in rows],
            "action": [e.action for e in rows],
            "workspace": [e.workspace or "" for e in rows],
            "target": [f"{e.target_kind} {e.target}" for e in rows],
            "reason": [e.reason or "" for e in rows],
            "before": [_json(e.before) for e in rows],
            "after": [_json(e.after) for e in rows],
        }
    )


def _json(value: dict[str, Any] | None) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True, default=str)
