"""The fake providers are good enough: every endpoint and failure mode, exercised through
litellm's real client code (openai SDK for OpenAI, litellm's own httpx handler for Anthropic).

The comments record what litellm 1.110.2 actually does against these wire formats; the
gateway relies on them (exception classes, where usage shows up in a stream, retry knobs).
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import base64
import io
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import litellm
import pytest
from litellm.exceptions import MidStreamFallbackError
from PIL import Image

from tests.fake_providers import (
    FakeProvider,
    cut,
    error,
    fewer_images,
    hang,
    malformed,
    ok,
    png_bytes,
    reply_for,
    slow_stream,
)

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Summarise the quarterly credit ledger report for the board"},
]
HOLD = {"X-Workbench-Hold": "42"}
PROVIDERS = ["openai", "anthropic"]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProvider]:
    with FakeProvider() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeProvider) -> FakeProvider:
    server.reset()
    return server


def target(fake: FakeProvider, provider: str) -> dict[str, Any]:
    if provider == "openai":
        return {"model": "openai/gpt-4o-mini", "api_base": fake.openai_base, "api_key": "sk-test"}
    return {
        "model": "anthropic/claude-haiku-4-5",
        "api_base": fake.anthropic_base,
        "api_key": "sk-ant-test",
    }


def chat(fake: FakeProvider, provider: str, **kwargs: Any) -> Any:
    kwargs.setdefault("max_retries", 0)
    return litellm.completion(messages=MESSAGES, **target(fake, provider), **kwargs)


def usage_triple(usage: Any) -> dict[str, int]:
    details = usage.prompt_tokens_details
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": (details.cached_tokens or 0) if details is not None else 0,
    }


def decode_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    return image


# --- happy paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_non_stream_reply_and_usage(fake: FakeProvider, provider: str) -> None:
    fake.program(ok(prompt_tokens=120, completion_tokens=30, cached_tokens=100))
    response = chat(fake, provider)

    assert response.choices[0].message.content == reply_for(MESSAGES)
    assert response.choices[0].finish_reason == "stop"
    rec = fake.requests[-1]
    assert rec.reported_usage == {
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "cached_tokens": 100,
    }
    # Both providers: response.usage.prompt_tokens INCLUDES cached tokens, which are in
    # usage.prompt_tokens_details.cached_tokens (Anthropic wire: input_tokens=20,
    # cache_read_input_tokens=100; litellm adds them up and also sets cache_read_input_tokens).
    assert usage_triple(response.usage) == rec.reported_usage
    if provider == "anthropic":
        assert response.usage.cache_read_input_tokens == 100


@pytest.mark.parametrize("provider", PROVIDERS)
def test_default_usage_counts_words(fake: FakeProvider, provider: str) -> None:
    response = chat(fake, provider)
    words = sum(len(str(m["content"]).split()) for m in MESSAGES)
    expected = {"prompt_tokens": words + 3, "completion_tokens": 12, "cached_tokens": 0}
    assert fake.requests[-1].reported_usage == expected
    assert usage_triple(response.usage) == expected
    assert len(response.choices[0].message.content.split()) == 12


def test_openai_stream_usage_in_final_chunk(fake: FakeProvider) -> None:
    fake.program(ok(reply_words=15, prompt_tokens=77, completion_tokens=15, cached_tokens=64))
    stream = chat(fake, "openai", stream=True, stream_options={"include_usage": True})
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reply_for(MESSAGES, reply_words=15)
    # OpenAI through litellm: the usage is on the LAST chunk only, as `chunk.usage` (a
    # litellm Usage; cached tokens in usage.prompt_tokens_details.cached_tokens). That chunk
    # has `choices == []`; it comes after the finish_reason="stop" chunk. Earlier chunks have
    # no `usage` attribute at all (use getattr(chunk, "usage", None)).
    last = chunks[-1]
    assert last.choices == []
    assert usage_triple(last.usage) == fake.requests[-1].reported_usage
    assert fake.requests[-1].reported_usage == {
        "prompt_tokens": 77,
        "completion_tokens": 15,
        "cached_tokens": 64,
    }
    assert all(getattr(c, "usage", None) is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"
    # stream_chunk_builder reproduces the server's numbers from these chunks.
    built = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    assert usage_triple(built.usage) == fake.requests[-1].reported_usage


def test_anthropic_stream_usage_in_final_chunk(fake: FakeProvider) -> None:
    fake.program(ok(reply_words=15, prompt_tokens=77, completion_tokens=15, cached_tokens=64))
    stream = chat(fake, "anthropic", stream=True, stream_options={"include_usage": True})
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == reply_for(MESSAGES, reply_words=15)
    # Anthropic through litellm, with stream_options={"include_usage": True}: exactly like
    # OpenAI -- one final chunk with `choices == []` and `.usage`, merged from message_start
    # (input/cache tokens) and message_delta (output_tokens). prompt_tokens includes the
    # cache reads (input_tokens 13 + cache_read 64 = 77); cached tokens are in
    # usage.prompt_tokens_details.cached_tokens and usage.cache_read_input_tokens.
    last = chunks[-1]
    assert last.choices == []
    assert usage_triple(last.usage) == fake.requests[-1].reported_usage
    assert last.usage.cache_read_input_tokens == 64
    assert all(getattr(c, "usage", None) is None for c in chunks[:-1])
    assert chunks[-2].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream_without_include_usage(fake: FakeProvider, provider: str) -> None:
    fake.program(ok(prompt_tokens=500, completion_tokens=40, cached_tokens=100))
    chunks = list(chat(fake, provider, stream=True))
    rec = fake.requests[-1]
    # Without include_usage no chunk carries usage, for either provider.
    assert all(getattr(c, "usage", None) is None for c in chunks)
    built = litellm.stream_chunk_builder(chunks, messages=MESSAGES).usage
    if provider == "openai":
        # The server sends no usage at all (as the real API), and litellm does NOT add
        # stream_options itself; stream_chunk_builder falls back to a local token estimate.
        assert "stream_options" not in rec.body
        assert rec.reported_usage is None
        assert built.prompt_tokens != 500
    else:
        # Anthropic always reports usage; stream_chunk_builder still recovers the real numbers.
        assert usage_triple(built) == rec.reported_usage


@pytest.mark.parametrize("provider", PROVIDERS)
def test_slow_stream_consumer_can_stop(fake: FakeProvider, provider: str) -> None:
    fake.program(slow_stream(0.02, reply_words=60))
    stream = chat(fake, provider, stream=True)
    started = time.monotonic()
    received = []
    for chunk in stream:
        received.append(chunk)
        if len(received) == 3:
            break
    stream.close()  # CustomStreamWrapper.close() closes the HTTP response
    rec = fake.requests[-1]
    assert rec.finished.wait(2)
    assert rec.client_gone.is_set()  # the server noticed the consumer went away
    assert time.monotonic() - started < 1.0  # well short of 60+ events x 20 ms


# --- images -----------------------------------------------------------------------------------


def test_images_b64(fake: FakeProvider) -> None:
    # litellm 1.110 rejects response_format for every openai image model (its only openai
    # image config, GPTImageGenerationConfig, does not list it) -- UnsupportedParamsError
    # before any request; drop_params=True silently drops it. extra_body passes it through.
    with pytest.raises(litellm.UnsupportedParamsError):
        litellm.image_generation(
            model="openai/dall-e-2",
            prompt="a red fox",
            n=3,
            size="256x256",
            api_base=fake.openai_base,
            api_key="sk-test",
            response_format="b64_json",
        )
    assert fake.requests == []

    response = litellm.image_generation(
        model="openai/dall-e-2",
        prompt="a red fox",
        n=3,
        size="256x256",
        api_base=fake.openai_base,
        api_key="sk-test",
        extra_body={"response_format": "b64_json"},
        max_retries=0,
    )
    assert len(response.data) == 3
    pngs = [base64.b64decode(item.b64_json) for item in response.data]
    assert pngs == [png_bytes("a red fox", i) for i in range(3)]
    assert all(decode_png(p).size == (8, 8) for p in pngs)
    rec = fake.requests[-1]
    assert rec.path == "/v1/images/generations"
    assert rec.images_returned == 3
    assert rec.body == {
        "model": "dall-e-2",
        "prompt": "a red fox",
        "n": 3,
        "size": "256x256",
        "response_format": "b64_json",
    }

    fake.program(fewer_images(1))
    response = litellm.image_generation(
        model="openai/dall-e-2",
        prompt="a red fox",
        n=3,
        size="256x256",
        api_base=fake.openai_base,
        api_key="sk-test",
        extra_body={"response_format": "b64_json"},
        max_retries=0,
    )
    assert len(response.data) == 1
    assert fake.requests[-1].images_returned == 1
    decode_png(base64.b64decode(response.data[0].b64_json))


def test_images_url_default_for_dalle(fake: FakeProvider) -> None:
    # Without response_format, DALL-E models answer with URLs (as the real API does).
    response = litellm.image_generation(
        model="openai/dall-e-2",
        prompt="a blue whale",
        n=2,
        api_base=fake.openai_base,
        api_key="sk-test",
        max_retries=0,
    )
    assert len(response.data) == 2
    assert all(item.b64_json is None for item in response.data)
    with urllib.request.urlopen(response.data[1].url, timeout=5) as fetched:
        assert fetched.read() == png_bytes("a blue whale", 1)


def test_images_gpt_image_usage(fake: FakeProvider) -> None:
    response = litellm.image_generation(
        model="openai/gpt-image-1",
        prompt="three small boats",
        n=2,
        size="1024x1024",
        quality="low",
        api_base=fake.openai_base,
        api_key="sk-test",
        max_retries=0,
    )
    assert len(response.data) == 2
    decode_png(base64.b64decode(response.data[0].b64_json))
    assert fake.requests[-1].body["quality"] == "low"
    assert response.usage.input_tokens == 3
    assert response.usage.output_tokens == 2 * 272


# --- failure modes ----------------------------------------------------------------------------
#
# Exception classes litellm 1.110.2 raises (max_retries=0), identical for stream=False/True
# unless noted; for streams, HTTP errors and timeouts raise from litellm.completion() itself,
# before any chunk:
#   500       -> litellm.InternalServerError (status_code 500)          both providers
#   400       -> litellm.BadRequestError (400)                          both
#   401       -> litellm.AuthenticationError (401)                      both
#   429       -> litellm.RateLimitError (429); retry-after readable from
#                exc.litellm_response_headers                           both
#   hang      -> litellm.Timeout (status_code 408; subclass of openai.APITimeoutError) both
#   malformed, non-stream: OpenAI -> litellm.InternalServerError (500, "Expecting value ...");
#                          Anthropic -> litellm.APIConnectionError (500, "Unable to get json
#                          response ...")
#   malformed, stream:     OpenAI -> MidStreamFallbackError raised while iterating,
#                          no chunk yielded; Anthropic -> NO EXCEPTION: litellm swallows the
#                          garbage data line and yields an empty completion (finish_reason
#                          "stop", final chunk usage None).
#   cut, non-stream:       litellm.InternalServerError (500) both ("Connection error." /
#                          "peer closed connection without sending complete message body")
#   cut, stream:           the content chunks that arrived are yielded, then iterating raises
#                          litellm.exceptions.MidStreamFallbackError (a ServiceUnavailableError,
#                          status_code 500) with .generated_content = the text so far and
#                          .original_exception = litellm.APIConnectionError. No usage chunk.

STATUS_ERRORS = [
    (500, litellm.InternalServerError),
    (400, litellm.BadRequestError),
    (401, litellm.AuthenticationError),
    (429, litellm.RateLimitError),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("status", "exc_type"), STATUS_ERRORS)
def test_http_errors(
    fake: FakeProvider, provider: str, stream: bool, status: int, exc_type: type[Exception]
) -> None:
    fake.program(error(status, retry_after=3 if status == 429 else None))
    with pytest.raises(exc_type) as info:
        chat(fake, provider, stream=stream)
    assert type(info.value) is exc_type
    assert info.value.status_code == status
    assert len(fake.requests) == 1
    rec = fake.requests[0]
    assert rec.behaviour == "error"
    assert rec.reported_usage is None
    if status == 429:
        assert info.value.litellm_response_headers["retry-after"] == "3"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_error_custom_body(fake: FakeProvider, provider: str) -> None:
    body = {"error": {"message": "quota gone for workspace 7", "type": "insufficient_quota"}}
    fake.program(error(429, body=body))
    with pytest.raises(litellm.RateLimitError, match="quota gone for workspace 7"):
        chat(fake, provider)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_hang_times_out(fake: FakeProvider, provider: str, stream: bool) -> None:
    fake.program(hang(5))
    started = time.monotonic()
    with pytest.raises(litellm.Timeout) as info:
        chat(fake, provider, stream=stream, timeout=0.3)
    assert type(info.value) is litellm.Timeout
    assert time.monotonic() - started < 2
    assert fake.requests[0].behaviour == "hang"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_malformed_non_stream(fake: FakeProvider, provider: str) -> None:
    fake.program(malformed())
    expected = litellm.InternalServerError if provider == "openai" else litellm.APIConnectionError
    with pytest.raises(expected) as info:
        chat(fake, provider)
    assert type(info.value) is expected
    assert info.value.status_code == 500
    assert fake.requests[0].reported_usage is None


def test_malformed_stream_openai(fake: FakeProvider) -> None:
    fake.program(malformed())
    stream = chat(fake, "openai", stream=True, stream_options={"include_usage": True})
    received = []
    with pytest.raises(MidStreamFallbackError) as info:
        received.extend(stream)
    assert received == []
    assert isinstance(info.value.original_exception, litellm.APIConnectionError)


def test_malformed_stream_anthropic_is_silently_empty(fake: FakeProvider) -> None:
    fake.program(malformed())
    stream = chat(fake, "anthropic", stream=True, stream_options={"include_usage": True})
    chunks = list(stream)  # no exception!
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ""
    assert [c.choices[0].finish_reason for c in chunks if c.choices] == ["stop"]
    assert getattr(chunks[-1], "usage", None) is None
    assert fake.requests[0].reported_usage is None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cut_non_stream(fake: FakeProvider, provider: str) -> None:
    fake.program(cut())
    with pytest.raises(litellm.InternalServerError):
        chat(fake, provider)
    assert fake.requests[0].behaviour == "cut"
    assert fake.requests[0].reported_usage is None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_cut_stream(fake: FakeProvider, provider: str) -> None:
    fake.program(cut(after_chunks=4))
    stream = chat(fake, provider, stream=True, stream_options={"include_usage": True})
    received: list[Any] = []
    with pytest.raises(MidStreamFallbackError) as info:
        received.extend(stream)
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert text == "Fake reply to: Summarise "
    assert info.value.generated_content == text
    assert info.value.status_code == 500
    assert isinstance(info.value.original_exception, litellm.APIConnectionError)
    assert all(getattr(c, "usage", None) is None for c in received)
    assert fake.requests[0].reported_usage is None


def test_image_failures(fake: FakeProvider) -> None:
    # image_generation (openai SDK underneath) maps like chat non-stream:
    # 500/malformed/cut -> InternalServerError, 429 -> RateLimitError, hang -> Timeout.
    cases: list[tuple[Any, type[Exception]]] = [
        (error(500), litellm.InternalServerError),
        (error(429), litellm.RateLimitError),
        (error(400), litellm.BadRequestError),
        (hang(5), litellm.Timeout),
        (malformed(), litellm.InternalServerError),
        (cut(), litellm.InternalServerError),
    ]
    for behaviour, exc_type in cases:
        fake.program(behaviour)
        with pytest.raises(exc_type) as info:
            litellm.image_generation(
                model="openai/dall-e-2",
                prompt="x",
                api_base=fake.openai_base,
                api_key="sk-test",
                timeout=0.3,
                max_retries=0,
            )
        assert type(info.value) is exc_type, behaviour
    assert len(fake.requests) == len(cases)
    assert all(r.images_returned is None for r in fake.requests if r.behaviour != "hang")


# --- retries ----------------------------------------------------------------------------------
#
# Which of litellm's knobs retries what (the openai SDK's max_retries for OpenAI; litellm's own
# loop with a retry_policy for Anthropic, which ignores max_retries) is the gateway's business:
# see workbench/gateway/providers/litellm_provider.py::_retries, and the attempts counted per
# failure in tests/test_gateway_provider_failures.py. Here: the fake speaks retry-after as the
# SDK expects.


def test_openai_sdk_honours_retry_after(fake: FakeProvider) -> None:
    fake.program(error(429, retry_after=0.01), error(500, retry_after=0.01))
    started = time.monotonic()
    response = chat(fake, "openai", max_retries=2)
    assert time.monotonic() - started < 0.5
    assert response.choices[0].message.content == reply_for(MESSAGES)
    assert [r.behaviour for r in fake.requests] == ["error", "error", "ok"]
    # the SDK numbers its attempts
    assert [r.headers["x-stainless-retry-count"] for r in fake.requests] == ["0", "1", "2"]


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("knob", ["extra_headers", "headers"])
def test_chat_custom_headers(fake: FakeProvider, provider: str, stream: bool, knob: str) -> None:
    # Both extra_headers= and headers= reach the provider, both providers, stream or not.
    result = chat(fake, provider, stream=stream, **{knob: HOLD})
    if stream:
        list(result)
    rec = fake.requests[-1]
    assert rec.headers["x-workbench-hold"] == "42"
    assert "extra_headers" not in rec.body
    assert "headers" not in rec.body
    if provider == "openai":
        assert rec.headers["authorization"] == "Bearer sk-test"
    else:
        assert rec.headers["x-api-key"] == "sk-ant-test"
        assert rec.headers["anthropic-version"] == "2023-06-01"


def test_image_custom_headers(fake: FakeProvider) -> None:
    common: dict[str, Any] = {
        "model": "openai/dall-e-2",
        "prompt": "x",
        "api_base": fake.openai_base,
        "api_key": "sk-test",
        "max_retries": 0,
    }
    # extra_headers= arrives as a header, BUT litellm also leaks it into the JSON body as an
    # "extra_headers" field (the real API may reject that unknown parameter).
    litellm.image_generation(**common, extra_headers=HOLD)
    rec = fake.requests[-1]
    assert rec.headers["x-workbench-hold"] == "42"
    assert rec.body["extra_headers"] == HOLD
    # headers= arrives and leaves the body clean: use this one for images.
    litellm.image_generation(**common, headers=HOLD)
    rec = fake.requests[-1]
    assert rec.headers["x-workbench-hold"] == "42"
    assert rec.body == {"model": "dall-e-2", "prompt": "x"}


# --- the server itself ------------------------------------------------------------------------


def test_recording_and_fifo(fake: FakeProvider) -> None:
    fake.program(error(500), ok(reply_words=5))
    assert fake.pending == 2
    with pytest.raises(litellm.InternalServerError):
        chat(fake, "openai")
    response = chat(fake, "anthropic")
    assert fake.pending == 0
    assert response.choices[0].message.content == reply_for(MESSAGES, reply_words=5)
    chat(fake, "openai")  # queue empty: default ok
    assert [(r.method, r.path, r.behaviour) for r in fake.requests] == [
        ("POST", "/v1/chat/completions", "error"),
        ("POST", "/v1/messages", "ok"),
        ("POST", "/v1/chat/completions", "ok"),
    ]
    assert fake.requests[1].body["system"] == [{"type": "text", "text": "You are terse."}]
    assert all(name == name.lower() for r in fake.requests for name in r.headers)
    # `finished` is set just after the last byte is written: the client may be faster
    assert all(r.finished.wait(2) for r in fake.requests)
    fake.program(ok())
    fake.reset()
    assert fake.pending == 0
    assert fake.requests == []


def test_models_endpoint(fake: FakeProvider) -> None:
    with urllib.request.urlopen(fake.openai_base + "/models", timeout=5) as resp:
        assert b"gpt-4o-mini" in resp.read()
    assert fake.requests[-1].path == "/v1/models"


def test_hang_does_not_block_others_and_stop_is_prompt() -> None:
    with FakeProvider() as fake:
        fake.program(hang(30))
        errors: list[BaseException] = []

        def slow_call() -> None:
            try:
                chat(fake, "openai", timeout=20)
            except Exception as exc:
                errors.append(exc)

        thread = threading.Thread(target=slow_call, daemon=True)
        thread.start()
        deadline = time.monotonic() + 5
        while not fake.requests and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fake.requests[0].behaviour == "hang"

        started = time.monotonic()
        for provider in PROVIDERS:
            assert chat(fake, provider).choices[0].message.content == reply_for(MESSAGES)
        assert time.monotonic() - started < 1.0

        started = time.monotonic()
        fake.stop()
        assert time.monotonic() - started < 1.0
        thread.join(timeout=5)
        assert not thread.is_alive()
        # stop() drops the hung request unanswered (connection closed, no response):
        # litellm reports InternalServerError ("Connection error.").
        assert len(errors) == 1
        assert type(errors[0]) is litellm.InternalServerError
        assert fake.requests[0].finished.is_set()
