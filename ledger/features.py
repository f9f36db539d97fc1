"""The feature catalogue: what the workbench sells, and the operation type each feature books as.

Feature keys are the names used in prices, holds, entries and usage rows. ``OperationType`` is the
enum carried by those rows; the two are kept in one-to-one correspondence (a test fails otherwise),
so a new feature cannot be sold without deciding how it is booked.
"""

from __future__ import annotations

from enum import StrEnum

from ledger.errors import UnknownFeature


class OperationType(StrEnum):
    TEXT_CHAT = "text_chat"
    IMAGE_GENERATION = "image_generation"


class PriceUnit(StrEnum):
    """How a feature is priced: per million tokens (input and output) or per image."""

    TOKENS = "tokens"
    IMAGES = "images"


FEATURES: dict[str, OperationType] = {
    "ai_text_chat": OperationType.TEXT_CHAT,
    "ai_image_generation": OperationType.IMAGE_GENERATION,
}

PRICE_UNITS: dict[OperationType, PriceUnit] = {
    OperationType.TEXT_CHAT: PriceUnit.TOKENS,
    OperationType.IMAGE_GENERATION: PriceUnit.IMAGES,
}


def operation_type(feature_key: str) -> OperationType:
    """The operation type a feature books as; ``UnknownFeature`` for anything not sold."""
    try:
        return FEATURES[feature_key]
    except (KeyError, TypeError):
        raise UnknownFeature(
            f"unknown feature {feature_key!r}; known features: {', '.join(sorted(FEATURES))}",
            feature_key=str(feature_key),
        ) from None
