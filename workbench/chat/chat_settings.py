"""The chat page's settings control above the conversation: the model (each with its description,
context size and price) and the system prompt, remembered per conversation.

Opening a conversation loads its model and system prompt into the widgets; changing either while
a conversation is open saves them on it (``Conversations.set_settings``). A new conversation
starts from what the widgets hold and stores it when its first message creates it.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from workbench.chat.conversations import Conversation, Conversations
from workbench.chat.model_choices import ModelChoice
from workbench.ui.messages import escape_markdown

MODEL_KEY = "chat_model"
SYSTEM_KEY = "system_prompt"
# Which conversation the widgets were last loaded from ("new" for none).
_LOADED_KEY = "chat_settings_of"


@dataclass(frozen=True)
class ChatSettings:
    model: str
    system: str | None
    choice: ModelChoice


def chat_settings(
    store: Conversations,
    user_id: int,
    conversation: Conversation | None,
    choices: list[ModelChoice],
) -> ChatSettings:
    by_id = {c.id: c for c in choices}
    _load(conversation, by_id)
    chosen = by_id.get(st.session_state.get(MODEL_KEY, ""), choices[0])
    # Names and descriptions come from the model catalogue (a file operators edit): escaped
    # all the same, like anything not written in the code.
    label = escape_markdown(chosen.name) + (
        " · system prompt" if st.session_state.get(SYSTEM_KEY) else ""
    )
    on_change = _save if conversation is not None else None
    args = (store, user_id, conversation.id) if conversation is not None else None
    with st.popover(
        label, icon=":material/tune:", key="chat_settings", help="Model and system prompt"
    ):
        model = st.radio(
            "Model",
            list(by_id),
            format_func=lambda m: escape_markdown(by_id[m].name),
            captions=[escape_markdown(c.summary) for c in choices],
            key=MODEL_KEY,
            help="Only models on the workbench's allowlist with a configured provider are offered.",
            on_change=on_change,
            args=args,
        )
        system = st.text_area(
            "System prompt (optional)",
            key=SYSTEM_KEY,
            height=90,
            placeholder="e.g. Answer briefly, in British English.",
            on_change=on_change,
            args=args,
        )
        st.caption(
            "Kept with this conversation."
            if conversation is not None
            else "Kept with the conversation your next message starts."
        )
    model = model if model in by_id else choices[0].id
    return ChatSettings(model, system.strip() or None, by_id[model])


def _load(conversation: Conversation | None, by_id: dict[str, ModelChoice]) -> None:
    """On opening another conversation, show its settings (a model no longer offered leaves
    the picker as it was; the gateway would fall back anyway, and say so)."""
    loaded = conversation.id if conversation is not None else "new"
    if st.session_state.get(_LOADED_KEY) == loaded:
        return
    st.session_state[_LOADED_KEY] = loaded
    if conversation is None:
        return
    if conversation.model in by_id:
        st.session_state[MODEL_KEY] = conversation.model
    st.session_state[SYSTEM_KEY] = conversation.system_prompt or ""


def _save(store: Conversations, user_id: int, conversation_id: int) -> None:
    system = str(st.session_state.get(SYSTEM_KEY) or "").strip() or None
    store.set_settings(
        user_id, conversation_id, model=st.session_state.get(MODEL_KEY), system_prompt=system
    )
