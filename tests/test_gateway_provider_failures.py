"""Provider failures through the gateway: errors release the whole hold, timeouts keep it until it
expires, retries reuse one hold, and fewer images than asked are charged per image returned."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from ledger.pricing import token_cost
from ledger.schema import entries
from ledger.service import Ledger
from tests.fake_providers import (
    Behaviour,
    cut,
    error,
    fewer_images,
    hang,
    malformed,
    ok,
)
from tests.gateway_harness import Harness, HarnessFactory, ask
from workbench.gateway.chat_turn import ChatTurn
from workbench.gateway.errors import ProviderFailed
from workbench.gateway.results import ImageResult

MODELS = ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
IMAGE_MODEL = "openai/dall-e-2"
HANG_S = 3.0  # far past the quick harness's 0.5 s timeout


@pytest.fixture
def quick(make_harness: HarnessFactory) -> Harness:
    """Like ``harness``, with a 0.5 s provider timeout so the hang cases stay fast."""
    return make_harness(provider_timeout_s=0.5)


# --- helpers ---------------------------------------------------------------------------------


def entry_kinds(h: Harness, hold_id: int) -> Counter[str]:
    with h.ledger.engine.connect() as conn:
        return Counter(
            conn.execute(sa.select(entries.c.kind).where(entries.c.hold_id == hold_id)).scalars()
        )


def release_reason(h: Harness, hold_id: int) -> str:
    with h.ledger.engine.connect() as conn:
        [reason] = conn.execute(
            sa.select(entries.c.reason).where(
                entries.c.hold_id == hold_id, entries.c.kind == "release"
            )
        ).scalars()
    return str(reason)


def balance_of(h: Harness) -> tuple[int, int]:
    b = h.ledger.balance(h.caller.account_id)
    return b.balance, b.held


def drain(turn: ChatTurn) -> tuple[list[str], ProviderFailed]:
    """Stream a turn that must fail: the pieces it yielded first, and the failure."""
    pieces: list[str] = []
    with pytest.raises(ProviderFailed) as caught:
        for piece in turn:
            pieces.append(piece)
    return pieces, caught.value


def assert_released(
    h: Harness,
    hold_id: int,
    start: tuple[int, int],
    *,
    error_type: str,
    requests: int,
    reason: str = "provider error",
) -> None:
    """The refund policy for a provider error: whole hold released, an `error` usage row with no
    credits, the balance as it was, and ``requests`` HTTP requests all tagged with this hold."""
    hold = h.ledger.hold(hold_id)
    assert hold.status == "released"
    assert not hold.captured
    assert entry_kinds(h, hold_id) == {"hold": 1, "release": 1}
    assert reason in release_reason(h, hold_id)
    assert balance_of(h) == (start[0], 0)
    [row] = h.usage_rows()
    assert row.hold_id == hold_id
    assert (row.status, row.credits, row.error_type) == ("error", 0, error_type)
    assert h.hold_ids_sent() == {hold_id: requests}
    assert len(h.fake.api_requests()) == requests


def assert_timed_out(
    h: Harness, hold_id: int, start: tuple[int, int], failure: ProviderFailed, requests: int
) -> None:
    """Timeout: the hold stays pending with a `timeout` usage row, until the sweep expires it."""
    assert failure.fields["status"] == "timeout"
    assert failure.fields["settlement"] == "held until expiry"
    assert failure.fields["hold_id"] == hold_id
    hold = h.ledger.hold(hold_id)
    assert hold.status == "pending"
    assert entry_kinds(h, hold_id) == {"hold": 1}
    assert balance_of(h) == (start[0], hold.amount)
    [row] = h.usage_rows()
    assert (row.status, row.credits, row.hold_id) == ("timeout", 0, hold_id)
    assert row.error_type
    assert h.hold_ids_sent() == {hold_id: requests}
    assert h.fake.pending == 0

    # Not yet due: the sweeper leaves it alone.
    Ledger(h.ledger.engine, clock=lambda: hold.expires_at - timedelta(seconds=1)).sweep()
    assert h.ledger.hold(hold_id).status == "pending"
    Ledger(h.ledger.engine, clock=lambda: hold.expires_at + timedelta(seconds=1)).sweep()
    assert h.ledger.hold(hold_id).status == "expired"
    assert entry_kinds(h, hold_id) == {"hold": 1, "expire": 1}
    assert balance_of(h) == (start[0], 0)
    assert len(h.usage_rows()) == 1


def chat_error_type(status: int) -> str:
    return {
        400: "BadRequestError",
        401: "AuthenticationError",
        429: "RateLimitError",
        500: "InternalServerError",
    }[status]


# --- chat: HTTP errors -----------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("behaviours", "requests", "status"),
    [
        pytest.param((error(500), error(500)), 2, 500, id="500-every-attempt"),
        pytest.param(
            (error(429, retry_after=0.01), error(429, retry_after=0.01)),
            2,
            429,
            id="429-after-retries",
        ),
        # A client error is not worth repeating: one attempt. Programmed twice so that a client
        # that retries it anyway gets the same error again and the request count shows it.
        pytest.param((error(400), error(400)), 1, 400, id="400"),
        pytest.param((error(401), error(401)), 1, 401, id="401"),
    ],
)
def test_a_provider_error_releases_the_whole_hold(
    harness: Harness, model: str, behaviours: tuple[Behaviour, ...], requests: int, status: int
) -> None:
    harness.fake.program(*behaviours)
    start = balance_of(harness)
    turn = harness.gateway.chat(harness.caller, ask("Hello there"), key="k1", model=model)
    assert turn.hold is not None
    assert balance_of(harness) == (start[0], turn.hold.amount)

    pieces, failure = drain(turn)

    assert pieces == []
    error_type = chat_error_type(status)
    assert failure.fields["status"] == "error"
    assert failure.fields["settlement"] == "released"
    assert failure.fields["hold_id"] == turn.hold.id
    assert failure.fields["error_type"] == error_type
    assert turn.result is not None
    assert (turn.result.status, turn.result.credits) == ("error", 0)
    assert_released(harness, turn.hold.id, start, error_type=error_type, requests=requests)
    assert {r.behaviour for r in harness.fake.api_requests()} == {"error"}
    assert harness.fake.pending == len(behaviours) - requests


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    "first",
    [
        pytest.param(error(500), id="500-then-ok"),
        pytest.param(error(429, retry_after=0.01), id="429-then-ok"),
    ],
)
def test_a_retried_failure_then_success_is_charged_once(
    harness: Harness, model: str, first: Behaviour
) -> None:
    harness.fake.program(first, ok(reply_words=10, prompt_tokens=50, completion_tokens=10))
    start = balance_of(harness)
    turn = harness.gateway.chat(harness.caller, ask("Hello there"), key="k1", model=model)
    assert turn.hold is not None

    text = "".join(turn)

    assert text.startswith("Fake reply to: Hello there")
    result = turn.result
    assert result is not None and result.status == "ok"
    expected = token_cost(harness.ledger.price(model), 50, 10)
    assert result.credits == expected
    hold = harness.ledger.hold(turn.hold.id)
    assert (hold.status, hold.captured) == ("captured", expected)
    # Charged once: one capture line (and the unused part released, when there is one).
    ends = {"hold": 1, "capture": 1} | ({"release": 1} if hold.amount > expected else {})
    assert entry_kinds(harness, hold.id) == ends
    assert balance_of(harness) == (start[0] - expected, 0)
    [row] = harness.usage_rows()
    assert (row.status, row.credits, row.hold_id, row.error_type) == ("ok", expected, hold.id, None)
    assert (row.input_tokens, row.output_tokens) == (50, 10)
    assert harness.hold_ids_sent() == {hold.id: 2}
    assert [r.behaviour for r in harness.fake.api_requests()] == [first.kind, "ok"]


# --- chat: no answer, unreadable answers, broken streams -------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_a_chat_timeout_keeps_the_hold_until_it_expires(quick: Harness, model: str) -> None:
    # Every attempt (1 + 1 retry) hangs past the timeout.
    quick.fake.program(hang(HANG_S), hang(HANG_S))
    start = balance_of(quick)
    turn = quick.gateway.chat(quick.caller, ask("Hello there"), key="k1", model=model)
    assert turn.hold is not None

    pieces, failure = drain(turn)

    assert pieces == []
    assert turn.result is not None
    assert (turn.result.status, turn.result.credits) == ("timeout", 0)
    assert_timed_out(quick, turn.hold.id, start, failure, requests=2)


@pytest.mark.parametrize(
    ("model", "error_type"),
    [
        # litellm raises on the unparsable SSE line from OpenAI ...
        ("openai/gpt-4o-mini", "MidStreamFallbackError"),
        # ... and passes Anthropic's off as an empty stream, which the gateway refuses to bill.
        ("anthropic/claude-haiku-4-5", "EmptyReply"),
    ],
)
def test_a_malformed_stream_releases_the_hold(
    harness: Harness, model: str, error_type: str
) -> None:
    harness.fake.program(malformed())
    start = balance_of(harness)
    turn = harness.gateway.chat(harness.caller, ask("Hello there"), key="k1", model=model)
    assert turn.hold is not None

    pieces, failure = drain(turn)

    assert pieces == []
    assert (failure.fields["status"], failure.fields["settlement"]) == ("error", "released")
    assert turn.result is not None
    assert (turn.result.status, turn.result.credits) == ("error", 0)
    assert failure.fields["error_type"] == error_type
    assert_released(harness, turn.hold.id, start, error_type=error_type, requests=1)
    assert harness.fake.api_requests()[0].behaviour == "malformed"
    assert harness.fake.pending == 0


@pytest.mark.parametrize("model", MODELS)
def test_a_stream_cut_midway_yields_the_partial_text_and_charges_nothing(
    harness: Harness, model: str
) -> None:
    harness.fake.program(cut(after_chunks=4, reply_words=30))
    start = balance_of(harness)
    turn = harness.gateway.chat(harness.caller, ask("Hello there"), key="k1", model=model)
    assert turn.hold is not None

    pieces, failure = drain(turn)

    # The consumer saw the four words that came before the connection dropped.
    assert "".join(pieces) == "Fake reply to: Hello "
    assert (failure.fields["status"], failure.fields["settlement"]) == ("error", "released")
    assert failure.fields["hold_id"] == turn.hold.id
    assert turn.result is not None
    assert (turn.result.status, turn.result.credits) == ("error", 0)
    assert turn.result.text == "".join(pieces)
    assert failure.fields["error_type"] == "MidStreamFallbackError"
    assert_released(harness, turn.hold.id, start, error_type="MidStreamFallbackError", requests=1)
    assert harness.fake.api_requests()[0].behaviour == "cut"


# --- images ----------------------------------------------------------------------------------


def generate(h: Harness) -> ImageResult:
    return h.gateway.generate_images(
        h.caller, "a fox", key="img1", model=IMAGE_MODEL, n=2, size="256x256"
    )


def only_hold(h: Harness) -> int:
    [hold] = h.holds()
    return int(hold.id)


def test_an_image_provider_error_releases_the_hold(harness: Harness) -> None:
    harness.fake.program(error(500), error(500))
    start = balance_of(harness)

    with pytest.raises(ProviderFailed) as caught:
        generate(harness)

    hold_id = only_hold(harness)
    failure = caught.value
    assert (failure.fields["status"], failure.fields["settlement"]) == ("error", "released")
    assert failure.fields["hold_id"] == hold_id
    assert_released(harness, hold_id, start, error_type="InternalServerError", requests=2)
    assert harness.fake.pending == 0
    assert harness.gateway.images.load(hold_id) == []


def test_an_image_timeout_keeps_the_hold_until_it_expires(quick: Harness) -> None:
    quick.fake.program(hang(HANG_S), hang(HANG_S))
    start = balance_of(quick)

    with pytest.raises(ProviderFailed) as caught:
        generate(quick)

    hold_id = only_hold(quick)
    assert_timed_out(quick, hold_id, start, caught.value, requests=2)
    assert quick.gateway.images.load(hold_id) == []


def test_fewer_images_are_charged_per_image_returned(harness: Harness) -> None:
    harness.fake.program(fewer_images(1))
    start = balance_of(harness)

    result = generate(harness)

    per_image = harness.ledger.price(IMAGE_MODEL).images[("256x256", "standard")]
    hold_id = only_hold(harness)
    assert result.status == "ok"
    assert result.requested == 2
    assert len(result.images) == 1
    assert result.credits == per_image
    assert result.message is not None and "1 of 2" in result.message
    assert len(harness.gateway.images.load(hold_id)) == 1
    hold = harness.ledger.hold(hold_id)
    assert hold.amount == 2 * per_image
    assert (hold.status, hold.captured) == ("captured", per_image)
    assert entry_kinds(harness, hold_id) == {"hold": 1, "capture": 1, "release": 1}
    assert balance_of(harness) == (start[0] - per_image, 0)
    [row] = harness.usage_rows()
    assert (row.status, row.credits, row.images, row.hold_id) == ("ok", per_image, 1, hold_id)
    assert row.error_type is None
    assert harness.hold_ids_sent() == {hold_id: 1}
    assert harness.fake.api_requests()[0].images_returned == 1


def test_no_images_returned_releases_the_hold(harness: Harness) -> None:
    harness.fake.program(fewer_images(0))
    start = balance_of(harness)

    with pytest.raises(ProviderFailed) as caught:
        generate(harness)

    hold_id = only_hold(harness)
    failure = caught.value
    assert (failure.fields["status"], failure.fields["settlement"]) == ("error", "released")
    assert failure.fields["hold_id"] == hold_id
    assert_released(
        harness,
        hold_id,
        start,
        error_type="NoImagesReturned",
        requests=1,
        reason="no images",
    )
    assert harness.gateway.images.load(hold_id) == []
