"""The chat page's plain logic: one submission at a time, each with its own idempotency key,
sent to the gateway (:func:`send`), and the reply saved to the conversation however its stream
ends (:func:`stream_and_save`). No Streamlit here: the page renders what these return."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Generator, MutableMapping
from dataclasses import dataclass, replace
from typing import Any

from ledger.errors import LedgerError
from ledger.statuses import UsageStatus
from workbench.chat.attachments import Attachment, user_content
from workbench.chat.conversations import Conversations, Message
from workbench.gateway.caller import Caller
from workbench.gateway.chat_turn import ChatTurn
from workbench.gateway.errors import GatewayError
from workbench.gateway.facade import Gateway
from workbench.gateway.results import ChatResult


@dataclass(frozen=True)
class Submission:
    """What the person sent, kept in session state until it is answered, so a rerun in between
    repeats the same request (same key: never charged twice) instead of a new one."""

    key: str
    text: str
    conversation_id: int | None
    model: str | None
    system: str | None
    # Messages in the conversation when it was sent: a rerun rebuilds exactly the same request
    # (its fingerprint is part of the key's identity), not one including its own saved turn.
    history_len: int
    # The workspace it was sent in, and is paid from: it is answered (or replayed) only there,
    # never with another workspace's account (the key would not match: "already sent with
    # different settings"). None: not tied to one (made outside the page).
    workspace_id: int | None = None
    # Files sent with the text (pictures, text files), already checked and read.
    attachments: tuple[Attachment, ...] = ()
    # Edit-and-resend and regenerate: the message this one takes the place of. Once the turn
    # has started (held, sent), that message and every later one are removed; a refused turn
    # removes nothing.
    replaces: int | None = None


def new_submission(
    text: str,
    conversation_id: int | None,
    model: str | None,
    system: str | None,
    history_len: int,
    workspace_id: int | None = None,
    *,
    attachments: tuple[Attachment, ...] = (),
    replaces: int | None = None,
) -> Submission:
    return Submission(
        f"chat-{uuid.uuid4().hex}",
        text,
        conversation_id,
        model,
        system or None,
        history_len,
        workspace_id,
        attachments,
        replaces,
    )


# Session state: the pending submission of the workspace on screen, and those of the others.
PENDING_KEY = "submission"
PARKED_KEY = "submissions_elsewhere"
# Session state: an event set once the reply a run streams is saved, however that run ends.
SAVED_KEY = "reply_saved"


def streaming(state: MutableMapping[Any, Any]) -> threading.Event:
    """Note that this run is streaming a reply; set the event once the reply is saved."""
    saved = threading.Event()
    state[SAVED_KEY] = saved
    return saved


def earlier_reply_saved(state: MutableMapping[Any, Any], timeout_s: float) -> bool:
    """Wait (up to ``timeout_s``) for the reply an earlier run of this session was streaming to
    be saved. A click while a reply streams (Stop, a message, another workspace) starts the
    next run at once, while the interrupted run is still settling and saving its reply in its
    own thread (Streamlit's fast reruns): read before then, the conversation would miss the
    stopped reply, and its key would still be "being answered"."""
    saved = state.get(SAVED_KEY)
    return not isinstance(saved, threading.Event) or saved.wait(timeout_s)


def pending_in(state: MutableMapping[Any, Any], workspace_id: int) -> Submission | None:
    """The submission waiting to be answered in ``workspace_id``. One sent from another
    workspace (the person switched while it streamed) is parked until they are back there,
    where it is replayed under its own key; the one parked for this workspace comes back."""
    parked: dict[int, Submission] = state.setdefault(PARKED_KEY, {})
    pending = state.get(PENDING_KEY)
    if isinstance(pending, Submission) and pending.workspace_id not in (None, workspace_id):
        assert pending.workspace_id is not None
        parked[pending.workspace_id] = pending
        del state[PENDING_KEY]
        pending = None
    if pending is None and workspace_id in parked:
        pending = state[PENDING_KEY] = parked.pop(workspace_id)
    return pending if isinstance(pending, Submission) else None


def history_at_submission(store: Conversations, user_id: int, sub: Submission) -> list[Message]:
    if sub.conversation_id is None:
        return []
    return store.messages(user_id, sub.conversation_id)[: sub.history_len]


def as_messages(
    history: list[Message], text: str, attachments: tuple[Attachment, ...] = ()
) -> list[dict[str, object]]:
    """The conversation as the gateway takes it: earlier files go with their messages again
    (the model sees the whole conversation on every turn, and is paid for it)."""
    turns: list[dict[str, object]] = [
        {"role": m.role, "content": user_content(m.content, m.attachments)}
        if m.role == "user"
        else {"role": m.role, "content": m.content}
        for m in history
        if m.content or m.attachments
    ]
    return [*turns, {"role": "user", "content": user_content(text, attachments)}]


@dataclass(frozen=True)
class Started:
    """The turn is under way: stream it. ``submission`` now names its conversation (created for
    it if it was the first message), so a rerun before it is answered continues the same one."""

    turn: ChatTurn
    submission: Submission
    # When it was sent: a reply's caption says how long it took to the last word.
    sent_at: float = 0.0

    @property
    def conversation_id(self) -> int:
        assert self.submission.conversation_id is not None
        return self.submission.conversation_id


@dataclass(frozen=True)
class Refused:
    """Nothing was sent or charged (no credits, a cap, bad input...): say why, keep the text."""

    error: LedgerError | GatewayError


@dataclass(frozen=True)
class AlreadyAnswered:
    """An earlier run of the page answered (or gave up on) this submission: nothing is sent or
    charged again."""

    result: ChatResult

    @property
    def shown(self) -> bool:
        """Whether the reply is already in the conversation (only an error needs saying)."""
        return self.result.status in (UsageStatus.OK, UsageStatus.CANCELLED)


def send(
    gateway: Gateway, store: Conversations, caller: Caller, submission: Submission
) -> Started | Refused | AlreadyAnswered:
    """Start the submission's turn (reserve, then call) and record the person's message."""
    started = time.monotonic()
    try:
        past = history_at_submission(store, caller.user_id, submission)
        turn = gateway.chat(
            caller,
            as_messages(past, submission.text, submission.attachments),
            key=submission.key,
            model=submission.model,
            system=submission.system,
        )
    except (LedgerError, GatewayError) as error:
        return Refused(error)
    if turn.result is not None and turn.result.replayed:
        return AlreadyAnswered(turn.result)
    try:
        conversation_id = _record_question(store, caller.user_id, caller.workspace_id, submission)
    except (LedgerError, GatewayError) as error:  # e.g. the conversation was deleted meanwhile
        turn.close()  # never sent: the hold is given back now, not when it expires
        return Refused(error)
    except BaseException:
        turn.close()
        raise
    return Started(turn, replace(submission, conversation_id=conversation_id), started)


def _record_question(
    store: Conversations, user_id: int, workspace_id: int, submission: Submission
) -> int:
    """Save the person's message (starting its conversation, or replacing the messages it
    takes the place of); the conversation's id."""
    conversation_id = submission.conversation_id
    if conversation_id is None:
        conversation_id = store.create(
            user_id,
            workspace_id,
            first_title(submission.text, submission.attachments),
            submission.model,
            submission.system,
        ).id
    elif submission.replaces is not None:
        store.truncate_from(user_id, conversation_id, submission.replaces)
    store.add_message(
        user_id, conversation_id, "user", submission.text, attachments=submission.attachments
    )
    return conversation_id


def first_title(text: str, attachments: tuple[Attachment, ...]) -> str:
    """A new conversation's title: its first message, or the files' names when only files were
    sent (a title cannot be blank)."""
    return text if text.strip() else ", ".join(a.name for a in attachments)


def stream_and_save(
    turn: ChatTurn,
    store: Conversations,
    user_id: int,
    conversation_id: int,
    sent_at: float | None = None,
) -> Generator[str, None, None]:
    """Yield the reply; in ``finally`` (no Streamlit calls: a rerun may be unwinding) save what
    arrived, with its status and cost, to the conversation."""
    pieces: list[str] = []
    stream = iter(turn)
    try:
        for piece in stream:
            pieces.append(piece)
            yield piece
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # settles the turn now (stop pressed), before its result is read
        result = turn.result
        text = "".join(pieces) or (result.text if result else "")
        if result is not None and not result.replayed:
            store.add_message(
                user_id,
                conversation_id,
                "assistant",
                text,
                model=result.model.id,
                hold_id=result.hold_id,
                status=result.status,
                credits=result.credits,
                input_tokens=result.usage.input_tokens,
                output_tokens=result.usage.output_tokens,
                duration_ms=None if sent_at is None else _ms_since(sent_at),
            )


def _ms_since(start: float) -> int:
    return round((time.monotonic() - start) * 1000)
