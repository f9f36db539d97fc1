"""The offline demo provider: with no keys it is the only model offered, its replies are
deterministic, labelled and built from the question (not an echo), it respects max_tokens, draws
real PNGs, and it is billed through the ledger with a usage row like any other model."""

from __future__ import annotations

import io

from PIL import Image

from ledger.amounts import credits
from ledger.pricing import token_cost
from ledger.service import Ledger
from tests.fake_providers import FakeProvider
from tests.gateway_harness import HarnessFactory, ask
from workbench.gateway import tokens
from workbench.gateway.providers.demo import LABEL, draw, reply_for

QUESTION = "How should I plan a vegetable garden on a small balcony?"


def test_the_reply_is_deterministic_labelled_and_about_the_question() -> None:
    messages = ({"role": "user", "content": QUESTION},)
    reply = reply_for(messages)
    assert reply == reply_for(messages)
    assert LABEL in reply
    assert QUESTION not in reply.replace(f"summary: {QUESTION}", "")  # not a plain echo
    for word in ("vegetable", "garden", "balcony"):
        assert word in reply
    assert reply != reply_for(({"role": "user", "content": "Write a haiku about rain"},))


def test_images_are_pngs_of_the_requested_size() -> None:
    first, second = draw("a harbour", "256x256", 0), draw("a harbour", "256x256", 1)
    assert Image.open(io.BytesIO(first)).size == (256, 256)
    assert Image.open(io.BytesIO(first)).format == "PNG"
    assert first != second and first == draw("a harbour", "256x256", 0)


def test_with_no_keys_the_demo_is_offered_and_billed(
    make_harness: HarnessFactory, ledger: Ledger, fake_provider: FakeProvider
) -> None:
    h = make_harness(credits(5_000), openai_api_key=None, anthropic_api_key=None)
    caller = h.caller
    assert [m.id for m in h.gateway.models("chat")] == ["demo/chat"]
    assert [m.id for m in h.gateway.models("image")] == ["demo/images"]

    turn = h.gateway.chat(caller, ask(QUESTION), key="demo-1", model="openai/gpt-4o-mini")
    text = "".join(turn)

    assert turn.notice is not None and "needs a key for OpenAI" in turn.notice
    assert turn.result is not None and turn.result.status == "ok"
    assert text == reply_for(({"role": "user", "content": QUESTION},))
    usage = turn.result.usage
    assert usage.output_tokens == tokens.text_tokens("demo/chat", text)
    expected = token_cost(ledger.price("demo/chat"), usage.input_tokens, usage.output_tokens)
    assert turn.result.credits == expected >= 1
    assert expected < credits(1)  # a short demo answer costs a fraction of a credit, exactly
    [row] = h.usage_rows()
    assert (row.provider, row.model, row.status, row.credits) == (
        "demo",
        "demo/chat",
        "ok",
        expected,
    )
    assert fake_provider.api_requests() == []


def test_max_tokens_cuts_the_reply_short(make_harness: HarnessFactory) -> None:
    h = make_harness(credits(5_000))
    turn = h.gateway.chat(h.caller, ask(QUESTION), key="demo-2", max_tokens=10)
    text = "".join(turn)
    assert 0 < tokens.text_tokens("demo/chat", text) <= 10
    assert turn.result is not None and turn.result.usage.output_tokens <= 10
