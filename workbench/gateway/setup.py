"""Building the gateway from configuration: catalogue, keys, providers, timing and limits."""

from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
import time
from collections.abc import Callable

from ledger.ratelimits import RateLimits
from ledger.service import Ledger
from workbench.config import Settings, settings
from workbench.gateway import catalogue as model_catalogue
from workbench.gateway import keys as provider_keys
from workbench.gateway.catalogue import Catalogue
from workbench.gateway.facade import Gateway, Timing
from workbench.gateway.providers.base import Provider
from workbench.gateway.providers.demo import DemoProvider
from workbench.gateway.providers.lazy import LazyProvider
from workbench.images.store import ImageStore
from workbench.observability import logs

# Imported on first use, never at start-up: litellm is seconds of imports (providers/lazy.py).
LITELLM_PROVIDER = "workbench.gateway.providers.litellm_provider"
log = logging.getLogger(__name__)


def load_catalogue(config: Settings) -> Catalogue:
    catalogue = model_catalogue.load(config.model_catalogue)
    return dataclasses.replace(
        catalogue,
        default_chat=config.default_chat_model or catalogue.default_chat,
        default_image=config.default_image_model or catalogue.default_image,
    )


def rate_limits(config: Settings, timing: Timing) -> RateLimits | None:
    per_minute = config.rate_limit_per_minute or None
    concurrent = config.rate_limit_concurrent or None
    if per_minute is None and concurrent is None:
        return None
    return RateLimits(per_minute, concurrent, in_flight_window=timing.deadline)


def build_gateway(
    ledger: Ledger,
    config: Settings | None = None,
    *,
    monotonic: Callable[[], float] = time.monotonic,
) -> Gateway:
    """The gateway for ``config``: the allowlist from its file, with the database's model and
    feature switches read through a cache of at most 5 s on ``monotonic`` (injectable, so tests
    move a clock instead of sleeping)."""
    config = config or settings()
    provider_keys.install_log_redaction()
    catalogue = load_catalogue(config)
    keys = provider_keys.load(config, catalogue)
    timing = Timing(config.provider_timeout_s, config.provider_max_retries)
    providers: dict[str, Provider] = {
        "demo": DemoProvider(config.demo_stream_delay_s),
        "litellm": LazyProvider(_litellm_provider),
    }
    return Gateway(
        ledger,
        catalogue,
        keys,
        providers,
        timing=timing,
        limits=rate_limits(config, timing),
        images=ImageStore(config.image_dir),
        monotonic=monotonic,
    )


def _litellm_provider() -> Provider:
    provider: Provider = importlib.import_module(LITELLM_PROVIDER).LitellmProvider()
    return provider


def import_litellm_in_background() -> threading.Thread:
    """Import litellm on a daemon thread, so the server answers its health check first and the
    first chat turn finds it loaded. Nothing waits for the thread; an import that fails is logged
    here and raised again by the first call that needs the provider."""
    thread = threading.Thread(target=_import_litellm, name="import-litellm", daemon=True)
    thread.start()
    return thread


def _import_litellm() -> None:
    started = time.perf_counter()
    try:
        importlib.import_module(LITELLM_PROVIDER)
    except Exception:
        log.exception("importing litellm failed: calls to real providers will fail")
        return
    logs.adopt_litellm_loggers()
    log.debug("litellm imported in the background in %.2f s", time.perf_counter() - started)
