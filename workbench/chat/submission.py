"""The chat page's plain logic: one submission at a time, each with its own idempotency key,
sent to the gateway (:func:`send`), and the reply saved to the conversation however its stream
ends (:func:`stream_and_save`). No Streamlit here: the page renders what these return."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

from ledger.errors import LedgerError
from ledger.statuses import UsageStatus
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


def new_submission(
    text: str,
    conversation_id: int | None,
    model: str | None,
    system: str | None,
    history_len: int,
) -> Submission:
    return Submission(
        f"chat-{uuid.uuid4().hex}", text, conversation_id, model, system or None, history_len
    )


def history_at_submission(store: Conversations, user_id: int, sub: Submission) -> list[Message]:
    if sub.conversation_id is None:
        return []
    return store.messages(user_id, sub.conversation_id)[: sub.history_len]


def as_messages(history: list[Message], text: str) -> list[dict[str, str]]:
    turns = [{"role": m.role, "content": m.content} for m in history if m.content]
    return [*turns, {"role": "user", "content": text}]


@dataclass(frozen=True)
class Started:
    """The turn is under way: stream it. ``submission`` now names its conversation (created for
    it if it was the first message), so a rerun before it is answered continues the same one."""

    turn: ChatTurn
    submission: Submission

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
    past = history_at_submission(store, caller.user_id, submission)
    try:
        turn = gateway.chat(
            caller,
            as_messages(past, submission.text),
            key=submission.key,
            model=submission.model,
            system=submission.system,
        )
    except (LedgerError, GatewayError) as error:
        return Refused(error)
    if turn.result is not None and turn.result.replayed:
        return AlreadyAnswered(turn.result)
    conversation_id = submission.conversation_id
    if conversation_id is None:
        conversation_id = store.create(
            caller.user_id,
            caller.workspace_id,
            submission.text,
            submission.model,
            submission.system,
        ).id
    store.add_message(caller.user_id, conversation_id, "user", submission.text)
    return Started(turn, replace(submission, conversation_id=conversation_id))


def stream_and_save(
    turn: ChatTurn, store: Conversations, user_id: int, conversation_id: int
) -> Iterator[str]:
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
            )
