"""Usage retention: raw usage rows older than the cut-off, deleted into their daily sums.

Each batch deletes its rows with ``DELETE … RETURNING`` and adds exactly the rows it got back to
``purged_usage_daily`` in the same transaction (``purged_totals``): a row is either still a row or
counted in the sums, never both and never neither, and of two purges at once each row is summed by
the one that deleted it. Analytics over whole UTC days read the same afterwards, in every mirror
(``workbench.analytics.purged_days``); the journal, the holds (which the rows point at) and the
audit trail are untouched.

One kind of row stays past the cut-off: a call whose images are still stored (after this run's
image retention), because the Images gallery lists calls from their usage rows. It goes in a later
run, once its images have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger import db
from ledger.schema import holds, usage_records
from workbench.retention import purged_totals

# Whether a call (hold id, the hold's time) still has images: then its row stays.
KeepsImages = Callable[[int, datetime], bool]


@dataclass(frozen=True)
class UsageCounts:
    rows: int = 0
    # Rows past the cut-off that stay because their call's images are still stored.
    kept_for_images: int = 0

    def __add__(self, other: UsageCounts) -> UsageCounts:
        return UsageCounts(self.rows + other.rows, self.kept_for_images + other.kept_for_images)


def _image_call() -> sa.ColumnElement[bool]:
    """The gallery's rows: calls with a hold that kept images."""
    return sa.and_(usage_records.c.images > 0, usage_records.c.hold_id.is_not(None))


def _candidates(
    conn: Connection, cutoff: datetime, after: int, limit: int, *, images_only: bool
) -> list[Any]:
    """Rows older than ``cutoff`` with an id above ``after``, in id order, with their hold's
    time (for image calls)."""
    query = (
        sa.select(
            usage_records.c.id,
            usage_records.c.hold_id,
            usage_records.c.images,
            holds.c.created_at.label("made_at"),
        )
        .select_from(usage_records.outerjoin(holds, holds.c.id == usage_records.c.hold_id))
        .where(usage_records.c.id > after, usage_records.c.created_at < cutoff)
        .order_by(usage_records.c.id)
    )
    if images_only:
        query = query.where(_image_call())
    return list(conn.execute(query.limit(limit)))


def _split(rows: list[Any], *, keeps_images: KeepsImages) -> tuple[list[int], int]:
    """The ids that may go, and how many stay for their images."""
    going: list[int] = []
    kept = 0
    for row in rows:
        # Only the gallery's rows can stay: a call with a hold that kept images.
        image_call = row.images > 0 and row.hold_id is not None and row.made_at is not None
        if image_call and keeps_images(row.hold_id, row.made_at):
            kept += 1
        else:
            going.append(row.id)
    return going, kept


def plan(
    engine: Engine, cutoff: datetime, keeps_images: KeepsImages, batch_size: int
) -> UsageCounts:
    """What a purge with ``cutoff`` would remove now: one count, and a look at each old image
    call's folder (``batch_size`` calls read at a time)."""
    with db.read_only_connection(engine) as conn:
        others = conn.execute(
            sa.select(sa.func.count())
            .select_from(usage_records)
            .where(usage_records.c.created_at < cutoff, sa.not_(_image_call()))
        ).scalar_one()
    total = UsageCounts(int(others), 0)
    after = 0
    while True:
        with db.read_only_connection(engine) as conn:
            calls = _candidates(conn, cutoff, after, batch_size, images_only=True)
        if not calls:
            return total
        after = calls[-1].id
        going, kept = _split(calls, keeps_images=keeps_images)
        total += UsageCounts(len(going), kept)


def purge(
    engine: Engine,
    cutoff: datetime,
    batch_size: int,
    keeps_images: KeepsImages,
    *,
    in_transaction: Callable[[Connection], None],
    progress: Callable[[UsageCounts], None],
) -> UsageCounts:
    """Remove what ``plan`` counts, at most ``batch_size`` rows per write transaction; calls
    ``in_transaction`` inside each transaction that deletes and ``progress`` after it commits."""
    total = UsageCounts()
    after = 0
    returning = [usage_records.c[name] for name in purged_totals.COLUMNS]
    while True:
        with db.read_only_connection(engine) as conn:
            rows = _candidates(conn, cutoff, after, batch_size, images_only=False)
        if not rows:
            return total
        after = rows[-1].id
        going, kept = _split(rows, keeps_images=keeps_images)
        removed = UsageCounts(0, kept)
        if going:
            with db.write_transaction(engine) as conn:
                deleted = conn.execute(
                    usage_records.delete()
                    .where(usage_records.c.id.in_(going), usage_records.c.created_at < cutoff)
                    .returning(*returning)
                ).all()
                if deleted:
                    in_transaction(conn)
                    generation = purged_totals.next_generation(conn, cutoff)
                    purged_totals.add(conn, purged_totals.sums(deleted), generation)
            removed = UsageCounts(len(deleted), kept)
        total += removed
        progress(removed)
