"""Provider keys stay on the server: recognisable fake keys appear in no log line, no exception
text, no result and no usage row, even when a provider echoes the key back in an error."""

from __future__ import annotations

import logging

import pytest

from tests.fake_providers import error
from tests.gateway_harness import ANTHROPIC_KEY, OPENAI_KEY, Harness, ask
from workbench.gateway.errors import ProviderFailed
from workbench.gateway.keys import REDACTED

KEYS = (OPENAI_KEY, ANTHROPIC_KEY)


def _echoing_401(key: str, api: str) -> dict[str, object]:
    message = f"Incorrect API key provided: {key}. You can find your API key at the console."
    if api == "anthropic":
        return {"type": "error", "error": {"type": "authentication_error", "message": message}}
    return {"error": {"message": message, "type": "invalid_request_error", "code": "bad_key"}}


def _assert_clean(*texts: object) -> None:
    for text in texts:
        for key in KEYS:
            assert key not in str(text), f"a provider key leaked into: {str(text)[:200]}"


@pytest.mark.parametrize(
    ("model", "key", "api"),
    [
        ("openai/gpt-4o-mini", OPENAI_KEY, "openai"),
        ("anthropic/claude-haiku-4-5", ANTHROPIC_KEY, "anthropic"),
    ],
)
def test_a_key_echoed_in_an_error_is_redacted_everywhere(
    harness: Harness,
    model: str,
    key: str,
    api: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("LiteLLM", "litellm", "httpx", "openai", "anthropic"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    harness.fake.program(error(401, body=_echoing_401(key, api)))  # a 401 is not retried

    turn = harness.gateway.chat(harness.caller, ask("hello"), key="k1", model=model)
    with pytest.raises(ProviderFailed) as failed:
        "".join(turn)
    # Also a call that succeeds, with every library's debug logging on.
    "".join(harness.gateway.chat(harness.caller, ask("hello"), key="k2", model=model))

    assert (
        harness.fake.api_requests()[0]
        .headers.get("authorization", harness.fake.api_requests()[0].headers.get("x-api-key", ""))
        .endswith(key)
    ), "the key did reach the provider"
    out, err = capfd.readouterr()
    rows = harness.usage_rows()
    # The provider's own words survive (litellm masks Anthropic's echo itself; ours catches
    # OpenAI's), without the key.
    [failed_row] = [row for row in rows if row.status == "error"]
    assert "Incorrect API key provided" in failed_row.error_message
    if api == "openai":
        assert REDACTED in failed_row.error_message
    _assert_clean(
        failed.value,
        repr(failed.value),
        failed.value.fields,
        turn.result,
        caplog.text,
        [r.getMessage() for r in caplog.records],
        out,
        err,
        [tuple(row) for row in rows],
        repr(harness.gateway.keys),
        repr(harness.settings),
    )


def test_settings_and_keys_do_not_print_their_secrets(harness: Harness) -> None:
    _assert_clean(repr(harness.settings), str(harness.settings), repr(harness.gateway.keys))
    assert harness.gateway.keys.available() >= {"openai", "anthropic", "demo"}
