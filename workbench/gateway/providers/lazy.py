"""A provider built the first time a call needs it.

litellm (and the OpenAI SDK under it) takes two to three seconds to import: paid at start-up, it
kept the server from answering its health check for that long. The gateway holds this stand-in
instead, and the app's lifespan imports litellm on a background thread once the services are
built (``workbench.gateway.setup.import_litellm_in_background``), so the first chat turn rarely
waits either. Python's import lock makes a call that needs litellm mid-import wait for that one
import rather than start a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator

from workbench.gateway.providers.base import ChatCall, ChatReport, ImageBatch, ImageCall, Provider


class LazyProvider:
    def __init__(self, build: Callable[[], Provider]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._built: Provider | None = None

    def provider(self) -> Provider:
        """The real provider, built by the first caller (the others wait for it). A build that
        fails (an import error) is tried again, and fails again, on the next call."""
        built = self._built
        if built is not None:
            return built
        with self._lock:
            if self._built is None:
                self._built = self._build()
            return self._built

    def execute(self, call: ChatCall, report: ChatReport) -> Generator[str, None, None]:
        # A generator, like the providers': a failed build surfaces while the gateway iterates
        # the stream, where every failure settles the hold.
        yield from self.provider().execute(call, report)

    def generate_images(self, call: ImageCall) -> ImageBatch:
        return self.provider().generate_images(call)
