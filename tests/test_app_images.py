"""Images: generating with the offline demo model charges for the images, stores them, and lists
them under "Your images" for their owner; another member of the workspace does not see them, an
admin of the workspace does, an admin of another workspace does not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ledger.amounts import credits, credits_text, format_credits
from ledger.owners import User
from tests.app_harness import (
    IMAGES,
    AppEnv,
    all_text,
    app_env,
    assert_links_to_my_credits,
    assert_no_exception,
    button,
    sidebar_text,
)

PROMPT = "A lighthouse at dusk, watercolour"
NOTHING_YET = "Nothing yet: your images will appear here."


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch) as opened:
        yield opened


def images_page(env: AppEnv, user: User) -> AppTest:
    return env.signed_in(user, IMAGES)


def generate(at: AppTest, prompt: str, count: int = 1) -> AppTest:
    at.text_area(key="img_prompt").set_value(prompt)
    at.number_input(key="n-demo/images").set_value(count)
    return button(at, "Generate").click().run()


def gallery_headings(at: AppTest) -> list[str]:
    """Each gallery entry as "prompt · model · size": its prompt (plain text, never Markdown)
    and the caption under it."""
    prompts = [t.value for t in at.main.text]
    details = [c.value for c in at.main.caption if re.fullmatch(r".+ · \d+x\d+", c.value)]
    assert len(prompts) == len(details), (prompts, details)
    return [f"{prompt} · {detail}" for prompt, detail in zip(prompts, details, strict=True)]


def test_the_page_offers_the_demo_model_and_an_estimate(env: AppEnv) -> None:
    at = images_page(env, env.member)
    assert_no_exception(at)
    assert at.selectbox(key="img_model").value == "demo/images"
    assert at.selectbox(key="size-demo/images").options == ["1024x1024", "256x256", "512x512"]
    estimate = r"About \d+(\.\d+)? credits? \(1 × 1024x1024 \w+\)\."
    assert any(re.fullmatch(estimate, c.value) for c in at.main.caption)
    assert [s.value for s in at.subheader] == ["Your images"]
    assert NOTHING_YET in [c.value for c in at.caption]


def test_generating_stores_charges_and_lists_the_images(env: AppEnv) -> None:
    before = env.available()
    at = images_page(env, env.member)
    at.selectbox(key="quality-demo/images-1024x1024").set_value("hd")  # whatever comes first
    at = generate(at, PROMPT, count=2)
    assert_no_exception(at)
    assert at.error == []

    [hold] = env.holds()
    [usage] = env.usage_rows()
    assert hold.status == "captured"
    assert (usage.status, usage.images, usage.user_id) == ("ok", 2, env.member.id)
    assert usage.credits == hold.captured > 0
    assert before - env.available() == usage.credits
    assert f"Credits available: {format_credits(env.available())}" in sidebar_text(at)
    assert any(t.value == f"2 images for {credits_text(usage.credits)}." for t in at.toast)
    assert usage.credits == credits(80)  # 2 images of 40 credits: demo/images, 1024x1024, hd

    # Stored on disk under the hold, with the owner in meta.json.
    folder = env.tmp_path / "images" / f"{hold.id:09d}"
    assert sorted(p.name for p in folder.iterdir()) == ["0.png", "1.png", "meta.json"]
    assert env.svc.gateway.images.meta(hold.id)["user_id"] == env.member.id  # type: ignore[index]

    # Listed under "Your images": the prompt, two images, two downloads.
    assert gallery_headings(at) == [f"{PROMPT} · demo/images · 1024x1024"]
    assert len(at.image) == 2
    # Links to the app's own image route (it checks who asks), named without internal ids.
    links = at.get("link_button")
    assert [link.proto.label for link in links] == ["Download", "Download"]
    assert all("/files/images/" in link.proto.url for link in links)
    assert at.download_button == []
    assert NOTHING_YET not in [c.value for c in at.caption]
    # The generation key is gone: the next click is a new request.
    assert "image_key" not in at.session_state


def test_the_owner_sees_them_in_a_new_session(env: AppEnv) -> None:
    generate(images_page(env, env.member), PROMPT)
    at = images_page(env, env.member)
    assert gallery_headings(at) == [f"{PROMPT} · demo/images · 1024x1024"]
    assert len(at.image) == 1


def test_another_member_does_not_see_them(env: AppEnv) -> None:
    generate(images_page(env, env.member), PROMPT)
    at = images_page(env, env.other)
    assert_no_exception(at)
    assert gallery_headings(at) == []
    assert at.image == []
    assert PROMPT not in all_text(at)
    assert NOTHING_YET in [c.value for c in at.caption]


def test_an_admin_of_the_workspace_sees_them(env: AppEnv) -> None:
    generate(images_page(env, env.member), PROMPT)
    generate(images_page(env, env.other), "A red bicycle")
    at = images_page(env, env.admin)
    assert_no_exception(at)
    assert sorted(gallery_headings(at)) == sorted(
        [f"{PROMPT} · demo/images · 1024x1024", "A red bicycle · demo/images · 1024x1024"]
    )
    assert len(at.image) == 2


def test_an_admin_of_another_workspace_does_not_see_them(env: AppEnv) -> None:
    generate(images_page(env, env.member), PROMPT)
    ledger = env.svc.ledger
    beta = ledger.create_workspace("beta", "Beta")
    boss = ledger.create_user("bea", "Bea Boss")
    ledger.add_member(beta.id, boss.id, "admin")
    at = images_page(env, boss)
    assert_no_exception(at)
    assert gallery_headings(at) == []
    assert at.image == []


def test_each_owner_sees_only_their_own_among_several(env: AppEnv) -> None:
    generate(images_page(env, env.member), PROMPT)
    generate(images_page(env, env.other), "A red bicycle")
    assert gallery_headings(images_page(env, env.member)) == [f"{PROMPT} · demo/images · 1024x1024"]
    assert gallery_headings(images_page(env, env.other)) == [
        "A red bicycle · demo/images · 1024x1024"
    ]


def test_an_empty_prompt_is_refused_in_a_sentence_and_charges_nothing(env: AppEnv) -> None:
    before = env.available()
    at = generate(images_page(env, env.member), "   ")
    assert_no_exception(at)
    assert [e.value for e in at.error] == ["Describe the image first: the prompt is empty."]
    assert env.holds() == []
    assert env.available() == before
    assert "image_key" not in at.session_state


def test_too_few_credits_for_images_is_refused_and_charges_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app_env(tmp_path, monkeypatch, micros=credits(3)) as poor:
        at = generate(images_page(poor, poor.member), PROMPT)
        assert_no_exception(at)
        [error] = at.error
        assert "Not enough credits" in error.value
        assert_links_to_my_credits(at)
        assert poor.holds() == []
        assert poor.available() == credits(3)
        assert gallery_headings(at) == []
