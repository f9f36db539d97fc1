"""The app benchmark's start-ups (scripts/bench_app.py): a server launched as ``make run``
launches it, timed until ``/_stcore/health`` answers 200, and the same for a bare Streamlit app
(``scripts/bench_ui_bare.py``'s two pages) started by ``streamlit run`` the same way, with the
app's ``.streamlit/config.toml``, so the app's figure can be read against what Streamlit itself
costs on this machine at this moment.

What the browser tests' harness (``tests/browser_harness.py``) already does is taken from it: a
free loopback port (``free_port``), the health probe (``answers_health``), and the server itself
(a ``Started`` is its ``AppServer``: URL, console, ``stop``); what is this module's own is the
command launched and the timing (polled every ``POLL_S``, the hand-over seen as it is printed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from scripts.bench_ui_bare import BARE_APP, bare_command
from tests.browser_harness import ROOT, START_TIMEOUT_S, AppServer, answers_health, free_port

# ``workbench run`` prints this just before it hands over to ``streamlit run`` (os.execv).
HANDOVER: Final = "Starting the workbench on"
POLL_S: Final = 0.05
_IMPORT_LINE: Final = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| *(\S+)")


@dataclass
class Started(AppServer):
    """A server that answered its health check (the harness's ``AppServer``; for the app, its
    admin password is set by the caller): how long that took from the launch, and (for
    ``workbench run``) when it handed over to Streamlit."""

    seconds: float = 0.0
    handover_s: float | None = None


def workbench_command(port: int) -> list[str]:
    """What ``make run`` runs: the installed ``workbench`` command (``-m workbench`` where the
    environment has no such script)."""
    script = Path(sys.executable).parent / "workbench"
    entry = [str(script)] if script.exists() else [sys.executable, "-m", "workbench"]
    return [*entry, "run", "--port", str(port)]


def start_app(env: dict[str, str], log_path: Path) -> Started:
    """``workbench run`` on the database ``env`` names, from the repository's root (where
    ``make run`` starts it: its ``.streamlit/config.toml`` applies)."""
    port = free_port()
    return _launch(workbench_command(port), ROOT, env, port, log_path)


def start_bare(workdir: Path, env: dict[str, str], log_path: Path) -> Started:
    """The bare app with the app's own Streamlit settings (no file watcher, no forced collection
    after each run), so the two differ only in what their scripts do."""
    (workdir / ".streamlit").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / ".streamlit" / "config.toml", workdir / ".streamlit" / "config.toml")
    (workdir / "bare_app.py").write_text(BARE_APP, encoding="utf-8")
    port = free_port()
    return _launch(bare_command(port), workdir, env, port, log_path)


def _launch(
    command: list[str], cwd: Path, env: dict[str, str], port: int, log_path: Path
) -> Started:
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    server = Started(process, port, log_path.parent, env, member_password="")
    assert process.stdout is not None
    threading.Thread(
        target=_pump, args=(server, process.stdout, log_path, started), daemon=True
    ).start()
    deadline = started + START_TIMEOUT_S
    try:
        while not answers_health(server):
            if process.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(
                    f"{' '.join(command[:4])} did not answer its health check "
                    f"(exit {process.poll()}):\n{''.join(server.console)[-3000:]}"
                )
            time.sleep(POLL_S)
    except BaseException:
        server.stop()
        raise
    server.seconds = time.perf_counter() - started
    return server


def _pump(server: Started, stream: IO[str], log_path: Path, started: float) -> None:
    """Keep the console in memory and in ``log_path``; note when ``workbench run`` hands over."""
    with log_path.open("w", encoding="utf-8") as log:
        for line in stream:
            if server.handover_s is None and line.startswith(HANDOVER):
                server.handover_s = time.perf_counter() - started
            server.console.append(line)
            log.write(line)


def import_seconds(env: dict[str, str], modules: tuple[str, ...]) -> dict[str, float]:
    """How long importing the app's entry script takes in a fresh interpreter, and within it
    each of ``modules`` (cumulative, as ``python -X importtime`` reports them: where a module was
    first imported, with everything it imported)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import workbench.app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    wanted = {"workbench.app", *modules}
    found: dict[str, float] = {}
    for line in done.stderr.splitlines():
        match = _IMPORT_LINE.match(line)
        # The first line of each: litellm's own shutdown imports it again, briefly, at exit.
        if match is not None and match.group(2) in wanted and match.group(2) not in found:
            found[match.group(2)] = round(int(match.group(1)) / 1e6, 2)
    return found
