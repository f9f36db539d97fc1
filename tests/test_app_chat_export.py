"""Export as Markdown, from the open conversation's menu: the file offered for download is the
conversation's Markdown (title, model, system prompt, each message with what each reply cost),
named after its title, and the person's text in it reads literally.

The download's bytes are read where Streamlit keeps them: its media file storage (AppTest gives
each run an in-memory one), recorded as the page stores them and found by the button's URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits_text
from tests.app_harness import FAKE_CHAT_MODEL, AppEnv, app_env, assert_no_exception
from tests.chat_page_harness import chat_page, send
from tests.fake_providers import FakeProvider
from workbench.chat.export import conversation_markdown, export_file_name

SYSTEM = "Answer *briefly*."
QUESTION = "Compare `tabs` and spaces"
FOLLOW_UP = "# Which one wins?"

Stored = tuple[bytes, str, str | None]  # data, media type, download file name


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_provider: FakeProvider
) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, fake=fake_provider) as opened:
        yield opened


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> dict[str, Stored]:
    """Every file the app puts in Streamlit's media storage, by file id."""
    files: dict[str, Stored] = {}
    real = MemoryMediaFileStorage.load_and_get_id

    def recording(
        self: MemoryMediaFileStorage,
        path_or_data: str | bytes,
        mimetype: str,
        kind: object,
        filename: str | None = None,
    ) -> str:
        file_id = real(self, path_or_data, mimetype, kind, filename)  # type: ignore[arg-type]
        assert isinstance(path_or_data, bytes)
        files[file_id] = (path_or_data, mimetype, filename)
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    return files


def download(at: AppTest, stored: dict[str, Stored]) -> Stored:
    """What the Export button downloads: the file behind its URL."""
    [button] = [b for b in at.download_button if b.label == "Export as Markdown"]
    url = str(button.proto.url)
    file_id = url.rpartition("/")[2].partition(".")[0]
    assert file_id in stored, f"{url} is not a stored file"
    return stored[file_id]


def test_the_export_is_the_conversation_as_markdown(env: AppEnv, stored: dict[str, Stored]) -> None:
    at = send(send(chat_page(env, system=SYSTEM), QUESTION), FOLLOW_UP)
    assert_no_exception(at)
    [row] = env.conversations()
    store = env.svc.conversations
    conversation = store.get(env.member.id, row.id)
    messages = store.messages(env.member.id, row.id)

    data, media_type, file_name = download(at, stored)
    text = data.decode("utf-8")
    assert media_type == "text/markdown"
    assert file_name == export_file_name(conversation) == f"compare-tabs-and-spaces-{row.id}.md"
    assert text == conversation_markdown(conversation, messages)

    # What it holds, read directly: the title literal, the model, the system prompt and the
    # person's messages fenced as typed, each reply as written with its cost.
    assert text.startswith("# Compare \\`tabs\\` and spaces\n")
    assert f"- Model: {FAKE_CHAT_MODEL}\n" in text
    assert f"```\n{SYSTEM}\n```" in text
    assert f"```\n{QUESTION}\n```" in text
    assert f"```\n{FOLLOW_UP}\n```" in text
    usage = env.usage_rows()
    for reply, used in zip([m for m in messages if m.role == "assistant"], usage, strict=True):
        assert reply.content in text
        assert f"*Cost: {credits_text(used.credits)}*" in text
    assert text.index(QUESTION) < text.index(FOLLOW_UP)


def test_the_export_follows_the_conversation_as_it_changes(
    env: AppEnv, stored: dict[str, Stored]
) -> None:
    at = send(chat_page(env), QUESTION)
    [row] = env.conversations()
    first, _, _ = download(at, stored)
    at = send(at, FOLLOW_UP)
    second, _, _ = download(at, stored)
    assert FOLLOW_UP.encode() not in first
    assert FOLLOW_UP.encode() in second
    # Renamed: the file takes the new title.
    at.text_input(key=f"title-{row.id}").set_value("Whitespace wars")
    at.button(key="rename").click().run()
    assert_no_exception(at)
    data, _, file_name = download(at, stored)
    assert file_name == f"whitespace-wars-{row.id}.md"
    assert data.decode().startswith("# Whitespace wars\n")


def test_there_is_nothing_to_export_before_a_conversation_exists(
    env: AppEnv, stored: dict[str, Stored]
) -> None:
    at = chat_page(env)
    assert list(at.download_button) == []
