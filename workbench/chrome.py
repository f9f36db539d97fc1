"""What every page shares: its header (title, breadcrumb, description) and the sidebar (who is
signed in, the workspace, its credits refreshed every few seconds, sign out)."""

from __future__ import annotations

import streamlit as st

from workbench.page_registry import PageSpec
from workbench.services import Services
from workbench.session import WORKSPACE_KEY, SignedIn, sign_out

FLASH_KEY = "flash"


def flash(message: str) -> None:
    """A toast that survives the ``st.rerun`` a mutation usually ends with."""
    st.session_state[FLASH_KEY] = message


def page_header(page: PageSpec) -> None:
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.toast(message, icon=":material/check_circle:")
    st.caption(page.breadcrumb)
    st.title(page.title)
    st.caption(page.description)


def sidebar(svc: Services, who: SignedIn) -> None:
    with st.sidebar:
        st.markdown(f"**{who.user.display_name or who.user.username}** · {who.membership.role}")
        if len(who.workspaces) > 1:
            names = {w.id: w.name for w in who.workspaces}
            chosen = st.selectbox(
                "Workspace",
                list(names),
                index=list(names).index(who.workspace.id),
                format_func=names.__getitem__,
            )
            if chosen != who.workspace.id:
                st.session_state[WORKSPACE_KEY] = chosen
                st.rerun()
        else:
            st.caption(f"Workspace: {who.workspace.name}")
        balance_panel(svc, who.workspace.account_id)
        # A callback, not `if st.button(...): st.rerun()`: the sign-out happens before the next
        # run, which then ends normally, so Streamlit drops the balance fragment with it.
        st.button(
            "Sign out", icon=":material/logout:", key="sign_out", on_click=sign_out, args=(svc,)
        )


def balance_panel(svc: Services, account_id: int) -> None:
    """Never cached: re-read from the ledger every few seconds, so credits granted elsewhere show
    up without a click."""

    @st.fragment(run_every=svc.config.balance_refresh_s)
    def _balance() -> None:
        balance = svc.ledger.balance(account_id)
        st.metric("Credits available", f"{balance.available:,}")
        if balance.held:
            st.caption(f"{balance.held:,} held for calls in progress")

    _balance()
