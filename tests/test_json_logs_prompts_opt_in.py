"""``WORKBENCH_LOG_PROMPTS=true`` (a debugging setting) puts prompts and replies in the log.

The same chat turn and image call as ``test_json_logs_request_id`` (whose server, with the
default, never shows them) on a real app started with the setting: the prompt is in the provider
call's "started" line and the reply in its "ended" line, both under the call's request id.
"""

from __future__ import annotations

import sqlalchemy as sa

from tests.browser_harness import AppServer, app_fixture
from tests.observability_harness import (
    app_database,
    generate_image,
    hold_ids_after,
    last_hold_id,
    member_socket,
    send_chat,
    wait_for_line,
)
from workbench.db.schema import messages

app = app_fixture(stream_delay_s=0.0, extra_env={"WORKBENCH_LOG_PROMPTS": "true"})


def test_the_prompt_and_the_reply_are_logged_when_asked(app: AppServer) -> None:
    typed = "Plan the Kilimanjaro-19 offsite for the finance team"
    with app_database(app) as database:
        first_new = last_hold_id(database)
        with member_socket(app) as socket:
            send_chat(socket, typed)
        [hold_id] = hold_ids_after(database, first_new)
        with database.connect() as conn:
            reply = conn.execute(
                sa.select(messages.c.content).where(messages.c.hold_id == hold_id)
            ).scalar_one()

    lines = wait_for_line(app, lambda line: line.get("hold_id") == hold_id and "reply" in line)
    [started] = [
        line
        for line in lines
        if line.get("hold_id") == hold_id
        and str(line["message"]).startswith("provider call started")
    ]
    [ended] = [line for line in lines if line.get("hold_id") == hold_id and "reply" in line]
    assert started["prompt"][-1] == {"role": "user", "text": typed}
    assert ended["reply"] == reply
    assert started["request_id"] == ended["request_id"]


def test_an_image_prompt_is_logged_when_asked(app: AppServer) -> None:
    prompt = "A watercolour of the Ngorongoro-23 crater"
    with member_socket(app) as socket:
        generate_image(socket, prompt)
    lines = wait_for_line(app, lambda line: line.get("prompt") == prompt)
    assert [line["logger"] for line in lines if line.get("prompt") == prompt] == [
        "workbench.gateway"
    ]
