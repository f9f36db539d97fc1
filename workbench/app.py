"""The workbench's entry point: ``streamlit run workbench/app.py``.

An ``st.App`` so the same server can carry extra HTTP routes (the Stripe webhook joins it in a
later issue). The script every session runs is ``ui/router.py``; the pages are in the
top-level ``pages/`` folder, deliberately not beside it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import streamlit as st

from workbench.bootstrap import announce_first_admin, open_services
from workbench.config import settings


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    # Migrate and create the first admin at start-up, so the password is printed before anyone
    # opens the page (and migrations never race the first request).
    opened = open_services(settings())
    announce_first_admin(opened)
    opened.ledger.close()
    yield


app = st.App(str(Path(__file__).parent / "ui" / "router.py"), lifespan=lifespan)
