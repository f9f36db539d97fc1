"""The workbench's entry point: ``streamlit run workbench/app.py``.

An ``st.App`` so the same server can carry extra HTTP routes (the Stripe webhook joins it in a
later issue). The script every session runs is ``ui/router.py``; the pages are in the
top-level ``pages/`` folder, deliberately not beside it.

Logging is set up as the server loads this module, before the services are built: every line
from then on (Streamlit's own included) goes out in the configured format
(``workbench.observability.logs``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import streamlit as st
from starlette.middleware import Middleware

from workbench import bootstrap
from workbench.config import settings
from workbench.gateway.setup import import_litellm_in_background
from workbench.observability import logs
from workbench.web import headers
from workbench.web import routes as web_routes
from workbench.web.sign_in_gate import SignInGate

logs.configure(settings())


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    # Build the process's services before the first request: migrations run and the first
    # admin's password is printed now, and every session and route then shares them.
    bootstrap.services()
    # litellm is seconds of imports: loaded after the server is up, not before (gateway/setup.py).
    import_litellm_in_background()
    try:
        yield
    finally:
        bootstrap.shutdown()


app = st.App(
    str(Path(__file__).parent / "ui" / "router.py"),
    lifespan=lifespan,
    routes=web_routes.routes(),
    # The headers first, so even the gate's redirects carry them.
    middleware=[*headers.middleware(), Middleware(SignInGate)],
)
