"""A gallery card shows its prompt as plain text, cut to its start (three lines, about 160
characters, with "…") when long, the whole of it under "Full prompt" as code, never Markdown;
prompts full of Markdown and HTML show literally. An admin sees who made each call (escaped: a
display name is typed by a person); a member sees no names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import AppEnv, assert_no_exception
from tests.images_harness import images_env, images_page, made_lines, make_images, prompts_shown
from tests.test_untrusted_text_is_text import assert_literal, payload
from workbench.ui.image_wording import PROMPT_CHARS, cut_prompt
from workbench.ui.messages import escape_markdown

WHEN = r"1 image · \d{4}-\d\d-\d\d \d\d:\d\d UTC"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with images_env(tmp_path, monkeypatch) as opened:
        yield opened


def full_prompts(at: AppTest) -> list[str]:
    """What each "Full prompt" expander holds (a code block: plain text)."""
    found = []
    for expander in at.main.expander:
        assert expander.label == "Full prompt"
        found += [code.value for code in expander.code]
    return found


def test_a_long_prompt_is_cut_at_a_word_and_whole_on_demand(env: AppEnv) -> None:
    prompt = " ".join(f"word{n:03d}" for n in range(60))  # 479 characters on one line
    make_images(env, env.member, prompt)
    at = images_page(env, env.member)
    assert_no_exception(at)
    [shown] = prompts_shown(at)
    assert shown.endswith("…")
    assert len(shown) <= PROMPT_CHARS + 1
    assert prompt.startswith(shown[:-1])
    assert shown[:-1].split(" ")[-1] in prompt.split(" ")  # ends on a whole word
    assert full_prompts(at) == [prompt]
    assert [e.label for e in at.main.expander] == ["Full prompt"]


def test_a_prompt_of_many_lines_shows_three(env: AppEnv) -> None:
    prompt = "Line one\nLine two\nLine three\nLine four\nLine five"
    make_images(env, env.member, prompt)
    at = images_page(env, env.member)
    assert prompts_shown(at) == ["Line one\nLine two\nLine three…"]
    assert full_prompts(at) == [prompt]


def test_a_short_prompt_is_whole_with_no_expander(env: AppEnv) -> None:
    make_images(env, env.member, "A lighthouse at dusk")
    at = images_page(env, env.member)
    assert prompts_shown(at) == ["A lighthouse at dusk"]
    assert at.main.expander == []


def test_cut_prompt_keeps_what_fits_and_marks_what_does_not() -> None:
    assert cut_prompt("x" * PROMPT_CHARS) == ("x" * PROMPT_CHARS, False)
    assert cut_prompt("x" * (PROMPT_CHARS + 1)) == ("x" * PROMPT_CHARS + "…", True)
    assert cut_prompt("a\nb\nc") == ("a\nb\nc", False)
    assert cut_prompt("a\nb\nc\nd") == ("a\nb\nc…", True)


@pytest.mark.parametrize("long", [False, True], ids=["whole", "cut"])
def test_markdown_and_html_in_a_prompt_show_literally(env: AppEnv, long: bool) -> None:
    prompt = payload("prompt") + (" and more" * 30 if long else "")
    make_images(env, env.member, prompt)
    for viewer in (env.member, env.admin):
        at = images_page(env, viewer)
        seen = assert_literal(at)
        [shown] = prompts_shown(at)
        assert shown == (cut_prompt(prompt)[0] if long else prompt)
        assert prompt in seen.plain  # every character as typed: the card's text or its code
        assert full_prompts(at) == ([prompt] if long else [])
        assert [text for text in seen.markup if "evil" in text] == []  # not even escaped


def test_an_admin_sees_who_made_each_call_and_a_member_sees_no_names(env: AppEnv) -> None:
    make_images(env, env.member, "The member's")
    make_images(env, env.admin, "The admin's")
    at = images_page(env, env.admin)
    assert_no_exception(at)
    assert prompts_shown(at) == ["The admin's", "The member's"]
    lines = made_lines(at)
    assert [line.split(" UTC")[1] for line in lines] == [" · by you", " · by Mia Member (mia)"]

    member = images_page(env, env.member)
    [line] = made_lines(member)
    assert line.endswith(" UTC")
    assert "Mia" not in line
    assert "by " not in line


def test_a_makers_typed_name_is_escaped(env: AppEnv) -> None:
    ledger = env.svc.ledger
    mallory = ledger.create_user("mallory", payload("display name"))
    ledger.add_member(env.workspace.id, mallory.id, "member")
    make_images(env, mallory, "Mallory's")
    at = images_page(env, env.admin)
    assert_literal(at)
    [line] = made_lines(at)
    assert line.endswith(f" · by {escape_markdown(payload('display name'))} (mallory)")
