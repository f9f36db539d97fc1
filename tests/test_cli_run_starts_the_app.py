"""`workbench run` (what `make run` calls) migrates and seeds a fresh database, then becomes the
Streamlit server: it answers `/_stcore/health`. Without `--reload` the server takes the
repository's `.streamlit/config.toml` as it is (no file watcher, no forced collection after each
run: they slow every page); `--reload` asks Streamlit to watch the source and rerun on save."""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from tests.browser_harness import ROOT, START_TIMEOUT_S, app_env, free_port


def started(tmp_path: Path, *flags: str) -> list[str]:
    """Start ``workbench run`` with ``flags``, wait until it is healthy, and return the server
    process's own command line (``run`` replaces itself with Streamlit: the same process)."""
    env = app_env(tmp_path, stream_delay_s=0.0, balance_refresh_s=60.0)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "run", "--port", str(port), *flags],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()[0]
            try:
                url = f"http://127.0.0.1:{port}/_stcore/health"
                with urllib.request.urlopen(url, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail(f"`workbench run` was not healthy within {START_TIMEOUT_S:.0f} s")
        argv = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        return [part.decode() for part in argv if part]
    finally:
        process.terminate()
        process.wait(timeout=15)
        assert process.stdout is not None
        process.stdout.close()


def test_run_serves_the_app_with_the_repositorys_settings(tmp_path: Path) -> None:
    argv = started(tmp_path)
    assert argv[1:4] == ["-m", "streamlit", "run"]
    assert not any("fileWatcherType" in part or "runOnSave" in part for part in argv)
    assert (tmp_path / "workbench.db").exists()  # migrated and seeded before the server started
    settings = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert settings["server"]["fileWatcherType"] == "none"
    assert settings["runner"]["postScriptGC"] is False


def test_reload_turns_the_watcher_back_on(tmp_path: Path) -> None:
    argv = started(tmp_path, "--reload")
    assert "--server.fileWatcherType=auto" in argv
    assert "--server.runOnSave=true" in argv
