"""Real providers through litellm: OpenAI, Anthropic, and OpenAI-compatible servers by base URL.

One class for all of them: litellm already speaks each API. Keys are handed to litellm per call
(never through ``os.environ``), and every error is turned into a ``ProviderError`` whose text has
been through the redactor, so a key echoed back by a provider never leaves this module.
"""

from __future__ import annotations

import base64
from collections.abc import Generator
from typing import Any

import litellm
from litellm.cost_calculator import default_image_cost_calculator
from litellm.exceptions import Timeout as LitellmTimeout
from litellm.types.router import RetryPolicy

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

# No "give feedback" banners on stdout, no debug dumps of requests (they would carry headers).
litellm.suppress_debug_info = True
litellm.telemetry = False
# litellm hands every streamed chunk to a thread pool for its success callbacks and response
# cache; the workbench uses neither (its usage row is the log). Those threads were still running
# when the stream ended and made the capture wait for the GIL: about 2 ms a turn, measured by
# scripts/bench_gateway.py. The end-of-response logging still runs.
litellm.disable_streaming_logging = True


def _connection(options: CallOptions, litellm_model: str) -> dict[str, Any]:
    credentials = options.credentials
    params: dict[str, Any] = {"timeout": options.timeout_s, **_retries(litellm_model, options)}
    if credentials.api_key is not None:
        params["api_key"] = credentials.api_key.get_secret_value()
    if credentials.api_base:
        params["api_base"] = credentials.api_base
    return params


def _retries(litellm_model: str, options: CallOptions) -> dict[str, Any]:
    """litellm's retry setting that really retries for this provider: attempts = 1 + retries,
    only for failures worth another attempt (429, 5xx, timeouts, a dropped connection).

    For OpenAI and compatible servers that is the SDK's ``max_retries`` (408, 409, 429, 5xx and
    timeouts, honouring retry-after). litellm's Anthropic client ignores it, so there litellm's own
    retry loop runs, with a ``retry_policy`` that gives client errors (400, 401, 404, content
    policy) no second attempt.
    """
    if not litellm_model.startswith("anthropic/"):
        return {"max_retries": options.max_retries}
    again = options.max_retries
    policy = RetryPolicy(
        TimeoutErrorRetries=again,
        RateLimitErrorRetries=again,
        InternalServerErrorRetries=again,
        ServiceUnavailableErrorRetries=again,
        DefaultRetries=again,
        BadRequestErrorRetries=0,
        AuthenticationErrorRetries=0,
        ContentPolicyViolationErrorRetries=0,
        NotFoundErrorRetries=0,
    )
    return {"retry_policy": policy, "retry_strategy": "exponential_backoff_retry"}


def provider_error(exc: BaseException) -> ProviderError:
    """A litellm (or SDK, or network) exception as a ``ProviderError`` with redacted text."""
    message = redactor(str(exc)) or type(exc).__name__
    if isinstance(exc, LitellmTimeout | TimeoutError):
        return ProviderError(ProviderOutcome.TIMEOUT, type(exc).__name__, message[:500])
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


class LitellmProvider:
    def execute(self, call: ChatCall, report: ChatReport) -> Generator[str, None, None]:
        params: dict[str, Any] = {
            "model": call.model.litellm_model,
            "messages": [dict(m) for m in call.messages],
            "max_tokens": call.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            "extra_headers": dict(call.options.headers),
            **_connection(call.options, call.model.litellm_model),
        }
        if call.temperature is not None:
            params["temperature"] = call.temperature
        try:
            stream = litellm.completion(**params)
        except Exception as exc:
            raise provider_error(exc) from None
        try:
            for chunk in stream:
                usage = _usage(getattr(chunk, "usage", None))
                if usage is not None and (usage.input_tokens or usage.output_tokens):
                    report.usage = usage
                choices = getattr(chunk, "choices", None) or ()
                text = choices[0].delta.content if choices else None
                if text:
                    yield text
        except GeneratorExit:
            raise
        except Exception as exc:
            raise provider_error(exc) from None
        finally:
            # The person stopped, or it failed: close the HTTP response now, not at GC.
            stream.close()
        if report.usage is not None:
            report.usd_cost = _chat_cost(call.model.litellm_model, report.usage)

    def generate_images(self, call: ImageCall) -> ImageBatch:
        try:
            response = litellm.image_generation(
                model=call.model.litellm_model,
                prompt=call.prompt,
                n=call.n,
                size=call.size,
                quality=call.quality,
                # litellm 1.110 refuses response_format for OpenAI image models, and puts
                # extra_headers into the JSON body: these two spellings reach the wire intact.
                extra_body={"response_format": "b64_json"},
                headers=dict(call.options.headers),
                **_connection(call.options, call.model.litellm_model),
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
