"""``workbench prices …``: the model prices the ledger charges."""

from __future__ import annotations

from pathlib import Path

import click

from ledger.amounts import format_credits
from ledger.service import Ledger
from workbench.cli.common import with_ledger
from workbench.config import Settings


@click.group("prices")
def group() -> None:
    """Model prices: what each model costs, by version."""


@group.command("list")
def list_prices() -> None:
    """The current price of every priced model."""

    def work(book: Ledger, _config: Settings) -> None:
        for price in book.priced_models():
            if price.images:
                terms = ", ".join(
                    f"{size}/{quality} {format_credits(micros)}"
                    for (size, quality), micros in sorted(price.images.items())
                )
                unit = "credits per image"
            else:
                terms = (
                    f"in {format_credits(price.input_per_mtok or 0)}, "
                    f"out {format_credits(price.output_per_mtok or 0)}"
                )
                unit = "credits per million tokens"
            print(f"{price.model:32} v{price.version}  {terms} ({unit})")

    with_ledger(work)


@group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show the versions it would add; write nothing.")
@click.option(
    "--withdraw-missing",
    is_flag=True,
    help="Make models the file does not list unpriced (they can then not be used).",
)
@click.option("--by", help="Username of the operator importing (default: none).")
@click.option("--reason", help="Why (kept with each new version).")
def import_prices(
    file: Path, dry_run: bool, withdraw_missing: bool, by: str | None, reason: str | None
) -> None:
    """Add a price version for every model FILE prices differently from the database.

    Each version records who imported it and when. Models FILE does not list keep their prices
    unless --withdraw-missing. FILE has the format of data/prices.toml.
    """

    def work(book: Ledger, _config: Settings) -> None:
        actor = book.user(by).id if by else None
        changes = book.import_prices(
            file,
            actor_user_id=actor,
            reason=reason,
            dry_run=dry_run,
            withdraw_missing=withdraw_missing,
        )
        for change in changes:
            print(f"  {change.describe()}")
        if not changes:
            print(f"prices: {file} matches the current prices; nothing to import")
        elif dry_run:
            print(
                f"dry run: {len(changes)} new price version(s) would be added; nothing was written"
            )
        else:
            print(f"imported {len(changes)} new price version(s)")

    with_ledger(work)
