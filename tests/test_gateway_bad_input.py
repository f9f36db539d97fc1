"""Bad gateway input: a clear typed error, nothing charged, written or sent; fallback notices."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from ledger.errors import InvalidIdempotencyKey
from ledger.schema import entries, holds, idempotency_keys, usage_records
from tests.conftest import ROOT, FakeClock
from tests.gateway_harness import (
    UNPRICED,
    Harness,
    HarnessFactory,
    ask,
    catalogue_with_unpriced_model,
)
from workbench.gateway.errors import InvalidRequest, ModelUnavailable
from workbench.gateway.requests import MAX_IMAGE_PROMPT_CHARS, MAX_PROMPT_CHARS

E = TypeVar("E", bound=Exception)

DEMO_CHAT = "Demo chat (offline)"
DEMO_IMAGES = "Demo images (offline)"
DISABLED = "openai/gpt-4o-mini"  # switched off in the catalogue of the ``switched_off`` fixture


# --- what "nothing happened" means ----------------------------------------------------------------


def ledger_state(h: Harness) -> dict[str, Any]:
    """Row counts of every table a call could write, and the caller's balance."""
    tables = {
        "holds": holds,
        "entries": entries,
        "usage_records": usage_records,
        "idempotency_keys": idempotency_keys,
    }
    with h.ledger.engine.connect() as conn:
        state: dict[str, Any] = {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in tables.items()
        }
        state["entry_kinds"] = sorted(conn.execute(sa.select(entries.c.kind)).scalars())
    balance = h.ledger.balance(h.caller.account_id)
    state.update(balance=balance.balance, held=balance.held)
    return state


def assert_rejected(
    h: Harness,
    call: Callable[[], object],
    error: type[E],
    *words: str,
) -> E:
    """``call`` raises ``error`` whose message contains ``words``, and nothing was charged,
    written or sent to a provider."""
    before = ledger_state(h)
    assert before["holds"] == 0 and before["usage_records"] == 0
    assert before["entry_kinds"] == ["grant"], "only the seed's grant before the call"
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert ledger_state(h) == before, "a rejected call wrote to the ledger"
    assert h.fake.api_requests() == [], "a rejected call reached the provider"
    return caught.value


# --- chat and estimate_chat -----------------------------------------------------------------------

USER = {"role": "user", "content": "Tell me about tides"}
LONG_MESSAGE = "tide " * 30_000  # 150,000 characters (under the cap), ~30,000 tokens
NEAR_CONTEXT = "tide " * 7_000  # ~7,000 tokens: fits 8,192 alone, not with a 2,048-token reply

# (id, keyword arguments for chat/estimate_chat, words the message must contain)
CHAT_CASES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("no-messages", {"messages": []}, ("Type a message first", "nothing to send")),
    ("messages-none", {"messages": None}, ("Type a message first", "nothing to send")),
    ("last-empty", {"messages": [{"role": "user", "content": ""}]}, ("last message is empty",)),
    (
        "last-whitespace",
        {
            "messages": [
                USER,
                {"role": "assistant", "content": "Ok."},
                {"role": "user", "content": " \n\t "},
            ]
        },
        ("last message is empty",),
    ),
    (
        "role-system-in-list",
        {"messages": [{"role": "system", "content": "be terse"}, USER]},
        ("role (user or assistant)", "'system'"),
    ),
    ("role-unknown", {"messages": [{"role": "wizard", "content": "hi"}]}, ("'wizard'",)),
    ("role-missing", {"messages": [{"content": "hi"}]}, ("role (user or assistant)",)),
    ("content-none", {"messages": [{"role": "user", "content": None}]}, ("text content",)),
    ("content-number", {"messages": [{"role": "user", "content": 42}]}, ("text content",)),
    ("content-list", {"messages": [{"role": "user", "content": ["a"]}]}, ("text content",)),
    ("message-not-a-mapping", {"messages": ["hello"]}, ("role (user or assistant)",)),
    ("system-not-text", {"messages": [USER], "system": 42}, ("system prompt must be text",)),
    (
        "over-context-window",
        {"messages": [{"role": "user", "content": LONG_MESSAGE}]},
        ("tokens", "Demo chat (offline)'s limit of 8,192", "Start a new conversation"),
    ),
    (
        "no-room-for-the-reply",
        {"messages": [{"role": "user", "content": NEAR_CONTEXT}], "max_tokens": 2048},
        ("2,048-token reply", "limit of 8,192", "ask for a shorter reply"),
    ),
    (
        "over-character-cap",
        {"messages": [{"role": "user", "content": "x" * (MAX_PROMPT_CHARS + 1)}]},
        ("200,001 characters", "the limit is 200,000"),
    ),
    (
        "over-character-cap-with-system",
        {"messages": [{"role": "user", "content": LONG_MESSAGE}], "system": "s" * 60_000},
        ("210,000 characters", "the limit is 200,000"),
    ),
    ("max-tokens-zero", {"messages": [USER], "max_tokens": 0}, ("between 1 and 2,048", "got 0")),
    ("max-tokens-negative", {"messages": [USER], "max_tokens": -5}, ("between 1 and 2,048", "-5")),
    (
        "max-tokens-above-model",
        {"messages": [USER], "max_tokens": 2049},
        ("max_tokens", "between 1 and 2,048", DEMO_CHAT, "2049"),
    ),
    (
        "max-tokens-above-big-model",
        {"messages": [USER], "model": "openai/gpt-4o", "max_tokens": 16_385},
        ("between 1 and 16,384", "GPT-4o"),
    ),
    ("max-tokens-bool", {"messages": [USER], "max_tokens": True}, ("between 1 and 2,048", "True")),
    ("max-tokens-float", {"messages": [USER], "max_tokens": 100.5}, ("between 1 and", "100.5")),
    ("max-tokens-str", {"messages": [USER], "max_tokens": "100"}, ("between 1 and", "'100'")),
]


def chat_via(h: Harness, entry: str, arguments: dict[str, Any]) -> Callable[[], object]:
    arguments = dict(arguments)
    messages = arguments.pop("messages")
    if entry == "estimate":
        return lambda: h.gateway.estimate_chat(messages, **arguments)
    return lambda: h.gateway.chat(h.caller, messages, key="bad-1", **arguments)


@pytest.mark.parametrize("entry", ["chat", "estimate"])
@pytest.mark.parametrize(
    ("arguments", "words"), [pytest.param(a, w, id=i) for i, a, w in CHAT_CASES]
)
def test_bad_chat_input_is_refused_before_anything_happens(
    harness: Harness, entry: str, arguments: dict[str, Any], words: tuple[str, ...]
) -> None:
    error = assert_rejected(harness, chat_via(harness, entry, arguments), InvalidRequest, *words)
    assert error.code == "invalid_request"


@pytest.mark.parametrize("temperature", [-0.1, 2.01, 7, float("nan"), "hot", True])
def test_temperature_out_of_range_is_refused(harness: Harness, temperature: Any) -> None:
    assert_rejected(
        harness,
        lambda: harness.gateway.chat(harness.caller, ask("hi"), key="t-1", temperature=temperature),
        InvalidRequest,
        "The temperature",
        "from 0 to 2",
        repr(temperature)[:5],
    )


def test_the_limits_themselves_are_accepted(harness: Harness) -> None:
    """The edges of each range are valid: the refusals above are not off by one."""
    gateway = harness.gateway
    at_cap = [{"role": "user", "content": "x " * (MAX_PROMPT_CHARS // 2)}]
    with pytest.raises(InvalidRequest, match="tokens"):  # within the character cap: tokens
        gateway.estimate_chat(at_cap)
    assert gateway.estimate_chat(ask("hi"), max_tokens=1).max_tokens == 1
    assert gateway.estimate_chat(ask("hi"), max_tokens=2048).max_tokens == 2048
    estimate = gateway.estimate_images(model="openai/dall-e-3", n=1)
    assert (estimate.images, estimate.size, estimate.quality) == (1, "1024x1024", "standard")
    turn = gateway.chat(harness.caller, ask("hi"), key="edge-1", temperature=2, max_tokens=1)
    list(turn)  # the demo stops before a piece longer than one token: maybe no text at all
    assert turn.result is not None and turn.result.status == "ok"
    assert turn.result.usage.output_tokens <= 1


# --- images ---------------------------------------------------------------------------------------

# (id, keyword arguments for generate_images, words the message must contain)
IMAGE_CASES: list[tuple[str, dict[str, Any], tuple[str, ...]]] = [
    ("empty-prompt", {"prompt": ""}, ("Describe the image first", "prompt is empty")),
    ("whitespace-prompt", {"prompt": "  \n "}, ("prompt is empty",)),
    ("prompt-not-text", {"prompt": None}, ("prompt is empty",)),
    (
        "prompt-too-long",
        {"prompt": "a" * (MAX_IMAGE_PROMPT_CHARS + 1)},
        ("4,001 characters", "the limit is 4,000"),
    ),
    ("n-zero", {"n": 0}, ("1 to 4 images", "got 0")),
    ("n-negative", {"n": -1}, ("1 to 4 images", "got -1")),
    ("n-above-model", {"model": "openai/dall-e-3", "n": 2}, ("DALL·E 3", "1 to 1", "got 2")),
    ("n-above-demo", {"n": 5}, (DEMO_IMAGES, "1 to 4 images", "got 5")),
    ("n-bool", {"n": True}, ("1 to 4 images", "got True")),
    ("n-float", {"n": 1.0}, ("1 to 4 images", "got 1.0")),
    (
        "unknown-size",
        {"model": "openai/dall-e-3", "size": "999x999"},
        ("DALL·E 3", "'999x999'", "1024x1024, 1024x1792, 1792x1024"),
    ),
    (
        "unknown-quality",
        {"model": "openai/dall-e-3", "quality": "ultra"},
        ("'ultra'", "at 1024x1024", "standard, hd"),
    ),
    (
        "quality-not-at-this-size",
        {"size": "256x256", "quality": "hd"},
        (DEMO_IMAGES, "no 'hd' quality at 256x256", "qualities: standard"),
    ),
]


@pytest.mark.parametrize(
    ("arguments", "words"), [pytest.param(a, w, id=i) for i, a, w in IMAGE_CASES]
)
def test_bad_image_input_is_refused_before_anything_happens(
    harness: Harness, arguments: dict[str, Any], words: tuple[str, ...]
) -> None:
    arguments = dict(arguments)
    prompt = arguments.pop("prompt", "a lighthouse at dusk")
    assert_rejected(
        harness,
        lambda: harness.gateway.generate_images(harness.caller, prompt, key="img-1", **arguments),
        InvalidRequest,
        *words,
    )
    if "n" in arguments or "size" in arguments or "quality" in arguments:
        assert_rejected(
            harness, lambda: harness.gateway.estimate_images(**arguments), InvalidRequest, *words
        )


# --- models that cannot be used -------------------------------------------------------------------


@pytest.fixture
def switched_off(make_harness: HarnessFactory, tmp_path: Path) -> Harness:
    """A gateway whose catalogue has GPT-4o mini switched off (``enabled = false``)."""
    shipped = (ROOT / "data" / "models.toml").read_text(encoding="utf-8")
    line = f'litellm_model = "{DISABLED}"\n'
    assert shipped.count(line) == 1
    catalogue = tmp_path / "models.toml"
    catalogue.write_text(shipped.replace(line, line + "enabled = false\n"), encoding="utf-8")
    h = make_harness(model_catalogue=catalogue)
    assert h.gateway.catalogue.get(DISABLED) is not None
    return h


def test_a_disabled_model_without_fallback_is_unavailable(switched_off: Harness) -> None:
    h = switched_off
    assert DISABLED not in [m.id for m in h.gateway.models("chat")]
    for call in (
        lambda: h.gateway.chat(h.caller, ask("hi"), key="off-1", model=DISABLED, fallback=False),
        lambda: h.gateway.estimate_chat(ask("hi"), model=DISABLED, fallback=False),
    ):
        error = assert_rejected(h, call, ModelUnavailable, "GPT-4o mini", "switched off")
        assert error.fields["model"] == DISABLED


def test_a_disabled_model_falls_back_to_the_default_with_a_notice(switched_off: Harness) -> None:
    h = switched_off
    estimate = h.gateway.estimate_chat(ask("hi"), model=DISABLED)
    assert estimate.model.id == "demo/chat"
    turn = h.gateway.chat(h.caller, ask("Tell me about tides"), key="off-2", model=DISABLED)
    assert turn.notice == estimate.notice
    assert turn.notice is not None
    assert "GPT-4o mini is switched off" in turn.notice
    assert f"using {DEMO_CHAT} instead" in turn.notice
    assert turn.hold is not None and turn.hold.model == "demo/chat"
    text = "".join(turn)
    assert text and turn.result is not None and turn.result.status == "ok"
    assert turn.result.model.id == "demo/chat" and turn.result.notice == turn.notice
    [row] = h.usage_rows()
    assert (row.model, row.provider, row.status) == ("demo/chat", "demo", "ok")
    assert h.fake.api_requests() == [], "the switched-off model was called"


@pytest.mark.parametrize(
    ("kind", "model", "words"),
    [
        ("chat", "nope/imaginary-9", ("'nope/imaginary-9'", "not on the workbench's allowlist")),
        ("chat", "openai/dall-e-3", ("DALL·E 3 is an image model, not a chat model",)),
        ("image", "nope/imaginary-9", ("'nope/imaginary-9'", "allowlist")),
        ("image", "openai/gpt-4o", ("GPT-4o is a chat model, not an image model",)),
    ],
    ids=["chat-unknown", "chat-asks-image-model", "image-unknown", "image-asks-chat-model"],
)
def test_an_unusable_model_without_fallback_is_unavailable(
    harness: Harness, kind: str, model: str, words: tuple[str, ...]
) -> None:
    gateway, caller = harness.gateway, harness.caller
    calls: list[Callable[[], object]]
    if kind == "chat":
        calls = [
            lambda: gateway.chat(caller, ask("hi"), key="u-1", model=model, fallback=False),
            lambda: gateway.estimate_chat(ask("hi"), model=model, fallback=False),
        ]
    else:
        calls = [
            lambda: gateway.generate_images(
                caller, "a cat", key="u-1", model=model, fallback=False
            ),
            lambda: gateway.estimate_images(model=model, fallback=False),
        ]
    for call in calls:
        error = assert_rejected(harness, call, ModelUnavailable, *words)
        assert error.code == "model_unavailable"


@pytest.mark.parametrize(
    ("model", "why"),
    [
        ("nope/imaginary-9", "Model 'nope/imaginary-9' is not on the workbench's allowlist"),
        ("openai/dall-e-3", "DALL·E 3 is an image model, not a chat model"),
    ],
)
def test_an_unusable_chat_model_falls_back_to_the_default_with_a_notice(
    harness: Harness, model: str, why: str
) -> None:
    expected = f"{why}; using {DEMO_CHAT} instead."
    assert harness.gateway.estimate_chat(ask("hi"), model=model).notice == expected
    turn = harness.gateway.chat(harness.caller, ask("Tell me about tides"), key="fb-1", model=model)
    assert turn.notice == expected
    assert turn.estimate is not None and turn.estimate.model.id == "demo/chat"
    assert "".join(turn)
    assert turn.result is not None
    assert (turn.result.status, turn.result.model.id) == ("ok", "demo/chat")
    assert turn.result.notice == expected
    [row] = harness.usage_rows()
    assert (row.model, row.provider, row.status) == ("demo/chat", "demo", "ok")
    assert row.hold_id == turn.hold.id  # type: ignore[union-attr]
    assert harness.fake.api_requests() == [], "no request may reach a provider"


def test_an_unknown_image_model_falls_back_to_the_default_with_a_notice(harness: Harness) -> None:
    result = harness.gateway.generate_images(
        harness.caller, "a lighthouse", key="fb-img", model="nope/painter"
    )
    assert result.notice == (
        f"Model 'nope/painter' is not on the workbench's allowlist; using {DEMO_IMAGES} instead."
    )
    assert (result.status, result.model.id, len(result.images)) == ("ok", "demo/images", 1)
    [row] = harness.usage_rows()
    assert (row.model, row.provider, row.status) == ("demo/images", "demo", "ok")
    assert harness.fake.api_requests() == []


# --- idempotency keys -----------------------------------------------------------------------------

BAD_KEYS = ["bad key with spaces", "", "-leading-dash", "k" * 201, "semi;colon"]


@pytest.mark.parametrize("key", BAD_KEYS, ids=["spaces", "empty", "dash", "too-long", "semicolon"])
def test_an_invalid_idempotency_key_writes_nothing(harness: Harness, key: str) -> None:
    gateway, caller = harness.gateway, harness.caller
    for call in (
        lambda: gateway.chat(caller, ask("hi"), key=key),
        lambda: gateway.chat(caller, ask("hi"), key=key, model="openai/gpt-4o-mini"),
        lambda: gateway.generate_images(caller, "a cat", key=key),
        lambda: gateway.generate_images(caller, "a cat", key=key, model="openai/dall-e-3"),
    ):
        assert_rejected(harness, call, InvalidIdempotencyKey, "idempotency key must be")


@pytest.mark.parametrize("key", ["bad key with spaces", "k" * 201], ids=["spaces", "too-long"])
def test_an_invalid_key_with_an_unpriced_model_writes_nothing(
    make_harness: HarnessFactory, tmp_path: Path, clock: FakeClock, key: str
) -> None:
    """The key is checked before the model's price: a bad key is bad input, refused before any
    row is written (a refusal's usage row must not carry a key the ledger would refuse)."""
    h = make_harness(model_catalogue=catalogue_with_unpriced_model(tmp_path))
    assert_rejected(
        h,
        lambda: h.gateway.chat(h.caller, ask("hi"), key=key, model=UNPRICED),
        InvalidIdempotencyKey,
        "idempotency key must be",
    )
    h.check_accounting(clock.now)
