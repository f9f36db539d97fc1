"""Real providers through litellm: OpenAI, Anthropic, and OpenAI-compatible servers by base URL.

One class for all of them: litellm already speaks each API. Keys are handed to litellm per call
(never through ``os.environ``), and every error is turned into a ``ProviderError`` whose text has
been through the redactor, so a key echoed back by a provider never leaves this module.

Retries are the gateway's own (``workbench.gateway.retries``), the same for every provider:
litellm's and the OpenAI SDK's are turned off. Only the request is retried, never a stream once
it is open (the provider may already be billing it).
"""

from __future__ import annotations

import base64
from collections.abc import Generator, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import litellm
import openai
from litellm.cost_calculator import default_image_cost_calculator

from ledger.statuses import ProviderOutcome
from workbench.gateway.keys import redactor
from workbench.gateway.providers.base import (
    CallOptions,
    ChatCall,
    ChatReport,
    ImageBatch,
    ImageCall,
    ProviderError,
    Usage,
)
from workbench.gateway.retries import retry_after_s, with_retries

# No "give feedback" banners on stdout, no debug dumps of requests (they would carry headers).
litellm.suppress_debug_info = True
litellm.telemetry = False
# litellm hands every streamed chunk to a thread pool for its success callbacks and response
# cache; the workbench uses neither (its usage row is the log). Those threads were still running
# when the stream ended and made the capture wait for the GIL: about 2 ms a turn, measured by
# scripts/bench_gateway.py. The end-of-response logging still runs.
litellm.disable_streaming_logging = True


def _connection(options: CallOptions) -> dict[str, Any]:
    credentials = options.credentials
    # No retries below the gateway's own: the OpenAI SDK would retry with its own waits, and
    # litellm's retry loop (the only one its Anthropic client runs) ignores Retry-After.
    params: dict[str, Any] = {"timeout": options.timeout_s, "max_retries": 0}
    if credentials.api_key is not None:
        params["api_key"] = credentials.api_key.get_secret_value()
    if credentials.api_base:
        params["api_base"] = credentials.api_base
    return params


# An answer that may well be different next time: too many requests, a conflict, a timeout the
# provider itself reported, an overloaded or failing server (Anthropic's 529 included).
RETRY_STATUSES = frozenset({408, 409, 429})
TIMEOUTS = (TimeoutError, httpx.TimeoutException, openai.APITimeoutError)


def _chain(exc: BaseException) -> Iterable[BaseException]:
    """The exception and those it wraps: litellm keeps the one it wrapped in
    ``original_exception`` (``MidStreamFallbackError`` around ``litellm.Timeout``), Python in
    ``__cause__``."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        inner = getattr(current, "original_exception", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__


def timeout_in(exc: BaseException) -> BaseException | None:
    """The read or connect timeout behind ``exc``, however deeply litellm wrapped it."""
    return next((e for e in _chain(exc) if isinstance(e, TIMEOUTS)), None)


def worth_retrying(exc: BaseException) -> bool:
    """Another attempt may succeed: a timeout, a dropped connection, 408/409/429 or a 5xx."""
    if timeout_in(exc) is not None:
        return True
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and (status in RETRY_STATUSES or status >= 500):
        return True
    return isinstance(exc, openai.APIConnectionError | httpx.TransportError)


def retry_after(exc: BaseException) -> float | None:
    """The wait the provider asked for in its answer's headers, wherever litellm put them."""
    for candidate in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    ):
        if isinstance(candidate, Mapping) and candidate:
            told = retry_after_s({str(k): str(v) for k, v in candidate.items()}, datetime.now(UTC))
            if told is not None:
                return told
    return None


def _retried(options: CallOptions) -> dict[str, Any]:
    return {"retries": options.max_retries, "worth_retrying": worth_retrying, "told": retry_after}


def provider_error(exc: BaseException) -> ProviderError:
    """A litellm (or SDK, or network) exception as a ``ProviderError`` with redacted text.

    A timeout anywhere in the chain makes it a timeout, whatever wraps it: litellm hands an
    Anthropic stream's read timeout back as a ``MidStreamFallbackError`` and OpenAI's bare, and
    both are the same fault with the same unknown outcome."""
    timeout = timeout_in(exc)
    if timeout is not None:
        message = redactor(str(timeout)) or type(timeout).__name__
        return ProviderError(ProviderOutcome.TIMEOUT, type(timeout).__name__, message[:500])
    message = redactor(str(exc)) or type(exc).__name__
    return ProviderError(ProviderOutcome.ERROR, type(exc).__name__, message[:500])


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    details = getattr(raw, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(
        input_tokens=int(getattr(raw, "prompt_tokens", 0) or 0),
        output_tokens=int(getattr(raw, "completion_tokens", 0) or 0),
        cached_tokens=int(cached),
    )


def _held_back_usage(stream: Any) -> Usage | None:
    """The usage an OpenAI stream reported before it broke. litellm holds that chunk back until
    the stream's last event (``data: [DONE]``), so when the connection drops between the two it is
    only among the chunks litellm kept (``CustomStreamWrapper.chunks``); the newest one with usage
    is the provider's total. Asked only once the finish reason has arrived: before it, the only
    figure there is Anthropic's opening count, not what the reply used."""
    for chunk in reversed(getattr(stream, "chunks", None) or ()):
        usage = _usage(getattr(chunk, "usage", None))
        if usage is not None and (usage.input_tokens or usage.output_tokens):
            return usage
    return None


def _chat_cost(litellm_model: str, usage: Usage) -> float | None:
    try:
        prompt, completion = litellm.cost_per_token(
            model=litellm_model,
            prompt_tokens=usage.input_tokens,
            completion_tokens=usage.output_tokens,
            cache_read_input_tokens=usage.cached_tokens,
        )
    except Exception:
        return None
    return float(prompt) + float(completion)


def _image_cost(litellm_model: str, size: str, quality: str, n: int) -> float | None:
    provider, _, model = litellm_model.partition("/")
    try:
        return float(
            default_image_cost_calculator(
                model=model or provider,
                custom_llm_provider=provider if model else None,
                quality=quality,
                n=n,
                size=size.replace("x", "-x-"),
            )
        )
    except Exception:
        return None


def _as_base64(litellm_model: str) -> dict[str, Any]:
    """What asks for the images themselves rather than links to them. DALL·E answers with links
    unless asked for ``b64_json`` (an OpenAI-compatible server may too); gpt-image models always
    answer with the images and refuse the field (HTTP 400, "Unknown parameter"), so they are
    sent none. litellm 1.110 refuses ``response_format`` for every OpenAI image model, so it
    goes in ``extra_body``, which reaches the wire intact."""
    if litellm_model.rpartition("/")[2].startswith("gpt-image"):
        return {}
    return {"extra_body": {"response_format": "b64_json"}}


class LitellmProvider:
    def execute(self, call: ChatCall, report: ChatReport) -> Generator[str, None, None]:
        params: dict[str, Any] = {
            "model": call.model.litellm_model,
            "messages": [dict(m) for m in call.messages],
            "max_tokens": call.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            "extra_headers": dict(call.options.headers),
            **_connection(call.options),
        }
        if call.temperature is not None:
            params["temperature"] = call.temperature
        try:
            stream = with_retries(lambda: litellm.completion(**params), **_retried(call.options))
        except Exception as exc:
            raise provider_error(exc) from None
        finished = False
        try:
            for chunk in stream:
                usage = _usage(getattr(chunk, "usage", None))
                if usage is not None and (usage.input_tokens or usage.output_tokens):
                    report.usage = usage
                choices = getattr(chunk, "choices", None) or ()
                if choices and getattr(choices[0], "finish_reason", None):
                    finished = True
                text = choices[0].delta.content if choices else None
                if text:
                    yield text
        except GeneratorExit:
            raise
        except Exception as exc:
            if report.usage is None and finished:
                report.usage = _held_back_usage(stream)
            if report.usage is not None:
                report.usd_cost = _chat_cost(call.model.litellm_model, report.usage)
            raise provider_error(exc) from None
        finally:
            # The person stopped, or it failed: close the HTTP response now, not at GC.
            stream.close()
        if report.usage is not None:
            report.usd_cost = _chat_cost(call.model.litellm_model, report.usage)

    def generate_images(self, call: ImageCall) -> ImageBatch:
        params: dict[str, Any] = {
            "model": call.model.litellm_model,
            "prompt": call.prompt,
            "n": call.n,
            "size": call.size,
            "quality": call.quality,
            # litellm 1.110 puts extra_headers into the JSON body: this spelling reaches the wire.
            "headers": dict(call.options.headers),
            **_as_base64(call.model.litellm_model),
            **_connection(call.options),
        }
        try:
            response = with_retries(
                lambda: litellm.image_generation(**params), **_retried(call.options)
            )
        except Exception as exc:
            raise provider_error(exc) from None
        images: list[bytes] = []
        for item in getattr(response, "data", None) or ():
            encoded = getattr(item, "b64_json", None)
            if not encoded:
                continue
            try:
                images.append(base64.b64decode(encoded, validate=True))
            except ValueError:
                continue  # an unreadable image is one that did not come back
        cost = _image_cost(call.model.litellm_model, call.size, call.quality, len(images))
        return ImageBatch(tuple(images), usd_cost=cost)
