"""The services are built once per process, in ``workbench.bootstrap``, and shared: by every
Streamlit session, by the ``st.App`` lifespan (which builds them before the first request and keeps
them), and by any extra route the app carries."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench import bootstrap
from workbench.bootstrap import Services
from workbench.config import settings


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("WORKBENCH_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("WORKBENCH_IMAGE_DIR", str(tmp_path / "images"))
    settings.cache_clear()
    bootstrap.shutdown()
    yield
    bootstrap.shutdown()
    settings.cache_clear()


def test_one_set_of_services_per_process_whoever_asks_first(configured: None) -> None:
    seen: list[Services] = []
    threads = [threading.Thread(target=lambda: seen.append(bootstrap.services())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 8 and all(s is seen[0] for s in seen)
    assert bootstrap.services() is seen[0]


def test_the_first_build_announces_the_first_admin_once(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    bootstrap.services()
    bootstrap.services()
    assert capsys.readouterr().out.count("First start: sign in as 'admin'") == 1


def test_the_lifespan_builds_the_services_and_keeps_them(configured: None) -> None:
    from workbench.app import lifespan
    from workbench.ui import session

    async def serve() -> tuple[Services, Services]:
        async with lifespan(None):
            built = bootstrap.services()
            # A session's script run asks for them while the server runs: the same object.
            return built, session.services()

    built, from_session = asyncio.run(serve())
    assert from_session is built
    # Stopping the server closed them; the next use builds a fresh set.
    assert bootstrap.services() is not built
