"""After a purge, the pages simply no longer list what went: the Chat sidebar drops the purged
conversation once its 30-second cache has expired (even the one open in the tab, which then starts
afresh) and the Images gallery drops the purged call at once, with no error, while what was kept
is listed as before."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.admin_credits_harness import admin_page, table_with
from tests.app_harness import AppEnv, assert_no_exception
from tests.chat_page_harness import listed
from tests.images_harness import images_env, images_page, make_images, prompts_shown
from tests.retention_harness import real_now
from workbench.chat.conversations import Conversations
from workbench.retention.policy import Policy
from workbench.retention.purge import run
from workbench.ui.cached_reads import first_conversations


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with images_env(tmp_path, monkeypatch) as opened:
        yield opened


def purge_as_of(env: AppEnv, days_ahead: int) -> None:
    """Purge with 30 days of conversations and 1 day of images kept, ``days_ahead`` days from
    now (what is made now is then old)."""
    now = real_now() + timedelta(days=days_ahead)
    done = run(
        env.svc.ledger.engine,
        env.tmp_path / "images",
        Policy(conversation_days=30, image_days=1),
        now,
        dry_run=False,
    )
    assert done.removed.anything


def test_a_purged_conversation_leaves_the_sidebar_even_while_open(env: AppEnv) -> None:
    then = real_now() - timedelta(days=100)
    old = Conversations(env.svc.ledger.engine, clock=lambda: then)
    doomed = old.create(env.member.id, env.workspace.id, "An old question")
    old.add_message(env.member.id, doomed.id, "user", "An old question")
    kept = env.svc.conversations.create(env.member.id, env.workspace.id, "A new question")
    env.svc.conversations.add_message(env.member.id, kept.id, "user", "A new question")
    at = env.signed_in(env.member)  # Chat, the first page
    assert listed(at) == [(kept.id, "A new question"), (doomed.id, "An old question")]
    at = at.sidebar.button(key=f"open-{doomed.id}").click().run()
    assert at.session_state["conversation_id"] == doomed.id

    purge_as_of(env, 0)
    at.run()
    assert_no_exception(at)
    # The list's first page is cached up to 30 s per process (a purge runs in another process and
    # cannot clear it); once it expires, the purged conversation is not listed.
    first_conversations.clear()
    at.run()
    assert_no_exception(at)
    assert listed(at) == [(kept.id, "A new question")]
    assert at.chat_message == [] or all(
        "old question" not in str(m.markdown[0].value) for m in at.chat_message
    )


def test_a_purged_image_call_leaves_the_gallery(env: AppEnv) -> None:
    make_images(env, env.member, "Made before the purge")
    at = images_page(env, env.member)
    assert prompts_shown(at) == ["Made before the purge"]
    purge_as_of(env, 3)
    make_images(env, env.member, "Made after the purge")
    at.run()
    assert_no_exception(at)
    assert prompts_shown(at) == ["Made after the purge"]
    assert len(at.image) == 1


def test_the_purge_run_is_listed_in_the_audit_trail(env: AppEnv) -> None:
    then = real_now() - timedelta(days=100)
    old = Conversations(env.svc.ledger.engine, clock=lambda: then)
    doomed = old.create(env.member.id, env.workspace.id, "An old question")
    old.add_message(env.member.id, doomed.id, "user", "An old question")
    purge_as_of(env, 0)

    at = admin_page(env, env.operator)
    at.toggle(key="audit_everywhere").set_value(True).run()
    at.selectbox(key="audit_action").set_value("retention.purge").run()
    assert_no_exception(at)
    audit = table_with(at, "before")
    assert list(audit["action"]) == ["retention.purge"]
    after = json.loads(audit["after"].iloc[0])
    assert after["conversations"]["found"]["conversations"] == 1
