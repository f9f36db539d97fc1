"""``Billing``: what the pages, the webhook route and the command line call. It holds the
database, the clock and, when Stripe keys are set, the Stripe API; without keys everything that
only reads still works and the rest says purchases are not configured."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine

from ledger import db
from ledger.service import Ledger
from workbench.billing import auto_top_up, checkout, events, offers, records, subscription_state
from workbench.billing.auto_top_up import Attempt, AutoTopUp
from workbench.billing.checkout import CheckoutStarted
from workbench.billing.events import EventOutcome
from workbench.billing.fulfilment import Fulfilment, fulfil_checkout
from workbench.billing.offers import Offer, OfferKind
from workbench.billing.stripe_api import StripeApi
from workbench.billing.webhook import secrets_from, verified_event
from workbench.config import Settings

NOT_CONFIGURED = (
    "Purchases are not configured on this workbench (no Stripe key): ask an operator for credits."
)


class BillingNotConfigured(Exception):
    pass


@dataclass(frozen=True)
class Billing:
    engine: Engine
    now: Callable[[], datetime]
    api: StripeApi | None = None
    webhook_secrets: list[str] = field(default_factory=list)

    @property
    def configured(self) -> bool:
        return self.api is not None

    def _api(self) -> StripeApi:
        if self.api is None:
            raise BillingNotConfigured(NOT_CONFIGURED)
        return self.api

    # --- the catalogue ------------------------------------------------------------------------

    def offers(self, kind: OfferKind) -> list[Offer]:
        with db.read_only_connection(self.engine) as conn:
            return offers.listed(conn, kind)

    # --- buying -------------------------------------------------------------------------------

    def start_checkout(
        self,
        *,
        workspace_id: int,
        user_id: int,
        kind: OfferKind,
        offer_id: str,
        return_url: str,
        key: str,
    ) -> CheckoutStarted:
        return checkout.start_checkout(
            self.engine,
            self._api(),
            self.now,
            workspace_id=workspace_id,
            user_id=user_id,
            kind=kind,
            offer_id=offer_id,
            return_url=return_url,
            key=key,
        )

    def open_portal(self, *, workspace_id: int, user_id: int, return_url: str) -> str:
        return checkout.open_portal(
            self.engine,
            self._api(),
            workspace_id=workspace_id,
            user_id=user_id,
            return_url=return_url,
        )

    def fulfil_returning(self, session_id: str, workspace_id: int) -> Fulfilment:
        """The success page's fulfilment: the session as Stripe has it (never what the browser
        says), through the webhook's own idempotent function."""
        session = self._api().retrieve_checkout_session(session_id)
        if str(dict(session.get("metadata") or {}).get("workspace_id")) != str(workspace_id):
            return Fulfilment("ignored: that checkout is not for this workspace")
        with db.write_transaction(self.engine) as conn:
            return fulfil_checkout(conn, session, self.now())

    # --- the webhook --------------------------------------------------------------------------

    def receive(self, payload: bytes, signature: str | None) -> EventOutcome:
        """A webhook request: verified (``WebhookRefused`` otherwise), then acted on once."""
        event = verified_event(payload, signature, self.webhook_secrets)
        return events.handle(self.engine, event, self.now, self.api)

    def handle_event(self, event: Mapping[str, Any]) -> EventOutcome:
        return events.handle(self.engine, event, self.now, self.api)

    # --- what a workspace has -----------------------------------------------------------------

    def subscription_of(self, workspace_id: int) -> Mapping[str, Any] | None:
        with db.read_only_connection(self.engine) as conn:
            return subscription_state.of_workspace(conn, workspace_id)

    def payments_of(self, workspace_id: int, limit: int = 50) -> list[records.Payment]:
        with db.read_only_connection(self.engine) as conn:
            return records.payments_of(conn, workspace_id, limit)

    def has_customer(self, workspace_id: int) -> bool:
        with db.read_only_connection(self.engine) as conn:
            return records.customer_of(conn, workspace_id) is not None

    # --- auto top-up --------------------------------------------------------------------------

    def auto_top_up(self, workspace_id: int) -> AutoTopUp | None:
        with db.read_only_connection(self.engine) as conn:
            return auto_top_up.settings_of(conn, workspace_id)

    def save_auto_top_up(self, wanted: AutoTopUp, *, actor_user_id: int) -> None:
        auto_top_up.save(self.engine, wanted, actor_user_id=actor_user_id, now=self.now())

    def top_up_if_due(self, workspace_id: int) -> Attempt | None:
        if self.api is None:
            return None
        return auto_top_up.run_if_due(self.engine, self.api, workspace_id, self.now())


def open_billing(ledger: Ledger, config: Settings) -> Billing:
    """Billing on ``ledger``'s database as ``config`` sets it up (Stripe only with a key). Light
    to import: the command line's billing and webhook commands use it without the gateway."""
    secret = config.stripe_webhook_secret
    return Billing(
        engine=ledger.engine,
        now=ledger.now,
        api=StripeApi.from_settings(config),
        webhook_secrets=secrets_from(secret.get_secret_value() if secret else None),
    )
