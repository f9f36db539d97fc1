"""Deleting images from the gallery: only the person who made them, only after a confirmation.
The files go, the call leaves the gallery and the image route answers 404; the usage row, the
ledger lines and the balance stay as they were (money history is never deleted). An admin sees
a member's images but gets no Delete for them, and the store refuses them too."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_harness import AppEnv, assert_no_exception
from tests.images_harness import (
    buttons,
    images_env,
    images_page,
    make_images,
    one_button,
    prompts_shown,
    route_status,
)
from workbench.images.store import NotTheOwner

QUESTION_2 = (
    "Delete these 2 images for good? They cannot be brought back; what they cost stays in the "
    "usage history."
)
QUESTION_1 = (
    "Delete this image for good? It cannot be brought back; what it cost stays in the usage "
    "history."
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with images_env(tmp_path, monkeypatch) as opened:
        yield opened


def folder(env: AppEnv, hold_id: int) -> Path:
    return env.tmp_path / "images" / f"{hold_id:09d}"


def money(env: AppEnv) -> tuple[object, ...]:
    """Everything the deletion must leave as it was: balance, holds, usage rows, ledger lines."""
    return (env.available(), env.held(), env.holds(), env.usage_rows(), env.entries())


def ask_to_delete(at: AppTest) -> AppTest:
    return one_button(at, "Delete").click().run()


def test_the_owner_deletes_after_confirming_and_only_the_files_go(env: AppEnv) -> None:
    kept = make_images(env, env.member, "Keep this one")
    gone = make_images(env, env.member, "Delete this one", count=2)
    before = money(env)
    at = images_page(env, env.member)
    assert prompts_shown(at) == ["Delete this one", "Keep this one"]
    assert len(buttons(at, "Delete")) == 2

    at = buttons(at, "Delete")[0].click().run()  # the newest card's
    assert_no_exception(at)
    assert [w.value for w in at.warning] == [QUESTION_2]
    # Asking is not deleting.
    assert sorted(p.name for p in folder(env, gone).iterdir()) == ["0.png", "1.png", "meta.json"]
    assert prompts_shown(at) == ["Delete this one", "Keep this one"]

    at = one_button(at, "Delete for good").click().run()
    assert_no_exception(at)
    assert not folder(env, gone).exists()
    assert env.svc.gateway.images.load(gone) == []
    assert prompts_shown(at) == ["Keep this one"]
    assert len(at.image) == 1
    assert [t.value for t in at.toast] == ["2 images deleted."]
    assert at.warning == []
    assert [route_status(env, env.member, gone, n) for n in (0, 1)] == [404, 404]
    assert route_status(env, env.admin, gone) == 404
    # The kept call is untouched, and so is the money: the usage row of the deleted call stays.
    assert route_status(env, env.member, kept) == 200
    assert money(env) == before
    assert [row.hold_id for row in env.usage_rows()] == [kept, gone]

    # Gone in a new session too.
    assert prompts_shown(images_page(env, env.member)) == ["Keep this one"]


def test_keep_changes_nothing(env: AppEnv) -> None:
    hold_id = make_images(env, env.member, "A red bicycle")
    before = money(env)
    at = ask_to_delete(images_page(env, env.member))
    assert [w.value for w in at.warning] == [QUESTION_1]
    at = one_button(at, "Keep").click().run()
    assert_no_exception(at)
    assert at.warning == []
    assert buttons(at, "Delete for good") == []
    assert prompts_shown(at) == ["A red bicycle"]
    assert route_status(env, env.member, hold_id) == 200
    assert money(env) == before


def test_deleted_meanwhile_in_another_tab_is_simply_gone(env: AppEnv) -> None:
    hold_id = make_images(env, env.member, "A red bicycle")
    at = ask_to_delete(images_page(env, env.member))
    assert env.svc.gateway.images.delete(hold_id, user_id=env.member.id) == 1  # another tab
    at = one_button(at, "Delete for good").click().run()
    assert_no_exception(at)
    assert at.error == []
    assert at.warning == []
    assert prompts_shown(at) == []


def test_an_admin_gets_no_delete_for_a_members_images_and_the_store_refuses(
    env: AppEnv,
) -> None:
    theirs = make_images(env, env.member, "The member's")
    make_images(env, env.admin, "The admin's own")
    before = money(env)
    at = images_page(env, env.admin)
    assert_no_exception(at)
    assert prompts_shown(at) == ["The admin's own", "The member's"]
    assert len(buttons(at, "Delete")) == 1  # on the admin's own card only
    assert len(at.image) == 2

    for user in (env.admin, env.other, env.operator):
        with pytest.raises(NotTheOwner) as refused:
            env.svc.gateway.images.delete(theirs, user_id=user.id)
        assert str(refused.value) == "Only the person who made these images can delete them."
    assert sorted(p.name for p in folder(env, theirs).iterdir()) == ["0.png", "meta.json"]
    assert route_status(env, env.member, theirs) == 200
    assert money(env) == before


def test_another_member_sees_no_control_for_them(env: AppEnv) -> None:
    make_images(env, env.member, "The member's")
    at = images_page(env, env.other)
    assert prompts_shown(at) == []
    assert buttons(at, "Delete") == []


def test_deleting_nothing_stored_is_a_no_op(env: AppEnv) -> None:
    hold_id = make_images(env, env.member, "Once")
    store = env.svc.gateway.images
    assert store.delete(hold_id, user_id=env.member.id) == 1
    assert store.delete(hold_id, user_id=env.member.id) == 0
    assert store.delete(hold_id + 1000, user_id=env.member.id) == 0


def test_each_card_keeps_its_own_confirmation(env: AppEnv) -> None:
    first = make_images(env, env.member, "First")
    second = make_images(env, env.member, "Second")
    at = images_page(env, env.member)
    at = buttons(at, "Delete")[0].click().run()  # Second's
    at = one_button(at, "Delete").click().run()  # First's, while Second's still asks
    assert [w.value for w in at.warning] == [QUESTION_1, QUESTION_1]
    at = buttons(at, "Delete for good")[1].click().run()  # First's
    assert_no_exception(at)
    assert prompts_shown(at) == ["Second"]
    assert not folder(env, first).exists()
    assert folder(env, second).exists()
    assert [w.value for w in at.warning] == [QUESTION_1]  # Second's still asks
