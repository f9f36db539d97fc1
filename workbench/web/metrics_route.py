"""``GET /metrics``: the workbench's Prometheus metrics, on the app's own server.

Each scrape builds a fresh registry: with ``PROMETHEUS_MULTIPROC_DIR`` set, prometheus_client's
``MultiProcessCollector`` sums the values every process of this replica wrote there; otherwise
it is this process's own metrics (the default registry). The open holds are read from the
database at each scrape (``workbench.observability.open_holds``), so they are every replica's.
Streamlit serves a replica from one process: each replica is scraped on its own, and the
counters are summed across replicas by Prometheus.

Who may scrape: a loopback client (the scraper beside the app, or a sidecar), unless its request
came through a proxy (it carries ``X-Forwarded-For``, ``X-Real-IP`` or ``Forwarded``: behind a
reverse proxy on the same machine every client looks like loopback); anyone else must send
``Authorization: Bearer <WORKBENCH_METRICS_TOKEN>``. Without a token configured they get 403;
with one, a missing or wrong token gets 401. The sign-in gate leaves this path alone (it is not
a page), and Streamlit's own ``/_stcore/metrics`` stays hidden (``internal_routes``).
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Awaitable, Callable, Iterator

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from workbench import bootstrap
from workbench.observability.open_holds import OpenHolds

METRICS_PATH = "/metrics"
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
PROXY_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")

EngineSource = Callable[[], Engine]
TokenSource = Callable[[], SecretStr | None]


def _shared_engine() -> Engine:
    return bootstrap.services().ledger.engine


def _configured_token() -> SecretStr | None:
    return bootstrap.services().config.metrics_token


class _ThisProcess(Collector):
    """The default registry's metrics (this process's), inside a registry built per scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def registry(engine: EngineSource) -> CollectorRegistry:
    """What one scrape reports: the call metrics (every process's, in multiprocess mode) and the
    open holds read from the database now."""
    fresh = CollectorRegistry()
    if os.environ.get(MULTIPROCESS_DIR):
        MultiProcessCollector(fresh)  # type: ignore[no-untyped-call]  # unannotated upstream
    else:
        fresh.register(_ThisProcess())
    fresh.register(OpenHolds(engine))
    return fresh


def is_loopback(request: HTTPConnection) -> bool:
    """The client is this machine and did not come through a proxy."""
    if request.client is None or any(name in request.headers for name in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.client.host)
    except ValueError:  # not an IP address (a test client's name, a Unix socket)
        return False
    # Streamlit's default address is dual-stack (``::``): an IPv4 client then arrives as
    # ``::ffff:127.0.0.1``, which ``is_loopback`` alone does not count.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def refusal(request: HTTPConnection, token: SecretStr | None) -> Response | None:
    """Why this client may not scrape, as the answer to send; None when it may."""
    if is_loopback(request):
        return None
    if token is None or not token.get_secret_value():
        return PlainTextResponse("Forbidden", status_code=403)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() == "bearer" and secrets.compare_digest(given.strip().encode(), expected):
        return None
    return PlainTextResponse(
        "Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )


def _scrape(request: Request, engine: EngineSource, token: TokenSource) -> Response:
    refused = refusal(request, token())
    if refused is not None:
        return refused
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(
        encode(registry(engine)),
        media_type=content_type,
        headers={"Cache-Control": "no-store"},
    )


def endpoint(
    engine: EngineSource = _shared_engine, token: TokenSource = _configured_token
) -> Callable[[Request], Awaitable[Response]]:
    """The route's handler. The database and the token are looked up at each scrape (the app's
    shared services by default); the work runs in the thread pool, off the event loop."""

    async def metrics(request: Request) -> Response:
        return await run_in_threadpool(_scrape, request, engine, token)

    return metrics


def routes(
    engine: EngineSource = _shared_engine, token: TokenSource = _configured_token
) -> list[BaseRoute]:
    return [Route(METRICS_PATH, endpoint(engine, token), methods=["GET"])]
