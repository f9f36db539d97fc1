"""The message box pinned at the bottom of the chat page, with files for models that take them.

Attached files are read and checked here, before anything is held: a file that is too big, of a
type chat does not take, or unreadable is refused with a sentence, and the typed text is kept to
copy. Nothing is sent or charged.
"""

from __future__ import annotations

import streamlit as st

from workbench.chat.attachments import Attachment, check_accepts, read_uploads
from workbench.chat.model_choices import ModelChoice
from workbench.gateway.errors import InvalidRequest
from workbench.ui.messages import escape_markdown

PROMPT_KEY = "chat_prompt"


def message_box(model: ModelChoice) -> tuple[str, tuple[Attachment, ...]] | None:
    """What the person sent this run, if anything: their text and the files, read."""
    # Any file, of any size, may be picked: a type or size limit in the browser drops the file
    # with a note on its chip and lets the text go alone, charged. Each file is checked here
    # instead (type, size, content), and a refusal stops the whole message, with a sentence.
    typed = st.chat_input(
        f"Message {model.name}",
        key=PROMPT_KEY,
        accept_file="multiple" if model.attachments else False,
    )
    if typed is None:
        return None
    if isinstance(typed, str):
        return (typed, ()) if typed.strip() else None
    text = typed.text or ""
    try:
        files = read_uploads(typed.files)
        check_accepts(model, files)
    except InvalidRequest as error:
        st.error(escape_markdown(str(error)))
        if text:
            st.caption("Your message was not sent; it is here to copy:")
            st.code(text, language=None, wrap_lines=True)
        return None
    if not text.strip() and not files:
        return None
    return text, files
