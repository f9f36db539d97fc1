"""The Images gallery's query (``Ledger.image_calls``) seeks through its partial index (ledger
migration ``0008``) instead of sorting every usage row of the workspace, chat turns included,
and image retention's cut-off (``since``) is one seek in the (workspace, created_at) index, not a
date read for every older call: the statement the ledger really runs, explained by SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ledger import db
from ledger.service import Ledger
from tests.conftest import seed
from workbench.db.migrate import migrate_all


@pytest.mark.parametrize("since", [None, datetime(2026, 11, 1, tzinfo=UTC)])
@pytest.mark.parametrize(
    ("scope", "index"),
    [("workspace", "ix_usage_records_image_calls_workspace_id"), ("member", None)],
)
def test_the_gallery_query_reads_its_index_in_order(
    tmp_path: Path, scope: str, index: str | None, since: datetime | None
) -> None:
    engine = db.create_engine(f"sqlite:///{tmp_path / 'plan.db'}")
    migrate_all(engine)
    book = Ledger(engine)
    s = seed(book)
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM usage_records" in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", keep)
    member = s.member_id if scope == "member" else None
    book.image_calls(workspace_id=s.workspace_id, user_id=member, before_id=1000, since=since)
    sa.event.remove(engine, "before_cursor_execute", keep)
    [(statement, parameters)] = seen
    with engine.connect() as conn:
        plan = " | ".join(
            str(row[3])
            for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
    assert "ix_usage_records_image_calls_" in plan, plan
    if index is not None:
        assert index in plan, plan
    assert "TEMP B-TREE" not in plan, f"the page is sorted, not read in order: {plan}"
    if since is not None:
        assert "ix_usage_records_workspace_id_created_at" in plan, plan
    engine.dispose()
