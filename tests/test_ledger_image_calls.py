"""``Ledger.image_calls``: the Images gallery's query. A workspace's calls that kept images (or one
member's there), newest first, with who made them, a page at a time by keyset (``before_id``),
none made before ``since`` (image retention's cut-off); never a chat call, a refusal, an image
call that kept none, or another workspace's call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from ledger.amounts import credits
from ledger.errors import InvalidInput
from ledger.schema import usage_records
from ledger.service import Ledger
from ledger.usage import CallUsage, ImageCallRow
from tests.conftest import Seed, seed

IMAGE = "ai_image_generation"


def image_call(book: Ledger, s: Seed, user_id: int, key: str, images: int = 1) -> int:
    """An image call settled as the gateway settles it: captured with ``images`` kept, or
    released when none came back. Returns its usage row's id."""
    hold = book.reserve(
        s.account_id,
        user_id=user_id,
        feature_key=IMAGE,
        model="demo/images",
        amount=credits(5) * max(images, 1),
        key=key,
    ).hold
    usage = CallUsage(provider="demo", status="ok" if images else "error", images=images)
    if images:
        book.capture(hold.id, credits(5) * images, key=key, usage=usage)
    else:
        book.release(hold.id, reason="no images came back", key=key, usage=usage)
    row = book.usage_for_hold(hold.id)
    assert row is not None
    return row.id


def chat_call(book: Ledger, s: Seed, key: str) -> int:
    hold = book.reserve(
        s.account_id,
        user_id=s.member_id,
        feature_key="ai_text_chat",
        model="demo/chat",
        amount=credits(1),
        key=key,
    ).hold
    usage = CallUsage(provider="demo", status="ok", input_tokens=10, output_tokens=10)
    book.capture(hold.id, credits(1), key=key, usage=usage)
    row = book.usage_for_hold(hold.id)
    assert row is not None
    return row.id


def ids(rows: list[ImageCallRow]) -> list[int]:
    return [row.usage.id for row in rows]


def test_only_calls_that_kept_images_newest_first_with_their_makers(
    ledger: Ledger, seeded: Seed
) -> None:
    first = image_call(ledger, seeded, seeded.member_id, "a", images=2)
    chat_call(ledger, seeded, "chat")
    image_call(ledger, seeded, seeded.member_id, "none-back", images=0)
    ledger.record_refusal(
        account_id=seeded.account_id,
        user_id=seeded.member_id,
        feature_key=IMAGE,
        model="demo/images",
        usage=CallUsage(provider="demo", status="refused", error_type="InsufficientCredits"),
    )
    by_admin = image_call(ledger, seeded, seeded.admin_id, "b")
    beta = seed(ledger, credits(100), slug="beta")
    image_call(ledger, beta, beta.member_id, "elsewhere")

    rows = ledger.image_calls(workspace_id=seeded.workspace_id)
    assert ids(rows) == [by_admin, first]
    assert [row.maker.username for row in rows] == ["acme-admin", "acme-member"]
    assert [row.maker.id for row in rows] == [seeded.admin_id, seeded.member_id]
    assert rows[1].usage.images == 2
    assert rows[1].usage.credits == credits(10)

    mine = ledger.image_calls(workspace_id=seeded.workspace_id, user_id=seeded.member_id)
    assert ids(mine) == [first]


def test_pages_by_keyset(ledger: Ledger, seeded: Seed) -> None:
    made = [image_call(ledger, seeded, seeded.member_id, f"k{n}") for n in range(7)]
    newest_first = made[::-1]
    page_1 = ledger.image_calls(workspace_id=seeded.workspace_id, limit=3)
    assert ids(page_1) == newest_first[:3]
    page_2 = ledger.image_calls(
        workspace_id=seeded.workspace_id, before_id=page_1[-1].usage.id, limit=3
    )
    assert ids(page_2) == newest_first[3:6]
    page_3 = ledger.image_calls(
        workspace_id=seeded.workspace_id, before_id=page_2[-1].usage.id, limit=3
    )
    assert ids(page_3) == newest_first[6:]


def made_at(ledger: Ledger, usage_id: int, when: datetime) -> None:
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.update(usage_records).where(usage_records.c.id == usage_id).values(created_at=when)
        )


def test_since_leaves_out_older_calls(ledger: Ledger, seeded: Seed) -> None:
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    made = [image_call(ledger, seeded, seeded.member_id, f"d{n}") for n in range(4)]
    for usage_id, days_ago in zip(made, (10, 8, 5, 1), strict=True):
        made_at(ledger, usage_id, now - timedelta(days=days_ago))
    # Another workspace's call, dated before the cut-off but written last: the bound on the id
    # comes from the workspace's own rows, so it hides none of acme's recent calls.
    beta = seed(ledger, credits(100), slug="beta")
    made_at(ledger, image_call(ledger, beta, beta.member_id, "beta"), now - timedelta(days=7.5))
    workspace = seeded.workspace_id

    week = now - timedelta(days=7)
    assert ids(ledger.image_calls(workspace_id=workspace, since=week)) == [made[3], made[2]]
    mine = ledger.image_calls(workspace_id=workspace, user_id=seeded.member_id, since=week)
    assert ids(mine) == [made[3], made[2]]
    paged = ledger.image_calls(workspace_id=workspace, since=week, before_id=made[3])
    assert ids(paged) == [made[2]]
    everything = ledger.image_calls(workspace_id=workspace, since=now - timedelta(days=30))
    assert ids(everything) == made[::-1]
    assert ledger.image_calls(workspace_id=workspace, since=now) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"workspace_id": 0}, "workspace id must be a positive integer id, got 0"),
        ({"workspace_id": "1"}, "workspace id must be a positive integer id, got '1'"),
        ({"workspace_id": 1, "user_id": -2}, "user id must be a positive integer id, got -2"),
        ({"workspace_id": 1, "before_id": True}, "before id must be a positive integer id"),
        ({"workspace_id": 1, "limit": 0}, "limit must be a whole number from 1 to 1000, got 0"),
        ({"workspace_id": 1, "limit": 5000}, "limit must be a whole number from 1 to 1000"),
        (
            {"workspace_id": 1, "since": datetime(2026, 11, 1)},  # naive: refused
            "since must be a timezone-aware datetime (UTC)",
        ),
    ],
)
def test_bad_arguments_are_refused_in_a_sentence(
    ledger: Ledger, seeded: Seed, arguments: dict[str, object], message: str
) -> None:
    image_call(ledger, seeded, seeded.member_id, "a")
    before = ledger.balance(seeded.account_id)
    with pytest.raises(InvalidInput) as refused:
        ledger.image_calls(**arguments)  # type: ignore[arg-type]
    assert message in str(refused.value)
    # A read: nothing written, nothing charged.
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(usage_records)).scalar() == 1
    assert ledger.balance(seeded.account_id) == before
