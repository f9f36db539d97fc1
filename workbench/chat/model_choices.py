"""What the chat model picker says about each model: its description, context size, what it
accepts beside text, and its price per million tokens in credits. Plain data from the gateway's
catalogue and price cache; no Streamlit."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.amounts import format_credits
from ledger.errors import LedgerError
from workbench.gateway.catalogue import ModelEntry
from workbench.gateway.facade import Gateway


@dataclass(frozen=True)
class ModelChoice:
    id: str
    name: str
    description: str
    context_window: int
    attachments: tuple[str, ...]
    input_per_mtok: int | None  # micro-credits per million tokens; None: not priced
    output_per_mtok: int | None

    @property
    def summary(self) -> str:
        """One line under the model's name in the picker."""
        parts = [self.description] if self.description else []
        parts.append(f"{_tokens(self.context_window)} context")
        if self.input_per_mtok is None or self.output_per_mtok is None:
            parts.append("not priced yet: cannot be used")
        else:
            parts.append(
                f"{format_credits(self.input_per_mtok)} / {format_credits(self.output_per_mtok)} "
                "credits per million tokens in / out"
            )
        if "image" in self.attachments:
            parts.append(
                "reads pictures and files" if "text" in self.attachments else "sees pictures"
            )
        elif "text" in self.attachments:
            parts.append("reads files")
        return " · ".join(parts)


def chat_choices(gateway: Gateway) -> list[ModelChoice]:
    return [_choice(gateway, entry) for entry in gateway.models("chat")]


def _choice(gateway: Gateway, entry: ModelEntry) -> ModelChoice:
    try:
        price = gateway.prices.current(entry.price)
        per_in, per_out = price.input_per_mtok, price.output_per_mtok
    except LedgerError:  # unpriced: the picker says so, the gateway refuses it
        per_in = per_out = None
    return ModelChoice(
        entry.id,
        entry.name,
        entry.description,
        entry.context_window,
        tuple(entry.attachments),
        per_in,
        per_out,
    )


def _tokens(count: int) -> str:
    if count >= 1000 and count % 1000 == 0:
        return f"{count // 1000:,}k-token"
    return f"{count:,}-token"
