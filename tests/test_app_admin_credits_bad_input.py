"""Credit admin, bad input on every form: one clear sentence in ``st.error`` (what was typed is
shown as text, its markdown escaped), no confirmation dialog, and nothing written: balance,
journal, audit, members and threshold exactly as before."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.amounts import credits
from tests.admin_credits_harness import admin_page, errors, state, submit
from tests.app_harness import AppEnv, all_text, app_env
from workbench.admin.confirmations import PENDING_KEY

RANGE = "Amount must be between 0.000001 and 1,000,000,000 credits, got {}."
NOT_AN_AMOUNT = (
    "{!r} is not an amount of credits: write a number such as 5, 0.25 or 1,000.5 "
    "(at most 6 decimals)."
)
NO_REASON = "A reason is required (say why, for the audit trail)."
YESTERDAY = date.today() - timedelta(days=1)

Fields = list[tuple[str, str, Any]]


def top_up(amount: str, reason: str = "Invoice 7", **more: Any) -> Fields:
    fields: Fields = [
        ("text_input", "top_up_amount", amount),
        ("text_input", "top_up_reason", reason),
    ]
    if "expires" in more:
        fields.append(("date_input", "top_up_expiry", more["expires"]))
    return fields


CASES = [
    # who, the button, what is typed, the sentence (None: any one sentence)
    pytest.param("operator", "Review top-up", top_up("0"), RANGE.format("0"), id="zero"),
    pytest.param("operator", "Review top-up", top_up("-5"), RANGE.format("-5"), id="negative"),
    pytest.param(
        "operator",
        "Review top-up",
        top_up("99999999999999"),
        RANGE.format("99,999,999,999,999"),
        id="huge",
    ),
    pytest.param(
        "operator", "Review top-up", top_up("1e30"), NOT_AN_AMOUNT.format("1e30"), id="exponent"
    ),
    pytest.param(
        "operator", "Review top-up", top_up("ten"), NOT_AN_AMOUNT.format("ten"), id="words"
    ),
    pytest.param(
        "operator",
        "Review top-up",
        top_up("[x](http://e.test)"),
        NOT_AN_AMOUNT.format("[x](http://e.test)"),
        id="markdown",
    ),
    pytest.param(
        "operator",
        "Review top-up",
        top_up(""),
        "Enter an amount of credits, such as 5 or 0.25.",
        id="blank",
    ),
    pytest.param(
        "operator",
        "Review top-up",
        top_up("0.0000001"),
        NOT_AN_AMOUNT.format("0.0000001"),
        id="too many decimals",
    ),
    pytest.param("operator", "Review top-up", top_up("5", "  "), NO_REASON, id="no reason"),
    pytest.param(
        "operator",
        "Review top-up",
        top_up("5", expires=YESTERDAY),
        f"The expiry date {YESTERDAY.isoformat()} is already in the past.",
        id="past expiry",
    ),
    pytest.param(
        "operator",
        "Review take-back",
        [("text_input", "take_back_amount", "lots"), ("text_input", "take_back_reason", "x")],
        NOT_AN_AMOUNT.format("lots"),
        id="take back words",
    ),
    pytest.param(
        "operator",
        "Review take-back",
        [("text_input", "take_back_amount", "1")],
        NO_REASON,
        id="take back no reason",
    ),
    pytest.param("operator", "Review void", [], NO_REASON, id="void no reason"),
    pytest.param("admin", "Review release", [], NO_REASON, id="release no reason"),
    pytest.param(
        "admin",
        "Add member",
        [("text_input", "add_member_username", "nobody")],
        "No user named 'nobody'.",
        id="unknown user",
    ),
    pytest.param(
        "admin",
        "Add member",
        [("text_input", "add_member_username", "mia")],
        None,
        id="already a member",
    ),
    pytest.param(
        "admin",
        "Create member",
        [("text_input", "create_member_username", "no spaces")],
        "Username must be letters, digits, _ . @ or -; got 'no spaces'.",
        id="bad username",
    ),
    pytest.param(
        "admin",
        "Create member",
        [("text_input", "create_member_username", "mia")],
        "User 'mia' already exists.",
        id="taken username",
    ),
    pytest.param(
        "admin",
        "Change role",
        [("selectbox", "role_member", "admin"), ("selectbox", "role_value", "member")],
        "A workspace keeps at least one admin: make another first.",
        id="last admin",
    ),
    pytest.param(
        "admin",
        "Set cap",
        [("text_input", "cap_value", "-5")],
        "Monthly cap must be between 0 and 1,000,000,000 credits, got -5.",
        id="negative cap",
    ),
    pytest.param(
        "admin",
        "Set cap",
        [("text_input", "cap_value", "none")],
        NOT_AN_AMOUNT.format("none"),
        id="cap words",
    ),
    pytest.param("admin", "Deactivate", [], NO_REASON, id="deactivate no reason"),
    pytest.param(
        "admin",
        "Deactivate",
        [("selectbox", "active_member", "admin"), ("text_input", "active_reason", "x")],
        "You cannot deactivate or reactivate yourself.",
        id="deactivate yourself",
    ),
    pytest.param(
        "admin",
        "Save threshold",
        [("text_input", "threshold", "1e30")],
        NOT_AN_AMOUNT.format("1e30"),
        id="huge threshold",
    ),
    pytest.param(
        "admin",
        "Save threshold",
        [("text_input", "threshold", "-1")],
        "Low-balance threshold must be between 0 and 1,000,000,000 credits, got -1.",
        id="negative threshold",
    ),
]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppEnv]:
    with app_env(tmp_path, monkeypatch, micros=credits(1_000)) as opened:
        opened.svc.ledger.reserve(
            opened.account_id,
            user_id=opened.member.id,
            feature_key="ai_text_chat",
            model="demo/chat",
            amount=credits(5),
            key="h1",
        )
        yield opened


@pytest.mark.parametrize(("who", "label", "fields", "expected"), CASES)
def test_bad_input_is_one_sentence_and_writes_nothing(
    env: AppEnv, who: str, label: str, fields: Fields, expected: str | None
) -> None:
    people = {"operator": env.operator, "admin": env.admin}
    at = admin_page(env, people[who])
    before = state(env)
    for kind, key, value in fields:
        chosen = env.admin.id if (kind, value) == ("selectbox", "admin") else value
        getattr(at, kind)(key=key).set_value(chosen)
    at = submit(at, label)
    [sentence] = errors(at)
    if expected is not None:
        assert sentence == expected
    assert (sentence[0].isupper() or sentence[0] == "'") and sentence.endswith(".")
    assert "\n" not in sentence
    # Shown through markdown with what was typed escaped: no link, no formatting.
    [raw] = [str(e.value) for e in at.error]
    assert re.search(r"(?<!\\)[\[\]*_`<>]", raw) is None
    assert "Traceback" not in all_text(at)
    assert PENDING_KEY not in at.session_state
    assert state(env) == before


def test_taking_back_more_than_is_available_is_refused_in_the_dialog(env: AppEnv) -> None:
    at = admin_page(env, env.operator)
    at.text_input(key="take_back_amount").set_value("996")  # 995 available: 5 are held
    at.text_input(key="take_back_reason").set_value("Refund")
    at = submit(at, "Review take-back")
    before = state(env)
    at = submit(at, "Confirm")
    [sentence] = errors(at)
    assert "995" in sentence and sentence.endswith(".")
    assert state(env) == before
    assert PENDING_KEY in at.session_state  # still open, with its key: Cancel or fix the amount
