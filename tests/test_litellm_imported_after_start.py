"""The server starts without litellm (seconds of imports) and loads it on a background thread once
the services are built; the gateway's stand-in builds the real provider once, for whoever needs it
first, and a build that fails is reported by the call that needed it."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Generator

import pytest

from tests.conftest import ROOT
from workbench.gateway.providers.base import ChatCall, ChatReport, ImageBatch, ImageCall, Provider
from workbench.gateway.providers.lazy import LazyProvider

HEAVY = ("litellm", "openai", "anthropic")


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(','.join(n for n in {HEAVY!r} if n in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return [name for name in last.split(",") if name]


def test_the_app_module_imports_no_provider_sdk() -> None:
    assert loaded_after("import workbench.app") == []


def test_the_background_import_loads_litellm() -> None:
    code = (
        "import workbench.app\n"
        "from workbench.gateway.setup import import_litellm_in_background\n"
        "import_litellm_in_background().join()"
    )
    assert "litellm" in loaded_after(code)


class Recording:
    def __init__(self) -> None:
        self.calls = 0

    def execute(self, call: ChatCall, report: ChatReport) -> Generator[str, None, None]:
        self.calls += 1
        yield "hello"

    def generate_images(self, call: ImageCall) -> ImageBatch:
        raise AssertionError("not called here")


def test_the_provider_is_built_once_for_concurrent_first_calls() -> None:
    builds: list[Recording] = []
    gate = threading.Barrier(8)

    def build() -> Provider:
        builds.append(Recording())
        return builds[-1]

    lazy = LazyProvider(build)
    got: list[Provider] = []

    def first_call() -> None:
        gate.wait()
        got.append(lazy.provider())

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and all(p is builds[0] for p in got)


def test_a_failed_build_is_raised_by_the_call_and_tried_again() -> None:
    attempts: list[int] = []
    recording = Recording()

    def build() -> Provider:
        attempts.append(1)
        if len(attempts) == 1:
            raise ImportError("no module named litellm (as an install without it would say)")
        return recording

    lazy = LazyProvider(build)
    stream = lazy.execute(None, ChatReport())  # type: ignore[arg-type]
    with pytest.raises(ImportError, match="no module named litellm"):
        next(stream)  # raised while the stream is read, where the gateway settles failures
    assert list(lazy.execute(None, ChatReport())) == ["hello"]  # type: ignore[arg-type]
    assert len(attempts) == 2 and recording.calls == 1
