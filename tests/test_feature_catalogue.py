"""Every feature key sold has an operation type, and every operation type is sold under a key."""

from __future__ import annotations

from ledger.features import FEATURES, PRICE_UNITS, OperationType
from ledger.pricing import load_catalogue
from tests.conftest import PRICES


def test_every_feature_key_has_an_operation_type() -> None:
    for key, op in FEATURES.items():
        assert isinstance(op, OperationType), key


def test_every_operation_type_has_exactly_one_feature_key() -> None:
    for op in OperationType:
        keys = [key for key, mapped in FEATURES.items() if mapped is op]
        assert len(keys) == 1, f"{op} is sold under {keys}"


def test_every_operation_type_has_a_price_unit() -> None:
    assert set(PRICE_UNITS) == set(OperationType)


def test_the_required_features_are_sold() -> None:
    assert FEATURES["ai_text_chat"] is OperationType.TEXT_CHAT
    assert FEATURES["ai_image_generation"] is OperationType.IMAGE_GENERATION


def test_shipped_catalogue_prices_every_feature() -> None:
    priced = {price.feature_key for price in load_catalogue(PRICES)}
    assert priced == set(FEATURES)
