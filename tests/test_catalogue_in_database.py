"""Prices, model switches and feature switches live in the database (issue 9).

The catalogue files seed an empty database and can be imported on purpose; start-up never changes
a price or a switch; every change is a new version or row with who made it and when.
"""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from ledger import db, errors
from ledger.amounts import credits
from ledger.pricing import Price, load_catalogue
from ledger.schema import catalogue_switches, image_prices, price_versions
from ledger.service import Ledger
from tests.conftest import PRICES, FakeClock, Seed, reserve
from workbench.bootstrap import open_services
from workbench.config import DATA, Settings

MODELS = DATA / "models.toml"
SHIPPED_MODELS = {
    "demo/chat": True,
    "demo/images": True,
    "openai/gpt-4o-mini": True,
    "local/llama3.2": False,
}


def count(book: Ledger, table: sa.Table) -> int:
    with db.read_only_connection(book.engine) as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def changed_prices(tmp_path: Path, old: str, new: str) -> Path:
    text = PRICES.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    path = tmp_path / "prices-changed.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.fixture
def empty(db_url: str, clock: FakeClock) -> Any:
    """A migrated database with no price and no switch at all."""
    book = Ledger.open(db_url, clock=clock, pool_size=4)
    yield book
    book.close()


# --- seeding --------------------------------------------------------------------------------------


def test_the_files_seed_only_an_empty_database(empty: Ledger, tmp_path: Path) -> None:
    lines = empty.seed_catalogue(PRICES, SHIPPED_MODELS)
    shipped = load_catalogue(PRICES)
    assert [line for line in lines if "price version" in line] == [
        f"{price.model}: price version 1" for price in shipped
    ]
    assert "local/llama3.2: disabled (from the catalogue)" in lines
    assert {p.model for p in empty.priced_models()} == {p.model for p in shipped}
    [first] = empty.price_history("demo/chat")
    assert first.created_by_user_id is None and first.created_by is None
    assert first.reason == "seeded from the price catalogue"
    state = empty.switches()
    assert {m: s.enabled for m, s in state.models.items()} == SHIPPED_MODELS
    assert all(s.actor_user_id is None for s in state.models.values())
    assert state.features == {}  # a feature never switched is on
    versions, switches = count(empty, price_versions), count(empty, catalogue_switches)

    # Seeding again with different files (a changed price, a model the file now disables, one
    # the file now lists) changes nothing that exists; only the new model gets its first state.
    other = changed_prices(tmp_path, "input_per_million = 100", "input_per_million = 999")
    lines = empty.seed_catalogue(
        other, {**SHIPPED_MODELS, "demo/chat": False, "openai/gpt-4o": True}
    )
    assert lines == ["openai/gpt-4o: enabled (from the catalogue)"]
    assert empty.price("demo/chat").input_per_mtok == credits(100)
    assert count(empty, price_versions) == versions
    assert count(empty, catalogue_switches) == switches + 1
    assert empty.switches().model_enabled("demo/chat", default=False) is True


def _open_and_seed(url: str) -> int:
    book = Ledger.open(url, pool_size=1)
    try:
        return len(book.seed_catalogue(PRICES, SHIPPED_MODELS))
    finally:
        book.close()


def test_replicas_starting_together_seed_once(db_url: str) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        seeded = pool.map(_open_and_seed, [db_url] * 4)
    catalogue = load_catalogue(PRICES)
    assert sorted(seeded) == [0, 0, 0, len(catalogue) + len(SHIPPED_MODELS)]
    book = Ledger.open(db_url, migrate=False)
    assert count(book, price_versions) == len(catalogue)
    assert count(book, catalogue_switches) == len(SHIPPED_MODELS)
    book.close()


def test_seeding_reads_no_price_file_once_prices_exist(empty: Ledger, tmp_path: Path) -> None:
    empty.import_prices(PRICES)
    broken = tmp_path / "broken.toml"
    broken.write_text("this is [ not toml")
    assert empty.seed_catalogue(broken, {}) == []


# --- import on purpose ----------------------------------------------------------------------------


def test_a_dry_run_import_lists_the_new_versions_and_writes_nothing(
    ledger: Ledger, seeded: Seed, tmp_path: Path
) -> None:
    path = changed_prices(tmp_path, "output_per_million = 400", "output_per_million = 450")
    before = (count(ledger, price_versions), count(ledger, image_prices))
    [change] = ledger.import_prices(path, dry_run=True, actor_user_id=seeded.operator_id)
    assert (change.model, change.version, change.withdrawn) == ("demo/chat", 2, False)
    assert change.price.output_per_mtok == credits(450)
    assert change.previous is not None and change.previous.output_per_mtok == credits(400)
    assert "in 100 / out 450" in change.describe() and "was in 100 / out 400" in change.describe()
    assert (count(ledger, price_versions), count(ledger, image_prices)) == before
    assert ledger.price("demo/chat").version == 1

    [real] = ledger.import_prices(path, actor_user_id=seeded.operator_id, reason="Q3 list prices")
    assert real == change
    assert count(ledger, price_versions) == before[0] + 1
    [newest, oldest] = ledger.price_history("demo/chat")
    assert (newest.price.version, newest.price.output_per_mtok) == (2, credits(450))
    assert (newest.created_by_user_id, newest.created_by) == (seeded.operator_id, "acme-operator")
    assert newest.reason == "Q3 list prices"
    assert (oldest.price.version, oldest.created_by) == (1, None)
    assert ledger.import_prices(path) == []  # the same file again: nothing to do


def test_an_import_withdraws_models_it_lacks_only_when_asked(
    ledger: Ledger, tmp_path: Path
) -> None:
    only_demo = [p for p in load_catalogue(PRICES) if p.model.startswith("demo/")]
    assert ledger.import_prices(only_demo) == []
    assert ledger.price("openai/gpt-4o").version == 1
    planned = ledger.import_prices(only_demo, withdraw_missing=True, dry_run=True)
    assert {c.model for c in planned} == {
        p.model for p in load_catalogue(PRICES) if not p.model.startswith("demo/")
    }
    assert all(c.withdrawn and str(c).endswith("withdrawn (now unpriced)") for c in planned)
    assert ledger.price("openai/gpt-4o").version == 1  # the dry run wrote nothing
    assert ledger.import_prices(only_demo, withdraw_missing=True) == planned
    with pytest.raises(errors.UnpricedModel):
        ledger.price("openai/gpt-4o")
    assert {p.model for p in ledger.priced_models()} == {"demo/chat", "demo/images"}
    # Importing the full file again prices them anew, as new versions.
    again = ledger.import_prices(PRICES)
    assert {c.model: c.version for c in again}["openai/gpt-4o"] == 3


def test_an_import_by_an_unknown_user_writes_nothing(ledger: Ledger, tmp_path: Path) -> None:
    path = changed_prices(tmp_path, "input_per_million = 100", "input_per_million = 101")
    before = count(ledger, price_versions)
    with pytest.raises(errors.UnknownUser):
        ledger.import_prices(path, actor_user_id=987_654)
    assert count(ledger, price_versions) == before


# --- a price change is a new version with its author ----------------------------------------------


def test_set_price_adds_a_version_with_who_and_when(
    ledger: Ledger, seeded: Seed, clock: FakeClock
) -> None:
    old_hold = ledger.hold(reserve(ledger, seeded, 5, "before-change"))
    clock.advance(hours=1)
    change = ledger.set_price(
        "demo/chat",
        feature_key="ai_text_chat",
        input_per_mtok=130,
        output_per_mtok=520,
        actor_user_id=seeded.operator_id,
        reason="provider raised prices",
    )
    assert change is not None and (change.version, change.previous is not None) == (2, True)
    price = ledger.price("demo/chat")
    assert (price.version, price.input_per_mtok, price.output_per_mtok) == (2, 130, 520)
    [newest, oldest] = ledger.price_history("demo/chat")
    assert newest.effective_at == clock.now and oldest.effective_at == clock.now - timedelta(
        hours=1
    )
    assert (newest.created_by, newest.reason, newest.active) == (
        "acme-operator",
        "provider raised prices",
        True,
    )
    # Holds made before keep the version they were priced at; new ones take the new version.
    assert old_hold.price_version_id == oldest.price.version_id
    assert ledger.hold(reserve(ledger, seeded, 5, "after")).price_version_id == price.version_id
    # The same terms again add nothing.
    same = ledger.set_price(
        "demo/chat",
        feature_key="ai_text_chat",
        input_per_mtok=130,
        output_per_mtok=520,
        actor_user_id=seeded.operator_id,
    )
    assert same is None and len(ledger.price_history("demo/chat")) == 2


def test_set_price_prices_images_by_size_and_quality(ledger: Ledger, seeded: Seed) -> None:
    ledger.set_price(
        "demo/images",
        feature_key="ai_image_generation",
        images={("256x256", "standard"): 7},
        actor_user_id=seeded.operator_id,
    )
    price = ledger.price("demo/images")
    assert dict(price.images) == {("256x256", "standard"): 7} and price.version == 2


@pytest.mark.parametrize(
    ("arguments", "error", "words"),
    [
        (
            {"feature_key": "ai_video", "input_per_mtok": 1, "output_per_mtok": 1},
            "UnknownFeature",
            "ai_video",
        ),
        ({"feature_key": "ai_text_chat", "input_per_mtok": 1}, "InvalidAmount", "output"),
        (
            {"feature_key": "ai_text_chat", "input_per_mtok": -1, "output_per_mtok": 1},
            "InvalidAmount",
            "input",
        ),
        (
            {"feature_key": "ai_image_generation", "input_per_mtok": 1, "output_per_mtok": 1},
            "InvalidInput",
            "per image",
        ),
        ({"feature_key": "ai_image_generation"}, "InvalidInput", "at least one size"),
        (
            {
                "feature_key": "ai_text_chat",
                "input_per_mtok": 1,
                "output_per_mtok": 1,
                "actor_user_id": 0,
            },
            "InvalidInput",
            "acting user id",
        ),
        (
            {
                "feature_key": "ai_text_chat",
                "input_per_mtok": 1,
                "output_per_mtok": 1,
                "actor_user_id": 99_999,
            },
            "UnknownUser",
            "no active user with id 99999",
        ),
    ],
)
def test_a_bad_price_change_writes_nothing(
    ledger: Ledger, seeded: Seed, arguments: dict[str, Any], error: str, words: str
) -> None:
    before = count(ledger, price_versions)
    arguments = {"actor_user_id": seeded.operator_id, **arguments}
    with pytest.raises(getattr(errors, error), match=words):
        ledger.set_price("demo/chat", **arguments)
    assert count(ledger, price_versions) == before
    assert ledger.price("demo/chat").version == 1


# --- switches: append-only, the latest row wins ---------------------------------------------------


def test_model_switches_are_appended_with_who_why_and_when(
    ledger: Ledger, seeded: Seed, clock: FakeClock
) -> None:
    off = ledger.set_model_enabled("openai/gpt-4o", False, seeded.operator_id, reason="over budget")
    assert (off.enabled, off.actor, off.reason, off.created_at) == (
        False,
        "acme-operator",
        "over budget",
        clock.now,
    )
    assert ledger.set_model_enabled("openai/gpt-4o", False, seeded.operator_id) == off  # no-op
    clock.advance(minutes=5)
    with pytest.raises(errors.NotAllowed, match="only an operator may switch models"):
        ledger.set_model_enabled("openai/gpt-4o", True, seeded.member_id)
    on = ledger.set_model_enabled("openai/gpt-4o", True, seeded.operator_id)
    assert ledger.switches().model_enabled("openai/gpt-4o", default=False) is True
    assert ledger.switches().model_enabled("never/switched", default=False) is False
    assert ledger.switch_history("model", "openai/gpt-4o") == [on, off]
    assert count(ledger, catalogue_switches) == 2


def test_feature_switches_carry_a_message_while_off(ledger: Ledger, seeded: Seed) -> None:
    assert ledger.switches().feature_enabled("ai_text_chat")
    off = ledger.set_feature(
        "ai_text_chat",
        False,
        "  Chat is paused for maintenance until 14:00 UTC.  ",
        actor_user_id=seeded.operator_id,
        reason="provider incident",
    )
    assert off.message == "Chat is paused for maintenance until 14:00 UTC."
    state = ledger.switches()
    assert not state.feature_enabled("ai_text_chat") and state.feature_enabled(
        "ai_image_generation"
    )
    assert state.feature("ai_text_chat") == off
    changed = ledger.set_feature(
        "ai_text_chat", False, "Back at 15:00 UTC.", actor_user_id=seeded.operator_id
    )
    assert changed.id > off.id  # a new message is a change too
    on = ledger.set_feature("ai_text_chat", True, "ignored while on", actor_user_id=None)
    assert (on.enabled, on.message, on.actor_user_id) == (True, None, None)
    assert [s.id for s in ledger.switch_history("feature", "ai_text_chat")] == [
        on.id,
        changed.id,
        off.id,
    ]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda b: b.set_feature("ai_video", False, actor_user_id=None), errors.UnknownFeature),
        (lambda b: b.set_feature("ai_text_chat", "no", actor_user_id=None), errors.InvalidInput),
        (
            lambda b: b.set_feature("ai_text_chat", False, "x" * 501, actor_user_id=None),
            errors.InvalidInput,
        ),
        (lambda b: b.set_model_enabled("", False, None), errors.InvalidInput),
        (lambda b: b.set_model_enabled("demo/chat", False, 424_242), errors.UnknownUser),
        (lambda b: b.switch_history("colour", "red"), errors.InvalidInput),
    ],
    ids=["unknown-feature", "not-a-bool", "long-message", "no-model", "unknown-actor", "kind"],
)
def test_bad_switch_changes_write_nothing(ledger: Ledger, call: Any, error: type) -> None:
    with pytest.raises(error):
        call(ledger)
    assert count(ledger, catalogue_switches) == 0


@pytest.mark.parametrize(
    "statement",
    [
        catalogue_switches.update().values(enabled=True),
        catalogue_switches.delete(),
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_rewrite_a_switch(
    ledger: Ledger, seeded: Seed, statement: sa.Executable
) -> None:
    ledger.set_feature(
        "ai_image_generation", False, "Off for now.", actor_user_id=seeded.operator_id
    )
    with (
        pytest.raises(DBAPIError, match="append-only"),
        db.write_transaction(ledger.engine) as conn,
    ):
        conn.execute(statement)
    assert not ledger.switches().feature_enabled("ai_image_generation")


# --- start-up never changes prices or switches ----------------------------------------------------


def test_a_restart_keeps_what_was_changed_in_the_database(db_url: str, tmp_path: Path) -> None:
    config = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=db_url, image_dir=tmp_path / "images"
    )
    first = open_services(config)  # the first start seeds the empty database from data/
    assert first.ledger.price("demo/chat").version == 1
    admin = first.ledger.create_user("operator")
    first.ledger.set_operator(admin.id, True, actor_user_id=None, reason="runs the catalogue")
    first.ledger.set_price(
        "demo/chat",
        feature_key="ai_text_chat",
        input_per_mtok=111,
        output_per_mtok=444,
        actor_user_id=admin.id,
    )
    first.ledger.set_model_enabled("openai/gpt-4o-mini", False, admin.id)
    first.ledger.set_model_enabled("local/llama3.2", True, admin.id)  # off in models.toml
    first.ledger.set_feature("ai_image_generation", False, "Paused.", actor_user_id=admin.id)
    versions = count(first.ledger, price_versions)
    switches = count(first.ledger, catalogue_switches)
    first.ledger.close()

    again = open_services(config)  # a restart: migrate, seed, build the gateway
    try:
        price = again.ledger.price("demo/chat")
        assert (price.version, price.input_per_mtok, price.output_per_mtok) == (2, 111, 444)
        assert count(again.ledger, price_versions) == versions
        assert count(again.ledger, catalogue_switches) == switches
        state = again.ledger.switches()
        assert not state.model_enabled("openai/gpt-4o-mini", default=True)
        assert state.model_enabled("local/llama3.2", default=False)
        assert not state.feature_enabled("ai_image_generation")
        assert again.gateway.catalogue.get("local/llama3.2").enabled  # type: ignore[union-attr]
        assert not again.gateway.catalogue.get("openai/gpt-4o-mini").enabled  # type: ignore[union-attr]
        assert again.gateway.feature_off("ai_image_generation") is not None
    finally:
        again.ledger.close()


def test_prices_parsed_in_code_import_like_a_file(ledger: Ledger) -> None:
    extra = Price("demo/extra", "ai_text_chat", credits(1), credits(2))
    [change] = ledger.import_prices([extra])
    assert (str(change), change.describe()) == (
        "demo/extra: price version 1",
        "demo/extra: price version 1: in 1 / out 2 per million tokens (new model)",
    )
