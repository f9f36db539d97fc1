"""``/metrics`` on the real app's server: chat turns and an image call driven over the websocket
as the browser drives them are each counted once, with their model and feature, their credits
equal to the journal's capture lines, and their latencies observed; the open holds are read from
the database; the text is valid Prometheus (and OpenMetrics) exposition; no label or line names
the person, their workspace or what they typed; the sign-in gate leaves the route alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)

from ledger.amounts import credits
from ledger.features import FEATURES
from ledger.schema import USAGE_STATUSES, holds
from ledger.service import Ledger
from tests.browser_harness import MEMBER, ROOT, AppServer, app_fixture
from tests.observability_harness import (
    Scrape,
    app_database,
    generate_image,
    hold_ids_after,
    journal_captured,
    last_hold_id,
    member_socket,
    scrape,
    send_chat,
    usage_rows,
    wait_for,
)
from workbench.gateway.catalogue import load as load_catalogue

app = app_fixture(stream_delay_s=0.0, extra_env={"WORKBENCH_RATE_LIMIT_PER_MINUTE": "0"})

CHAT = {"model": "demo/chat", "feature": "ai_text_chat"}
IMAGES = {"model": "demo/images", "feature": "ai_image_generation"}
TURNS = 3
CATALOGUE_IDS = {entry.id for entry in load_catalogue(ROOT / "data" / "models.toml").entries}
PROMPT = "Quarterly plan for the Zanzibar-7 launch"
IMAGE_PROMPT = "A lighthouse painted by Okonkwo-42"


@pytest.fixture
def database(app: AppServer) -> Iterator[sa.Engine]:
    with app_database(app) as engine:
        yield engine


def calls(seen: Scrape, status: str = "ok", **labels: str) -> float:
    return seen.value("workbench_calls_total", status=status, **labels)


def test_chat_turns_are_counted_once_each(app: AppServer, database: sa.Engine) -> None:
    before = scrape(app)
    first_new = last_hold_id(database)
    with member_socket(app) as socket:
        for n in range(TURNS):
            send_chat(socket, f"{PROMPT}, part {n}")
    after = wait_for(app, lambda s: calls(s, **CHAT) >= calls(before, **CHAT) + TURNS)

    made = hold_ids_after(database, first_new)
    rows = usage_rows(database, made)
    assert [row.status for row in rows] == ["ok"] * TURNS
    assert calls(after, **CHAT) - calls(before, **CHAT) == TURNS
    for status in ("error", "cancelled", "timeout", "refused"):
        assert calls(after, status, **CHAT) == calls(before, status, **CHAT)
    captured = journal_captured(database, made)
    assert captured > 0
    assert captured == sum(row.credits for row in rows)
    credits_metric = "workbench_credits_captured_micros_total"
    assert after.value(credits_metric, **CHAT) - before.value(credits_metric, **CHAT) == captured
    for histogram in ("workbench_call_latency_seconds", "workbench_time_to_first_token_seconds"):
        count = f"{histogram}_count"
        assert after.value(count, **CHAT) - before.value(count, **CHAT) == TURNS
        assert after.types[histogram] == "histogram"
        # Every observation is in the +Inf bucket, and the count says the same.
        inf = after.value(f"{histogram}_bucket", le="+Inf", **CHAT)
        assert inf == after.value(count, **CHAT)


def test_an_image_call_is_counted_with_its_feature(app: AppServer, database: sa.Engine) -> None:
    before = scrape(app)
    first_new = last_hold_id(database)
    with member_socket(app) as socket:
        generate_image(socket, IMAGE_PROMPT)
    after = wait_for(app, lambda s: calls(s, **IMAGES) > calls(before, **IMAGES))

    [hold_id] = hold_ids_after(database, first_new)
    [row] = usage_rows(database, [hold_id])
    assert (row.status, row.images) == ("ok", 1)
    assert calls(after, **IMAGES) - calls(before, **IMAGES) == 1
    captured = journal_captured(database, [hold_id])
    assert captured == row.credits > 0
    credits_metric = "workbench_credits_captured_micros_total"
    assert after.value(credits_metric, **IMAGES) - before.value(credits_metric, **IMAGES) == (
        captured
    )
    latency = "workbench_call_latency_seconds_count"
    assert after.value(latency, **IMAGES) - before.value(latency, **IMAGES) == 1


def test_open_holds_are_read_from_the_database(app: AppServer, database: sa.Engine) -> None:
    # Holds another process reserved (here, the test's own ledger on the app's database): a
    # counter in the app's memory could not know them.
    book = Ledger(database)
    demo = book.workspace("demo")
    member = book.user(MEMBER)
    held = [
        book.reserve(
            demo.account_id,
            user_id=member.id,
            feature_key="ai_text_chat",
            model="demo/chat",
            amount=credits(amount),
            key=f"metrics-open-{amount}",
        ).hold
        for amount in (2, 3)
    ]
    try:
        with database.connect() as conn:
            pending = conn.execute(
                sa.select(sa.func.count(), sa.func.sum(holds.c.amount)).where(
                    holds.c.status == "pending", holds.c.model == "demo/chat"
                )
            ).one()
        seen = scrape(app)
        assert seen.value("workbench_database_up") == 1
        assert seen.value("workbench_holds_open", **CHAT) == pending[0] >= 2
        assert seen.value("workbench_holds_open_micros", **CHAT) == pending[1]
    finally:
        for hold in held:
            book.release(hold.id, reason="test over", key=f"metrics-release-{hold.id}")
    with database.connect() as conn:
        left = conn.execute(
            sa.select(sa.func.count()).where(
                holds.c.status == "pending", holds.c.model == "demo/chat"
            )
        ).scalar()
    assert scrape(app).value("workbench_holds_open", **CHAT) == left


def test_the_text_parses_and_names_no_person_or_prompt(app: AppServer) -> None:
    with member_socket(app) as socket:
        send_chat(socket, PROMPT)
    seen = wait_for(app, lambda s: calls(s, **CHAT) > 0)
    for name in (
        "workbench_calls",
        "workbench_credits_captured_micros",
        "workbench_call_latency_seconds",
        "workbench_time_to_first_token_seconds",
        "workbench_holds_open",
        "workbench_database_up",
    ):
        assert name in seen.types, f"{name} missing"
    # The workbench's labels are only these, and their values catalogue ids and enums.
    ours = {
        (label, value)
        for (name, labels) in seen.samples
        if name.startswith("workbench_")
        for label, value in labels
    }
    assert {label for label, _ in ours} <= {
        "model",
        "feature",
        "status",
        "reason",
        "error_type",
        "le",
    }
    assert {value for label, value in ours if label == "model"} <= CATALOGUE_IDS
    assert {value for label, value in ours if label == "feature"} <= set(FEATURES)
    assert {value for label, value in ours if label == "status"} <= set(USAGE_STATUSES)
    # Nobody's name, workspace or words anywhere in the text.
    assert not {MEMBER, "admin", "demo", "Demo workspace"} & seen.label_values()
    for typed in ("Zanzibar", "Okonkwo", "Quarterly"):
        assert typed not in seen.text
    # Prometheus may ask for OpenMetrics: the same metrics, in that format.
    answer = httpx.get(
        f"{app.url}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
        timeout=30,
        trust_env=False,
    )
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    names = {family.name for family in openmetrics_families(answer.text)}
    assert {"workbench_calls", "workbench_holds_open"} <= names


def test_the_sign_in_gate_lets_the_scraper_through(app: AppServer) -> None:
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=30) as client:
        answer = client.get(f"{app.url}/metrics")  # no session cookie
        assert answer.status_code == 200
        assert "workbench_database_up 1.0" in answer.text
        assert answer.headers["cache-control"] == "no-store"
        # Streamlit's own metrics stay hidden.
        assert client.get(f"{app.url}/_stcore/metrics").status_code == 404
        # A page still sends the signed-out to the sign-in form.
        assert client.get(f"{app.url}/chat").status_code == 303
