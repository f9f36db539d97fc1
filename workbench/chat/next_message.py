"""The caption above the message box: what the next message will hold, and when the workspace
cannot pay for it, that it cannot and where to get credits, before anything is typed."""

from __future__ import annotations

import streamlit as st

from ledger.errors import LedgerError
from workbench.bootstrap import Services
from workbench.chat.conversations import Message
from workbench.chat.submission import as_messages
from workbench.gateway.errors import GatewayError
from workbench.ui.chrome import link_to_my_credits, show_estimate_problem
from workbench.ui.messages import credits


def next_message_caption(
    svc: Services, account_id: int, history: list[Message], model: str, system: str | None
) -> None:
    try:
        estimate = svc.gateway.estimate_chat(as_messages(history, "…"), model=model, system=system)
    except (LedgerError, GatewayError) as error:
        show_estimate_problem(error)
        return
    available = svc.ledger.balance(account_id).available
    if available < estimate.credits:
        st.caption(
            f"The next message needs about {credits(estimate.credits)}; this workspace has "
            f"{credits(available)} available, so it would not be sent."
        )
        link_to_my_credits()
        return
    st.caption(f"Next message: about {credits(estimate.credits)}, held while it is answered.")
