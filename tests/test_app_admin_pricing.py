"""Pricing & features (operators only): a price change is a new version with its author and reason,
one audit row, and what the next estimate uses; models and features switched on and off through the
page; no unpriced model; bad input is one sentence and writes nothing; members and workspace admins
are refused on the server and by the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits
from ledger.audit import AuditEvent
from ledger.errors import NotAllowed
from ledger.pricing import Price, chat_estimate
from tests.app_harness import (
    CHAT,
    AppEnv,
    all_text,
    app_env,
    assert_no_exception,
    button,
    clear_caches,
)
from workbench.chat.submission import as_messages
from workbench.ui.messages import credits as credits_shown
from workbench.ui.page_registry import PAGES_DIR

# For ``AppTest.switch_page``: relative to the router's folder, as tests/app_harness.py's pages.
ADMIN_PRICING = "../../pages/admin_pricing.py"
OPERATORS_ONLY = "This page is for operators (the platform and finance team)."
CHAT_MODEL = "demo/chat"
SEEDED = 20_000


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, micros=credits(SEEDED)) as opened:
        yield opened


def pricing_page(env: AppEnv) -> AppTest:
    at = env.signed_in(env.operator, ADMIN_PRICING)
    assert_no_exception(at)
    assert at.error == []
    return at


def price_chat(at: AppTest, per_in: str, per_out: str, reason: str) -> AppTest:
    at.selectbox(key="price_model").set_value(CHAT_MODEL)
    at.text_input(key=f"in-{CHAT_MODEL}").set_value(per_in)
    at.text_input(key=f"out-{CHAT_MODEL}").set_value(per_out)
    at.text_input(key="price_reason").set_value(reason)
    at = button(at, "Save new price").click().run()
    assert_no_exception(at)
    return at


def price_changes(env: AppEnv) -> list[AuditEvent]:
    return env.svc.ledger.audit_trail(
        actor_user_id=env.operator.id, action="price.change", limit=50
    )


def unpriced_metric(at: AppTest) -> str:
    [metric] = [m for m in at.main.metric if m.label == "Unpriced models"]
    return str(metric.value)


# --- who may use it ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["member", "admin"])
def test_members_and_workspace_admins_are_refused_on_the_server(env: AppEnv, role: str) -> None:
    person = env.member if role == "member" else env.admin
    signed_in = env.signed_in(person)
    # Not in their navigation: AppTest refuses a page it was not given.
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        signed_in.switch_page(ADMIN_PRICING)
    # Run anyway (as if the menu offered it): one sentence, no form, no table.
    at = AppTest.from_file(str(PAGES_DIR / "admin_pricing.py"), default_timeout=30)
    at.session_state["who"] = signed_in.session_state["who"]
    at.run()
    assert_no_exception(at)
    assert [e.value for e in at.error] == [OPERATORS_ONLY]
    assert at.text_input == [] and at.text_area == [] and at.selectbox == []
    assert at.button == [] and at.dataframe == [] and at.metric == []


def test_the_ledger_refuses_a_workspace_admin_and_nothing_changes(env: AppEnv) -> None:
    ledger = env.svc.ledger
    before = (ledger.price_history(CHAT_MODEL), ledger.switches())
    with pytest.raises(NotAllowed):
        ledger.set_price(
            CHAT_MODEL,
            feature_key="ai_text_chat",
            input_per_mtok=credits(1),
            output_per_mtok=credits(2),
            actor_user_id=env.admin.id,
            reason="cheaper",
        )
    with pytest.raises(NotAllowed):
        ledger.set_model_enabled(CHAT_MODEL, False, env.admin.id, reason="off")
    with pytest.raises(NotAllowed):
        ledger.set_feature("ai_text_chat", False, "off", actor_user_id=env.admin.id)
    assert (ledger.price_history(CHAT_MODEL), ledger.switches()) == before
    assert price_changes(env) == []


def test_the_operator_sees_every_model_with_its_price_and_no_unpriced_model(env: AppEnv) -> None:
    at = pricing_page(env)
    assert [t.value for t in at.title] == ["Pricing & features"]
    assert unpriced_metric(at) == "0"
    assert "Price it" not in [b.label for b in at.button]
    table = at.dataframe[0].value
    catalogue = [entry.id for entry in env.svc.gateway.catalogue.entries]
    assert list(table["model"]) == catalogue
    chat = table[table["model"] == CHAT_MODEL].iloc[0]
    assert (chat["state"], chat["price version"]) == ("on", "1")
    assert chat["price"] == "in 100 / out 400 per million tokens"
    assert chat["set by"] == "the catalogue file"


# --- prices -----------------------------------------------------------------------------------


def test_a_price_change_is_a_new_version_with_its_author_one_audit_row_and_the_next_estimate(
    env: AppEnv,
) -> None:
    at = pricing_page(env)
    at.selectbox(key="price_model").set_value(CHAT_MODEL)
    at.text_input(key=f"in-{CHAT_MODEL}").set_value("150")
    at.text_input(key=f"out-{CHAT_MODEL}").set_value("600").run()
    # The old and new terms side by side, and a 500-in/200-out call under each.
    preview = at.dataframe[1].value
    assert list(preview["now"]) == ["100 credits", "400 credits", "0.13 credits"]
    assert list(preview["new"]) == ["150 credits", "600 credits", "0.195 credits"]

    at = price_chat(at, "150", "600", "Provider price rise")
    assert at.error == []
    [new, old] = env.svc.ledger.price_history(CHAT_MODEL)
    assert (new.price.version, new.active, new.created_by, new.reason) == (
        2,
        True,
        "olga",
        "Provider price rise",
    )
    assert (new.price.input_per_mtok, new.price.output_per_mtok) == (credits(150), credits(600))
    assert old.price.version == 1 and old.created_by is None
    [event] = price_changes(env)
    assert (event.actor, event.target, event.reason) == (
        "olga",
        CHAT_MODEL,
        "Provider price rise",
    )
    assert event.after is not None and event.after["version"] == 2
    # The page shows the new version at once; past versions are listed, not editable.
    history = at.dataframe[2].value
    assert list(history["version"]) == [2, 1]
    assert list(history["set by"]) == ["olga", "the catalogue file"]

    # The next estimate uses it: a process started after the change (one already running reads
    # it within 5 s: tests/test_gateway_switches.py).
    clear_caches()
    expected = env.svc.gateway.estimate_chat(as_messages([], "…"), model=CHAT_MODEL, system="")
    assert expected.price_version == new.price.version_id
    tokens = (expected.prompt_tokens, expected.max_tokens)
    assert (
        expected.credits == chat_estimate(new.price, *tokens) != chat_estimate(old.price, *tokens)
    )
    chat = env.signed_in(env.member, CHAT)
    assert_no_exception(chat)
    caption = f"Next message: about {credits_shown(expected.credits)}, held while it is answered."
    assert caption in [c.value for c in chat.caption]


def test_an_image_model_is_priced_per_image(env: AppEnv) -> None:
    at = pricing_page(env)
    at.selectbox(key="price_model").set_value("demo/images").run()
    area = at.text_area(key="img-demo/images")
    assert area.value.splitlines()[0] == "1024x1024 hd 40"
    area.set_value("256x256 standard 6\n1024x1024 hd 50")
    at.text_input(key="price_reason").set_value("Fewer sizes").run()
    assert list(at.dataframe[1].value["new"])[:2] == ["50 credits", "—"]
    at = button(at, "Save new price").click().run()
    assert_no_exception(at)
    assert at.error == []
    [new, _] = env.svc.ledger.price_history("demo/images")
    assert dict(new.price.images) == {
        ("256x256", "standard"): credits(6),
        ("1024x1024", "hd"): credits(50),
    }
    assert new.created_by == "olga"


def test_the_same_terms_again_add_nothing(env: AppEnv) -> None:
    at = price_chat(pricing_page(env), "100", "400", "No change really")
    assert [i.value for i in at.info] == ["Those are its current terms: nothing changed."]
    assert len(env.svc.ledger.price_history(CHAT_MODEL)) == 1
    assert price_changes(env) == []


@pytest.mark.parametrize(
    ("per_in", "reason", "sentence"),
    [
        ("0", "r", "Input credits per 1M tokens: a price must be more than 0 credits."),
        ("-5", "r", "Input credits per 1M tokens: a price must be more than 0 credits."),
        ("abc", "r", "Input credits per 1M tokens: 'abc' is not an amount of credits"),
        ("1e9", "r", "Input credits per 1M tokens: '1e9' is not an amount of credits"),
        (
            "99,999,999,999",
            "r",
            "Input credits per 1M tokens: a price must be at most 1,000,000,000 credits.",
        ),
        ("0.0000001", "r", "is not an amount of credits"),
        ("", "r", "Input credits per 1M tokens: '' is not an amount of credits"),
        ("150", "   ", "Give a reason: it is kept with the change in the audit trail."),
    ],
    ids=["zero", "negative", "words", "exponent", "enormous", "too-fine", "empty", "no-reason"],
)
def test_bad_input_is_one_sentence_and_writes_nothing(
    env: AppEnv, per_in: str, reason: str, sentence: str
) -> None:
    before = env.svc.ledger.price_history(CHAT_MODEL)
    at = price_chat(pricing_page(env), per_in, "600", reason)
    [error] = [e.value for e in at.error]
    assert sentence in error
    assert "Traceback" not in all_text(at)
    assert env.svc.ledger.price_history(CHAT_MODEL) == before
    assert price_changes(env) == []


def test_a_bad_image_line_is_one_sentence(env: AppEnv) -> None:
    at = pricing_page(env)
    at.selectbox(key="price_model").set_value("demo/images").run()
    at.text_area(key="img-demo/images").set_value("1024x1024 40")
    at.text_input(key="price_reason").set_value("oops")
    at = button(at, "Save new price").click().run()
    assert [e.value for e in at.error] == [
        "Line 1: write a size, a quality and credits, such as 1024x1024 hd 40."
    ]
    assert len(env.svc.ledger.price_history("demo/images")) == 1


def test_an_unpriced_model_is_counted_and_priced_from_its_button(env: AppEnv) -> None:
    local = "local/llama3.2"  # in the catalogue, off, never priced
    env.svc.ledger.set_model_enabled(local, True, env.operator.id, reason="the local server")
    at = pricing_page(env)
    assert unpriced_metric(at) == "1"
    assert any(local in t.value and "no chat price" in t.value for t in at.text)
    at = button(at, "Price it").click().run()
    assert at.selectbox(key="price_model").value == local
    at.text_input(key=f"in-{local}").set_value("1")
    at.text_input(key=f"out-{local}").set_value("2")
    at.text_input(key="price_reason").set_value("Electricity")
    at = button(at, "Save new price").click().run()
    assert_no_exception(at)
    assert unpriced_metric(at) == "0"
    assert env.svc.ledger.price(local) == Price(
        local, "ai_text_chat", credits(1), credits(2), {}, env.svc.ledger.price(local).version_id, 1
    )


# --- switches ---------------------------------------------------------------------------------


def test_a_model_is_switched_off_and_on_with_its_reason_shown_as_text(env: AppEnv) -> None:
    model = "openai/gpt-4o"
    reason = "**Budget** <b>cut</b>"
    at = pricing_page(env)
    at.selectbox(key="switch_model").set_value(model).run()
    at = button(at, "Switch the model off").click().run()  # no reason yet
    assert [e.value for e in at.error] == [
        "Give a reason: it is kept with the change in the audit trail."
    ]
    assert env.svc.ledger.switches().model_enabled(model, True)

    at.text_input(key="switch_model_reason").set_value(reason)
    at = button(at, "Switch the model off").click().run()
    assert_no_exception(at)
    switch = env.svc.ledger.switches().models[model]
    assert (switch.enabled, switch.actor, switch.reason) == (False, "olga", reason)
    table = at.dataframe[0].value
    assert table[table["model"] == model].iloc[0]["state"] == "off"
    # People's words are text, never Markdown or HTML.
    assert any(reason in t.value for t in at.text)
    assert not any("Budget" in str(m.value) for m in at.markdown)

    at.text_input(key="switch_model_reason").set_value("Budget back")
    at = button(at, "Switch the model on").click().run()
    assert env.svc.ledger.switches().model_enabled(model, False)
    events = env.svc.ledger.audit_trail(actor_user_id=env.operator.id, action="model.switch")
    assert [e.after for e in events] == [
        {"enabled": True, "message": None},
        {"enabled": False, "message": None},
    ]


def test_a_feature_switched_off_on_the_page_is_refused_on_the_chat_page(env: AppEnv) -> None:
    message = "Paused for maintenance until 14:00 UTC."
    at = pricing_page(env)
    assert at.selectbox(key="switch_feature").value == "ai_text_chat"
    at.text_area(key="feature_message").set_value(message)
    at.text_input(key="switch_feature_reason").set_value("Provider outage")
    at = button(at, "Switch the feature off").click().run()
    assert_no_exception(at)
    switch = env.svc.ledger.switches().feature("ai_text_chat")
    assert switch is not None
    assert (switch.enabled, switch.message, switch.actor) == (False, message, "olga")
    assert "Switch the feature on" in [b.label for b in at.button]

    # A process started after the switch (a running one honours it within 5 s).
    clear_caches()
    before = env.svc.ledger.balance(env.account_id)
    sentence = f"Chat is switched off for now. {message}"
    chat = env.signed_in(env.member)
    assert [w.value for w in chat.warning] == [sentence]
    chat.chat_input(key="chat_prompt").set_value("Hello?").run()
    assert_no_exception(chat)
    assert [e.value for e in chat.error] == [sentence]
    after = env.svc.ledger.balance(env.account_id)
    assert (after.balance, after.held) == (before.balance, before.held)
    assert env.holds() == []
    [usage] = env.usage_rows()
    assert (usage.status, usage.credits) == ("refused", 0)

    # And back on, through the page.
    at.text_input(key="switch_feature_reason").set_value("Provider back")
    at = button(at, "Switch the feature on").click().run()
    assert env.svc.ledger.switches().feature_enabled("ai_text_chat")
