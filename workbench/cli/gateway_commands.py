"""``workbench gateway …``: try the provider gateway from the terminal, billed like the app.

Calls are paid by a workspace's credits on behalf of one of its members (``--workspace``,
``--user``; default: the seeded demo workspace and its member). Provider keys come from the
environment or Streamlit's secrets; with none, the offline demo models answer.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from ledger.amounts import credits_text, format_credits
from ledger.service import Ledger
from workbench.cli.common import WHOLE_NUMBER, with_ledger
from workbench.config import Settings

if TYPE_CHECKING:
    from workbench.gateway.caller import Caller
    from workbench.gateway.facade import Gateway


@click.group("gateway")
def group() -> None:
    """Try the models from the terminal, billed like the app."""


def with_gateway(work: Callable[[Gateway], None]) -> None:
    # Imported here: the gateway brings litellm, seconds of start-up the ledger commands never need.
    from workbench.gateway.setup import build_gateway

    def run(book: Ledger, config: Settings) -> None:
        work(build_gateway(book, config))

    with_ledger(run)


def billed_call(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options of a call billed to a workspace on behalf of one of its members."""
    for option in reversed(
        [
            click.argument("prompt"),
            click.option("--workspace", default="demo", show_default=True, help="Who pays."),
            click.option("--user", default="member", show_default=True, help="The member."),
            click.option("--model", help="Catalogue id (default: the catalogue's)."),
            click.option("--key", help="Idempotency key (default: a new one)."),
        ]
    ):
        command = option(command)
    return command


def _caller(gateway: Gateway, workspace: str, user: str) -> Caller:
    from workbench.gateway.caller import Caller

    found = gateway.ledger.workspace(workspace)
    return Caller(gateway.ledger.user(user).id, found.id, found.account_id)


@group.command()
def models() -> None:
    """List the models on offer (* = can be called now)."""

    def work(gateway: Gateway) -> None:
        available = gateway.keys.available()
        for entry in gateway.catalogue.entries:
            offered = entry.enabled and entry.provider in available
            why = "" if offered else ("  (disabled)" if not entry.enabled else "  (no key)")
            default = " [default]" if entry.id == gateway.catalogue.default(entry.kind) else ""
            mark = "*" if offered else " "
            print(f"{mark} {entry.kind:5} {entry.id:32} {entry.name}{default}{why}")

    with_gateway(work)


@group.command()
@billed_call
@click.option("--system", help="System prompt.")
@click.option("--max-tokens", type=WHOLE_NUMBER, help="Longest reply, in tokens.")
def chat(
    prompt: str,
    workspace: str,
    user: str,
    model: str | None,
    key: str | None,
    system: str | None,
    max_tokens: int | None,
) -> None:
    """Stream a reply to PROMPT, billed to the workspace."""

    def work(gateway: Gateway) -> None:
        caller = _caller(gateway, workspace, user)
        messages = [{"role": "user", "content": prompt}]
        options: dict[str, Any] = {"model": model, "system": system, "max_tokens": max_tokens}
        estimate = gateway.estimate_chat(messages, **options)
        if estimate.notice:
            print(f"note: {estimate.notice}", file=sys.stderr)
        print(
            f"{estimate.model.name}: about {credits_text(estimate.credits)} held", file=sys.stderr
        )
        turn = gateway.chat(caller, messages, key=key or f"cli-{uuid.uuid4().hex}", **options)
        for piece in turn:
            print(piece, end="", flush=True)
        print()
        result = turn.result
        assert result is not None
        print(
            f"{result.status}: {credits_text(result.credits)} for {result.usage.input_tokens:,} "
            f"tokens in and {result.usage.output_tokens:,} out"
            + (" (replayed)" if result.replayed else ""),
            file=sys.stderr,
        )

    with_gateway(work)


@group.command()
@billed_call
@click.option("--n", type=WHOLE_NUMBER, default=1, show_default=True, help="How many images.")
@click.option("--size", help="For example 1024x1024 (default: the model's).")
@click.option("--quality", help="For example standard or hd.")
def image(
    prompt: str,
    workspace: str,
    user: str,
    model: str | None,
    key: str | None,
    n: int,
    size: str | None,
    quality: str | None,
) -> None:
    """Generate images of PROMPT into the image folder, billed per image returned."""

    def work(gateway: Gateway) -> None:
        result = gateway.generate_images(
            _caller(gateway, workspace, user),
            prompt,
            key=key or f"cli-{uuid.uuid4().hex}",
            model=model,
            n=n,
            size=size,
            quality=quality,
        )
        if result.notice:
            print(f"note: {result.notice}", file=sys.stderr)
        for picture in result.images:
            print(picture.path)
        print(
            f"{result.status}: {credits_text(result.credits)}; {result.message or ''}",
            file=sys.stderr,
        )

    with_gateway(work)


@group.command()
@click.option("--workspace", default="demo", show_default=True, help="Workspace slug.")
@click.option("--limit", type=WHOLE_NUMBER, default=20, show_default=True, help="Rows.")
def usage(workspace: str, limit: int) -> None:
    """Show a workspace's latest usage rows."""

    def work(book: Ledger, _config: Settings) -> None:
        workspace_id = book.workspace(workspace).id
        for row in book.recent_usage(workspace_id=workspace_id, limit=limit):
            when = row.created_at.isoformat(timespec="seconds") if row.created_at else "?"
            tokens = f"{row.input_tokens}+{row.output_tokens} tok" if not row.images else ""
            images = f"{row.images} img" if row.images else ""
            print(
                f"{when} {row.status:9} {row.model:28} {format_credits(row.credits):>10} cr "
                f"{tokens}{images}"
                f" {row.latency_ms or 0} ms {row.error_type or ''}"
            )

    with_ledger(work)
