"""Pages are layout: no SQL, no provider SDK, no database driver, and short (logic that grows
belongs in workbench/). The entry script is not beside pages/ (the legacy router would serve it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_one_path_to_providers import imported_roots
from workbench.ui.page_registry import PAGES, PAGES_DIR

FORBIDDEN = {"sqlalchemy", "litellm", "openai", "anthropic", "duckdb", "psycopg", "sqlite3"}
PAGE_FILES = sorted(PAGES_DIR.glob("*.py"))


@pytest.mark.parametrize("page", PAGE_FILES, ids=lambda p: p.name)
def test_a_page_imports_no_sql_or_provider_code(page: object) -> None:
    assert imported_roots(page) & FORBIDDEN == set()  # type: ignore[arg-type]


@pytest.mark.parametrize("page", PAGE_FILES, ids=lambda p: p.name)
def test_a_page_is_a_layout_not_a_module(page: object) -> None:
    lines = page.read_text().splitlines()  # type: ignore[attr-defined]
    assert len(lines) <= 150, f"{page} has {len(lines)} lines: move logic into workbench/"


def test_every_registered_page_exists_and_every_page_is_registered() -> None:
    assert {p.file for p in PAGES} == {p.name for p in PAGE_FILES}


def test_the_scripts_streamlit_runs_do_not_sit_beside_pages() -> None:
    for script in ("app.py", "ui/router.py"):
        folder = (ROOT / "workbench" / script).parent
        assert (folder / Path(script).name).exists()
        assert not (folder / "pages").exists()
    assert PAGES_DIR.parent == ROOT
