"""``workbench webhook serve``: the Stripe webhook (``POST /webhooks/stripe``) on a server of its
own, for deployments that keep it apart from the app (the app's own server carries it too)."""

from __future__ import annotations

import logging
import os

import click
import uvicorn
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import LedgerError
from workbench.billing.service import open_billing
from workbench.billing.webhook import secrets_from
from workbench.cli.common import configured, fail, first_line, target
from workbench.db.ledger_access import open_ledger
from workbench.web.stripe_webhook import WEBHOOK_PATH, standalone_app


@click.group("webhook")
def group() -> None:
    """The Stripe webhook."""


@group.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8502, show_default=True, help="Port to serve."
)
def serve(host: str, port: int) -> None:
    """Serve only POST /webhooks/stripe (needs STRIPE_WEBHOOK_SECRET); Ctrl-C stops it."""
    if target.database_url:
        os.environ["WORKBENCH_DATABASE_URL"] = target.database_url
    try:
        config = configured()
    except ValidationError as error:
        raise fail(first_line(error)) from None
    secret = config.stripe_webhook_secret
    if not secrets_from(secret.get_secret_value() if secret else None):
        # Every delivery would be refused: better said now than answered with 400 all day.
        raise fail("STRIPE_WEBHOOK_SECRET is not set (the endpoint's whsec_… signing secret)")
    # Opened before the server starts, so a database that cannot be reached or migrated is one
    # line now (and the app's own first admin is not made here: that is `workbench run`'s).
    try:
        book = open_ledger(config)
    except LedgerError as error:
        raise fail(error.message) from None
    except (SQLAlchemyError, ValueError, OSError) as error:
        raise fail(first_line(error)) from None
    _log_to_console()
    print(
        f"Serving the Stripe webhook on http://{host}:{port}{WEBHOOK_PATH} (Ctrl-C stops it)",
        flush=True,
    )
    try:
        billing = open_billing(book, config)
        uvicorn.run(standalone_app(lambda: billing), host=host, port=port, log_config=None)
    finally:
        book.close()


def _log_to_console() -> None:
    """One console format for everything: the workbench's lines (one per delivery) and the
    server's own at INFO, other libraries' only when they warn. Streamlit (if anything imported
    it) detaches uvicorn's loggers from the root; they are put back."""
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in ("workbench", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        if name.startswith("uvicorn"):
            logger.handlers.clear()
            logger.propagate = True
