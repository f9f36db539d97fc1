"""The ledger's catalogue operations: prices (imported on purpose, changed one version at a time,
with their author) and the model and feature switches. A part of ``Ledger``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from ledger import audit, authority, pricing, switches
from ledger.errors import InvalidInput
from ledger.pricing import Price, PriceChange, PriceVersionRecord
from ledger.switches import Switch, Switches
from ledger.transactions import Transactions, check_id


def _audit_price(
    conn: Connection, actor: int | None, change: PriceChange, reason: str | None, now: datetime
) -> None:
    audit.record(
        conn,
        actor_user_id=actor,
        action="price.change",
        target_kind="model",
        target=change.model,
        reason=reason,
        before=None if change.previous is None else _terms(change.previous),
        after=None if change.withdrawn else {**_terms(change.price), "version": change.version},
        now=now,
    )


def _terms(price: Price) -> dict[str, Any]:
    return {
        "feature_key": price.feature_key,
        "input_per_mtok": price.input_per_mtok,
        "output_per_mtok": price.output_per_mtok,
        "images": {f"{size} {quality}": c for (size, quality), c in sorted(price.images.items())},
    }


class CatalogueOperations(Transactions):
    # --- prices -----------------------------------------------------------------------

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
            self._authorize(conn, actor, "import prices")
            changes = pricing.plan_import(conn, prices, withdraw_missing=withdraw_missing)
            pricing.apply(conn, changes, now, actor_user_id=actor, reason=reason)
            for change in changes:
                _audit_price(conn, actor, change, reason, now)
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
            self._authorize(conn, actor, "change prices")
            changes = pricing.plan_import(conn, [price])
            pricing.apply(conn, changes, now, actor_user_id=actor, reason=reason)
            for change in changes:
                _audit_price(conn, actor, change, reason, now)
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
            self._authorize(conn, actor, f"switch {kind}s on or off")
            before = switches.current(conn)
            was = (before.models if kind == switches.MODEL else before.features).get(key)
            switch = switches.record(
                conn,
                kind,
                key,
                enabled,
                now,
                message=message if not enabled else None,
                reason=reason,
                actor_user_id=actor,
            )
            if was is None or switch.id != was.id:  # the same state again adds nothing
                audit.record(
                    conn,
                    actor_user_id=actor,
                    action=f"{kind}.switch",
                    target_kind=kind,
                    target=key,
                    reason=reason,
                    before=None
                    if was is None
                    else {"enabled": was.enabled, "message": was.message},
                    after={"enabled": switch.enabled, "message": switch.message},
                    now=now,
                )
            return switch

        return self._write(work)

    @staticmethod
    def _check_actor(actor_user_id: int | None) -> int | None:
        return None if actor_user_id is None else check_id(actor_user_id, "acting user id")

    @staticmethod
    def _authorize(conn: Connection, actor_user_id: int | None, action: str) -> None:
        """A person changing the catalogue must be an operator; None is the system (the catalogue
        file, the command line run without --by)."""
        if actor_user_id is not None:
            authority.require_operator(conn, actor_user_id, action)

    def price(self, model: str) -> Price:
        return self._read(lambda conn: pricing.current_price(conn, model))

    def price_version(self, version_id: int) -> Price:
        """The price a hold was made at (versions are immutable, so this may be cached)."""
        return self._read(lambda conn: pricing.price_version(conn, version_id))

    def priced_models(self) -> list[Price]:
        return self._read(pricing.priced_models)
