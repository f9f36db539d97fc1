"""``workbench prices …``: the model prices the ledger charges."""

from __future__ import annotations

import click

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
                    f"{size}/{quality} {credits:,}"
                    for (size, quality), credits in sorted(price.images.items())
                )
                unit = "credits per image"
            else:
                terms = f"in {price.input_per_mtok:,}, out {price.output_per_mtok:,}"
                unit = "credits per million tokens"
            print(f"{price.model:32} v{price.version}  {terms} ({unit})")

    with_ledger(work)
