"""``Ledger``: the ledger's public face. One method per operation, each its own transaction.

Mutating money operations take a caller-supplied idempotency ``key``. The method validates its
arguments before touching the database (bad input raises and writes nothing), then, in one write
transaction: looks the key up (replay or conflict), does the work, and stores the outcome with the
key. Refusals that depend on the ledger's state (``InsufficientCredits``, ``CapExceeded``, a hold
no longer pending, a capture above the hold) are stored too, so a replay refuses the same way.

Every amount taken or returned is an ``int`` of micro-credits (``ledger.amounts``: 1 credit =
1,000,000); amounts enter a request's identity in credits (``request_identity``), so keys stored
before amounts became micro-credits still match the same request.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ledger import (
    accounts,
    adjustments,
    db,
    grants,
    holds,
    journal,
    owners,
    pricing,
    ratelimits,
    switches,
)
from ledger import usage as usage_rows
from ledger.accounts import Balance
from ledger.amounts import check_amount, request_identity
from ledger.clock import Clock, database_now, system_clock
from ledger.errors import InvalidInput, LedgerError, MissingReason, error_from_payload
from ledger.features import operation_type
from ledger.holds import Hold
from ledger.idempotency import KeyCheck, Replay, check_key, record, request_hash
from ledger.journal import JournalLine
from ledger.owners import Membership, User, Workspace
from ledger.pricing import Price, PriceChange, PriceVersionRecord
from ledger.ratelimits import RateLimits
from ledger.switches import Switch, Switches
from ledger.usage import CallUsage, UsageIdentity, UsageRow
from ledger.verify import Mismatch, verify

T = TypeVar("T")

DEFAULT_HOLD_TTL = timedelta(minutes=15)
MAX_HOLD_TTL = timedelta(days=1)


@dataclass(frozen=True)
class Outcome:
    """What a mutating call did; ``replayed`` is True when answered from its idempotency key."""

    replayed: bool


@dataclass(frozen=True)
class HoldOutcome(Outcome):
    hold: Hold


@dataclass(frozen=True)
class GrantOutcome(Outcome):
    grant_id: int
    account_id: int
    amount: int
    kind: str
    expires_at: datetime | None


@dataclass(frozen=True)
class AdjustmentOutcome(Outcome):
    account_id: int
    delta: int
    grant_id: int | None


@dataclass(frozen=True)
class SweepReport:
    holds_expired: int
    grant_credits_expired: int
    accounts_swept: int


def _json_fields(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """A dataclass's fields as JSON-ready values (datetimes as ISO strings)."""
    return {
        f.name: (v.isoformat() if isinstance(v := getattr(obj, f.name), datetime) else v)
        for f in fields(obj)
        if f.name not in skip
    }


def _hold_to_json(outcome: HoldOutcome) -> str:
    # The hold row is the record of what happened; the key only needs to point at it. Written
    # by hand because this runs on every reserve and capture.
    return f'{{"ok": {{"hold_id": {int(outcome.hold.id)}}}}}'


def _plain_to_json(outcome: Outcome) -> str:
    return json.dumps({"ok": _json_fields(outcome, skip=("replayed",))}, default=str)


def _grant_from_json(data: Mapping[str, Any]) -> GrantOutcome:
    expires = data["expires_at"]
    return GrantOutcome(
        replayed=True,
        grant_id=data["grant_id"],
        account_id=data["account_id"],
        amount=data["amount"],
        kind=data["kind"],
        expires_at=datetime.fromisoformat(expires) if expires else None,
    )


def _adjustment_from_json(data: Mapping[str, Any]) -> AdjustmentOutcome:
    return AdjustmentOutcome(replayed=True, **data)


def _check_reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise MissingReason("a reason is required (say why, for the audit trail)")
    if len(reason) > 2000:
        raise InvalidInput("reason is longer than 2,000 characters")
    return reason.strip()


def _check_id(value: object, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise InvalidInput(f"{what} must be a positive integer id, got {value!r:.40}")
    return value


def _check_when(value: datetime | None, what: str) -> datetime | None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise InvalidInput(f"{what} must be a timezone-aware datetime (UTC), got {value!r:.60}")
    return value


class Ledger:
    """The credit ledger over one database (SQLite file or PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Clock | None = None,
        hold_ttl: timedelta = DEFAULT_HOLD_TTL,
    ) -> None:
        self.engine = engine
        self._clock = clock
        self.hold_ttl = hold_ttl

    @classmethod
    def open(
        cls,
        url: str,
        *,
        migrate: bool = True,
        clock: Clock | None = None,
        hold_ttl: timedelta = DEFAULT_HOLD_TTL,
        **engine_options: Any,
    ) -> Ledger:
        engine = db.create_engine(url, **engine_options)
        if migrate:
            db.migrate(engine)
        return cls(engine, clock=clock, hold_ttl=hold_ttl)

    def close(self) -> None:
        self.engine.dispose()

    def now(self) -> datetime:
        return self._clock() if self._clock else system_clock()

    # --- transactions ----------------------------------------------------------------------

    def _write(self, work: Callable[[Connection, datetime], T]) -> T:
        with db.write_transaction(self.engine) as conn:
            return work(conn, self.now())

    def _read(self, work: Callable[[Connection], T]) -> T:
        with db.read_only_connection(self.engine) as conn:
            return work(conn)

    def _idempotent(
        self,
        scope: str,
        key: str,
        params: Mapping[str, Any],
        work: Callable[[Connection, KeyCheck, datetime], T],
        encode: Callable[[T], str],
        decode: Callable[[Mapping[str, Any]], T],
    ) -> T:
        """Run ``work`` once per key: replay its stored outcome, or store the new one with it.

        ``work`` must call ``check.raise_if_used`` (from its first query) or ``check.lookup``
        before it writes anything.
        """
        check = KeyCheck(scope, check_key(key), request_hash(scope, params))
        # Two attempts: on PostgreSQL a concurrent first use of the same key makes one insert
        # fail on the key's primary key; the retry then finds the winner's outcome.
        for attempt in (1, 2):
            try:
                return self._idempotent_once(check, work, encode, decode)
            except IntegrityError as error:
                # Only a lost race for the key is retried; any other constraint violation is a bug
                # and surfaces at once.
                if attempt == 2 or "idempotency_keys" not in str(error.orig):
                    raise
        raise AssertionError("unreachable")

    def _idempotent_once(
        self,
        check: KeyCheck,
        work: Callable[[Connection, KeyCheck, datetime], T],
        encode: Callable[[T], str],
        decode: Callable[[Mapping[str, Any]], T],
    ) -> T:
        refusal: LedgerError | None = None
        try:
            with db.write_transaction(self.engine) as conn:
                now = self.now()
                try:
                    value = work(conn, check, now)
                except LedgerError as error:
                    if not error.stored:
                        raise
                    # A refusal that depends on the ledger's state is kept with the key, and
                    # committed with whatever the call legitimately did first (an expiry).
                    record(conn, check, json.dumps({"error": error.to_payload()}, default=str), now)
                    refusal = error
                else:
                    record(conn, check, encode(value), now)
                    return value
        except Replay as replay:
            if "error" in replay.outcome:
                raise error_from_payload(replay.outcome["error"]) from None
            return decode(replay.outcome["ok"])
        assert refusal is not None
        raise refusal

    def _replayed_hold(self, data: Mapping[str, Any]) -> HoldOutcome:
        """A replay answers with the hold the first call made, as it stands now."""
        return HoldOutcome(replayed=True, hold=self.hold(int(data["hold_id"])))

    # --- owners ----------------------------------------------------------------------------

    def create_workspace(self, slug: str, name: str = "") -> Workspace:
        return self._write(lambda conn, now: owners.create_workspace(conn, slug, name, now))

    def create_user(self, username: str, display_name: str = "", email: str | None = None) -> User:
        return self._write(
            lambda conn, now: owners.create_user(conn, username, display_name, now, email)
        )

    def add_member(
        self, workspace_id: int, user_id: int, role: str, monthly_cap: int | None = None
    ) -> Membership:
        return self._write(
            lambda conn, now: owners.add_member(conn, workspace_id, user_id, role, now, monthly_cap)
        )

    def set_monthly_cap(self, workspace_id: int, user_id: int, cap: int | None) -> None:
        self._write(lambda conn, _now: owners.set_monthly_cap(conn, workspace_id, user_id, cap))

    def workspace(self, slug: str) -> Workspace:
        return self._read(lambda conn: owners.workspace_by_slug(conn, slug))

    def workspaces(self) -> list[Workspace]:
        return self._read(owners.all_workspaces)

    def workspace_by_id(self, workspace_id: int) -> Workspace:
        return self._read(lambda conn: owners.workspace_by_id(conn, workspace_id))

    def user(self, username: str) -> User:
        return self._read(lambda conn: owners.user_by_name(conn, username))

    def memberships_of(self, user_id: int) -> list[tuple[Workspace, Membership]]:
        return self._read(lambda conn: owners.memberships_of(conn, user_id))

    def members_of(self, workspace_id: int) -> list[tuple[User, Membership]]:
        return self._read(lambda conn: owners.members_of(conn, workspace_id))

    def user_by_email(self, email: str) -> User:
        return self._read(lambda conn: owners.user_by_email(conn, email))

    def is_active(self, user_id: int) -> bool:
        return self._read(lambda conn: owners.is_active(conn, user_id))

    def user_by_id(self, user_id: int) -> User:
        return self._read(lambda conn: owners.user_by_id(conn, user_id))

    def membership(self, workspace_id: int, user_id: int) -> Membership | None:
        return self._read(lambda conn: owners.membership(conn, workspace_id, user_id))

    # --- prices ----------------------------------------------------------------------------

    def import_prices(
        self,
        catalogue: Path | Sequence[Price],
        *,
        actor_user_id: int | None = None,
        reason: str | None = None,
        dry_run: bool = False,
        withdraw_missing: bool = False,
    ) -> list[PriceChange]:
        """Import a price catalogue (a path, or parsed prices) on purpose: a new version for every
        model whose terms differ from its current price, authored by ``actor_user_id`` (None: the
        catalogue file). Models the catalogue does not list keep their prices unless
        ``withdraw_missing``, which makes them unpriced. ``dry_run`` returns the same list and
        writes nothing. Importing the same catalogue again changes nothing.
        """
        prices = pricing.load_catalogue(catalogue) if isinstance(catalogue, Path) else catalogue
        actor = self._check_actor(actor_user_id)
        reason = switches.check_text(reason, "reason", switches.MAX_REASON)
        if dry_run:
            return self._read(
                lambda conn: pricing.plan_import(conn, prices, withdraw_missing=withdraw_missing)
            )

        def work(conn: Connection, now: datetime) -> list[PriceChange]:
            switches.lock_catalogue(conn)
            self._actor_exists(conn, actor)
            changes = pricing.plan_import(conn, prices, withdraw_missing=withdraw_missing)
            pricing.apply(conn, changes, now, actor_user_id=actor, reason=reason)
            return changes

        return self._write(work)

    def set_price(
        self,
        model: str,
        *,
        feature_key: str,
        input_per_mtok: int | None = None,
        output_per_mtok: int | None = None,
        images: Mapping[tuple[str, str], int] | None = None,
        actor_user_id: int | None,
        reason: str | None = None,
    ) -> PriceChange | None:
        """Price ``model`` from now on: a new version recording who (``actor_user_id``; None only
        for the system) and when. Tokens: credits per million input and output tokens; images:
        credits per image by (size, quality). The same terms as the current price add nothing
        (returns None). Holds already made keep the version they were priced at."""
        price = pricing.check_price(
            Price(
                model,
                feature_key,
                input_per_mtok,
                output_per_mtok,
                images=dict(images or {}),
            )
        )
        actor = self._check_actor(actor_user_id)
        reason = switches.check_text(reason, "reason", switches.MAX_REASON)

        def work(conn: Connection, now: datetime) -> PriceChange | None:
            switches.lock_catalogue(conn)
            self._actor_exists(conn, actor)
            changes = pricing.plan_import(conn, [price])
            pricing.apply(conn, changes, now, actor_user_id=actor, reason=reason)
            return changes[0] if changes else None

        return self._write(work)

    def price_history(self, model: str, limit: int = 100) -> list[PriceVersionRecord]:
        """A model's price versions, newest first, each with its author and time."""
        return self._read(lambda conn: pricing.history(conn, model, limit))

    def seed_catalogue(
        self, prices: Path | Sequence[Price], models: Mapping[str, bool]
    ) -> list[str]:
        """What start-up does, and all it does, with the catalogue files: load ``prices`` if the
        database has no price version at all, and record a first switch for every model in
        ``models`` (id → enabled in the file) that has none. Never changes a price or a switch
        that exists, so a change made in the database survives every restart."""

        def work(conn: Connection, now: datetime) -> list[str]:
            switches.lock_catalogue(conn)
            lines: list[str] = []
            if not pricing.has_prices(conn):
                loaded = pricing.load_catalogue(prices) if isinstance(prices, Path) else prices
                changes = pricing.plan_import(conn, loaded)
                pricing.apply(conn, changes, now, reason="seeded from the price catalogue")
                lines += [str(change) for change in changes]
            lines += switches.seed_models(conn, models, now, "as first listed in the catalogue")
            return lines

        return self._write(work)

    def set_model_enabled(
        self, model: str, enabled: bool, actor_user_id: int | None, reason: str | None = None
    ) -> Switch:
        """Switch an allowlisted model on or off for every app process (honoured within the
        gateway's cache window). Off, requests for it fall back to the default with a notice."""
        model = switches.check_key(switches.MODEL, model)
        return self._switch(switches.MODEL, model, enabled, None, actor_user_id, reason)

    def set_feature(
        self,
        feature_key: str,
        enabled: bool,
        message: str | None = None,
        *,
        actor_user_id: int | None,
        reason: str | None = None,
    ) -> Switch:
        """Switch a feature (``ai_text_chat``, ``ai_image_generation``) on or off; ``message`` is
        shown to people while it is off. Off, calls are refused before any hold."""
        feature_key = switches.check_key(switches.FEATURE, feature_key)
        message = switches.check_text(message, "message", switches.MAX_MESSAGE)
        return self._switch(switches.FEATURE, feature_key, enabled, message, actor_user_id, reason)

    def switches(self) -> Switches:
        """The current state of every model and feature switch ever set (one query)."""
        return self._read(switches.current)

    def switch_history(self, kind: str, key: str, limit: int = 100) -> list[Switch]:
        """One switch's changes (``kind`` model or feature), newest first."""
        switches.check_kind(kind)
        return self._read(lambda conn: switches.history(conn, kind, key, limit))

    def _switch(
        self,
        kind: str,
        key: str,
        enabled: bool,
        message: str | None,
        actor_user_id: int | None,
        reason: str | None,
    ) -> Switch:
        if not isinstance(enabled, bool):
            raise InvalidInput(f"enabled must be True or False, got {enabled!r:.40}")
        actor = self._check_actor(actor_user_id)
        reason = switches.check_text(reason, "reason", switches.MAX_REASON)

        def work(conn: Connection, now: datetime) -> Switch:
            switches.lock_catalogue(conn)
            self._actor_exists(conn, actor)
            return switches.record(
                conn,
                kind,
                key,
                enabled,
                now,
                message=message if not enabled else None,
                reason=reason,
                actor_user_id=actor,
            )

        return self._write(work)

    @staticmethod
    def _check_actor(actor_user_id: int | None) -> int | None:
        return None if actor_user_id is None else _check_id(actor_user_id, "acting user id")

    @staticmethod
    def _actor_exists(conn: Connection, actor_user_id: int | None) -> None:
        if actor_user_id is not None:
            owners.user_by_id(conn, actor_user_id)  # UnknownUser

    def price(self, model: str) -> Price:
        return self._read(lambda conn: pricing.current_price(conn, model))

    def price_version(self, version_id: int) -> Price:
        """The price a hold was made at (versions are immutable, so this may be cached)."""
        return self._read(lambda conn: pricing.price_version(conn, version_id))

    def priced_models(self) -> list[Price]:
        return self._read(pricing.priced_models)

    # --- money in --------------------------------------------------------------------------

    def grant(
        self,
        account_id: int,
        amount: int,
        *,
        kind: str,
        key: str,
        expires_at: datetime | None = None,
        priority: int | None = None,
        actor_user_id: int | None = None,
        reason: str | None = None,
    ) -> GrantOutcome:
        """``amount`` micro-credits in (``ledger.amounts.credits(5)`` for 5 credits). ``kind``:
        paid, plan, promo or adjustment; spent by priority, then expiry."""
        _check_id(account_id, "account id")
        check_amount(amount)
        grants.check_kind(kind)
        _check_when(expires_at, "expires_at")
        if priority is not None and (not isinstance(priority, int) or isinstance(priority, bool)):
            raise InvalidInput(f"priority must be an integer, got {priority!r:.40}")
        params = {
            "account_id": account_id,
            "amount": request_identity(amount),
            "kind": kind,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "priority": priority,
            "actor_user_id": actor_user_id,
            "reason": reason,
        }

        def work(conn: Connection, check: KeyCheck, now: datetime) -> GrantOutcome:
            check.lookup(conn)
            if expires_at is not None and expires_at <= now:
                raise InvalidInput(f"expires_at {expires_at.isoformat()} is already in the past")
            accounts.lock(conn, account_id)
            grant_id = grants.create(
                conn,
                account_id,
                amount,
                kind,
                now,
                expires_at=expires_at,
                priority=priority,
                actor_user_id=actor_user_id,
                reason=reason,
            )
            return GrantOutcome(False, grant_id, account_id, amount, kind, expires_at)

        return self._idempotent("grant", key, params, work, _plain_to_json, _grant_from_json)

    def adjust(
        self, account_id: int, delta: int, *, actor_user_id: int, reason: str, key: str
    ) -> AdjustmentOutcome:
        """An admin's correction of ``delta`` micro-credits: in (as an ``adjustment`` grant) or
        out, with a reason."""
        _check_id(account_id, "account id")
        _check_id(actor_user_id, "acting user id")
        if not isinstance(delta, int) or isinstance(delta, bool) or delta == 0:
            raise InvalidInput(f"adjustment must be a non-zero whole number, got {delta!r:.40}")
        check_amount(abs(delta), "adjustment")
        reason = _check_reason(reason)
        params = {
            "account_id": account_id,
            "delta": request_identity(delta),
            "actor": actor_user_id,
            "reason": reason,
        }

        def work(conn: Connection, check: KeyCheck, now: datetime) -> AdjustmentOutcome:
            check.lookup(conn)
            grant_id = adjustments.adjust(conn, account_id, delta, actor_user_id, reason, now)
            return AdjustmentOutcome(False, account_id, delta, grant_id)

        return self._idempotent("adjust", key, params, work, _plain_to_json, _adjustment_from_json)

    # --- two-phase spend -------------------------------------------------------------------

    def reserve(
        self,
        account_id: int,
        *,
        user_id: int,
        feature_key: str,
        model: str,
        amount: int,
        key: str,
        ttl: timedelta | None = None,
        limits: RateLimits | None = None,
        fingerprint: str | None = None,
    ) -> HoldOutcome:
        """Put a hold on ``amount`` micro-credits for one call. Commit before calling any provider.

        With ``limits``, the user's rate limits are checked in the same transaction
        (``RateLimited``); a replay of a key already used is answered before any limit applies.
        ``fingerprint`` stands for what the hold pays for (a digest of the prompt, say): it is
        part of the request's identity, so reusing the key for another prompt is a conflict.
        """
        _check_id(account_id, "account id")
        _check_id(user_id, "user id")
        op = operation_type(feature_key)
        if not isinstance(model, str) or not model.strip() or len(model) > 200:
            raise InvalidInput(f"model must be a non-empty name, got {model!r:.60}")
        check_amount(amount)
        ttl = self.hold_ttl if ttl is None else ttl
        if not isinstance(ttl, timedelta) or not timedelta(0) < ttl <= MAX_HOLD_TTL:
            raise InvalidInput(f"hold TTL must be between 0 and {MAX_HOLD_TTL}, got {ttl!r:.40}")
        params = {
            "account_id": account_id,
            "user_id": user_id,
            "feature_key": feature_key,
            "model": model,
            "amount": request_identity(amount),
            "ttl": ttl.total_seconds(),
        }
        if fingerprint is not None:
            params["fingerprint"] = fingerprint

        def work(conn: Connection, check: KeyCheck, now: datetime) -> HoldOutcome:
            if limits is not None:
                check.lookup(conn)
                ratelimits.enforce(conn, user_id, limits, now)
            hold = holds.reserve(
                conn,
                check,
                account_id=account_id,
                user_id=user_id,
                feature_key=feature_key,
                operation_type=op.value,
                model=model,
                amount=amount,
                ttl=ttl,
                now=now,
            )
            return HoldOutcome(False, hold)

        return self._idempotent("reserve", key, params, work, _hold_to_json, self._replayed_hold)

    def capture(
        self, hold_id: int, amount: int, *, key: str, usage: CallUsage | None = None
    ) -> HoldOutcome:
        """Charge ``amount`` micro-credits (at most the hold) and release the rest, in one
        transaction.

        ``usage``, when given, is written in that transaction as the call's usage row, with the
        identity and the credits of the hold (``UsageIdentity.of_hold``). It is not part of the
        request's identity: a replay returns the first outcome whatever it says.
        """
        _check_id(hold_id, "hold id")
        check_amount(amount, "capture amount", allow_zero=True)
        if usage is not None:
            usage.check()
        params = {"hold_id": hold_id, "amount": request_identity(amount)}

        def work(conn: Connection, check: KeyCheck, now: datetime) -> HoldOutcome:
            hold = holds.capture(conn, check, hold_id, amount, now)
            if usage is not None:
                usage_rows.insert_for_hold(conn, hold, usage, now)
            return HoldOutcome(False, hold)

        return self._idempotent("capture", key, params, work, _hold_to_json, self._replayed_hold)

    def release(
        self, hold_id: int, *, reason: str, key: str, usage: CallUsage | None = None
    ) -> HoldOutcome:
        """Give the whole hold back, saying why (shown to the user as a ledger line).

        ``usage`` as for :meth:`capture`, with zero credits.
        """
        _check_id(hold_id, "hold id")
        reason = _check_reason(reason)
        if usage is not None:
            usage.check()
        params = {"hold_id": hold_id, "reason": reason}

        def work(conn: Connection, check: KeyCheck, now: datetime) -> HoldOutcome:
            hold = holds.release(conn, check, hold_id, reason, now)
            if usage is not None:
                usage_rows.insert_for_hold(conn, hold, usage, now)
            return HoldOutcome(False, hold)

        return self._idempotent("release", key, params, work, _hold_to_json, self._replayed_hold)

    # --- usage -----------------------------------------------------------------------------

    def record_refusal(
        self, *, account_id: int, user_id: int, feature_key: str, model: str, usage: CallUsage
    ) -> int:
        """The usage row of a request refused before any hold (no credits, a cap, a rate limit,
        an unpriced model, a feature switched off): zero credits, its workspace the account's.
        Returns the row's id."""
        _check_id(account_id, "account id")
        _check_id(user_id, "user id")
        usage.check()
        identity = UsageIdentity.of_refusal(
            user_id=user_id, account_id=account_id, feature_key=feature_key, model=model
        )
        return self._write(lambda conn, now: usage_rows.insert(conn, identity, usage, now))

    def record_timeout(self, hold_id: int, usage: CallUsage) -> int:
        """The usage row of a call that timed out: its outcome is unknown, so its hold stays
        pending until it expires (or is reconciled); the row has the hold's identity."""
        _check_id(hold_id, "hold id")
        usage.check()

        def work(conn: Connection, now: datetime) -> int:
            return usage_rows.insert_for_hold(conn, holds.read(conn, hold_id), usage, now)

        return self._write(work)

    def usage_for_hold(self, hold_id: int) -> UsageRow | None:
        return self._read(lambda conn: usage_rows.for_hold(conn, hold_id))

    def recent_usage(
        self, *, user_id: int | None = None, workspace_id: int | None = None, limit: int = 100
    ) -> list[UsageRow]:
        return self._read(
            lambda conn: usage_rows.recent(
                conn, user_id=user_id, workspace_id=workspace_id, limit=limit
            )
        )

    def sweep(self, limit: int = 1000) -> SweepReport:
        """Expire pending holds past their TTL and due grants, by the database's clock.

        Safe to run in several processes at once: each hold ends at most once.
        """
        with db.read_only_connection(self.engine) as conn:
            now = self._clock() if self._clock else database_now(conn)
            due = holds.expired_pending(conn, now, limit)
            grant_accounts = accounts.due_for_grant_expiry(conn, now)
        by_account: dict[int, list[int]] = defaultdict(list)
        for account_id, hold_id in due:
            by_account[account_id].append(hold_id)
        for account_id in grant_accounts:
            by_account.setdefault(account_id, [])
        expired_holds = expired_credits = 0
        for account_id in sorted(by_account):
            with db.write_transaction(self.engine) as conn:
                ended, credits = holds.sweep_account(conn, account_id, by_account[account_id], now)
            expired_holds += ended
            expired_credits += credits
        return SweepReport(expired_holds, expired_credits, len(by_account))

    # --- reads -----------------------------------------------------------------------------

    def balance(self, account_id: int) -> Balance:
        return self._read(lambda conn: accounts.read(conn, account_id))

    def hold(self, hold_id: int) -> Hold:
        return self._read(lambda conn: holds.read(conn, hold_id))

    def history(self, account_id: int, **filters: Any) -> list[JournalLine]:
        def work(conn: Connection) -> list[JournalLine]:
            accounts.read(conn, account_id)
            return journal.history(conn, account_id, **filters)

        return self._read(work)

    def month_spend(self, account_id: int, user_id: int) -> int:
        return self._read(lambda conn: holds.month_spend(conn, account_id, user_id, self.now()))

    def verify(self) -> list[Mismatch]:
        return self._read(verify)
