"""``workbench.analytics.synthetic``: the plan of synthetic calls (pure, seeded) and its writer,
which goes through the ledger's own write path."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from ledger.pricing import Price, load_catalogue
from ledger.schema import holds, usage_records
from ledger.service import Ledger
from ledger.statuses import HoldStatus, UsageStatus
from tests.conftest import PRICES
from workbench.analytics import synthetic, synthetic_writer
from workbench.analytics.synthetic import Plan, PlannedCall

END = datetime(2025, 6, 30, 17, 42, 5, tzinfo=UTC)


def plan_of(
    events: int,
    *,
    days: int = 30,
    seed: int = 1,
    end: datetime = END,
    prices: list[Price] | None = None,
) -> Plan:
    listed = load_catalogue(PRICES) if prices is None else prices
    models = synthetic.models_from_prices(listed, {})
    return Plan(events, days, seed, synthetic.organisation(4, 40), models, end)


def calls(plan: Plan, seed: int | None = None) -> list[PlannedCall]:
    return list(synthetic.plan_calls(plan, random.Random(plan.seed if seed is None else seed)))


def test_the_organisation_is_fixed_by_its_size() -> None:
    members = synthetic.organisation(4, 40)
    assert members == synthetic.organisation(4, 40)
    assert [m.username for m in members][:2] == ["synth-user-01", "synth-user-02"]
    assert len({m.username for m in members}) == 40
    sizes = Counter(m.workspace for m in members)
    assert sorted(sizes) == [0, 1, 2, 3] and sizes[0] > sizes[3] >= 1
    assert Counter(m.workspace for m in members if m.role == "admin") == Counter(range(4))
    assert 1 <= sum(m.paused for m in members) <= 4
    assert synthetic.workspace_slug(0) == "synth-ws-1"


def test_the_plan_is_deterministic_and_call_n_ignores_the_timeline() -> None:
    plan = plan_of(400)
    first = calls(plan)
    assert first == calls(plan)
    assert first != calls(plan, seed=2)
    longer = calls(replace(plan, events=900, days=60, end=END + timedelta(days=3, hours=5)))

    def what(call: PlannedCall) -> tuple[object, ...]:
        return (call.key, call.member, call.model, call.outcome, call.hold, call.charge, call.usage)

    assert [what(c) for c in first] == [what(c) for c in longer[:400]]
    assert len({c.key for c in longer}) == 900


def test_the_plan_looks_like_real_traffic() -> None:
    plan = plan_of(20_000, days=56)
    planned = calls(plan)
    assert len(planned) == 20_000
    times = [c.at for c in planned]
    assert times == sorted(times)
    assert plan.start <= times[0] and times[-1] <= plan.last_call
    assert times[-1] - times[0] > timedelta(days=55)
    outcomes = Counter(c.outcome for c in planned)
    assert 0.02 < outcomes[UsageStatus.ERROR] / 20_000 < 0.04
    assert 0.005 < outcomes[UsageStatus.TIMEOUT] / 20_000 < 0.015
    assert 0.01 < outcomes[UsageStatus.CANCELLED] / 20_000 < 0.03
    assert 0 < outcomes[UsageStatus.REFUSED] / 20_000 < 0.01
    days = Counter(t.weekday() for t in times)
    assert min(days[d] for d in range(5)) > 3 * max(days[5], days[6])
    hours = Counter(t.hour for t in times)
    assert hours[10] > 5 * hours[3]
    weeks = Counter((t - plan.start).days // 7 for t in times)
    assert weeks[7] > weeks[0]  # usage grows
    models = Counter(c.model for c in planned)
    assert len(models) == len(plan.models) and max(models.values()) < 0.4 * 20_000
    users = Counter(c.member for c in planned)
    assert len(users) >= 35 and users.most_common(1)[0][1] > 5 * 20_000 / 40
    for call in planned:
        assert call.usage.status == call.outcome and call.usage.idempotency_key == call.key
        assert 0 <= call.charge <= call.hold and call.settle_after <= plan.max_settle
        if call.outcome in (UsageStatus.OK, UsageStatus.CANCELLED):
            assert call.charge > 0
        else:
            assert call.charge == 0
        if call.feature_key == synthetic.IMAGE_FEATURE:
            assert call.usage.image_size and call.usage.input_tokens == 0
        elif call.outcome is UsageStatus.OK:
            assert call.usage.input_tokens > 0 and call.usage.output_tokens > 0


def test_image_only_and_chat_only_catalogues_are_planned() -> None:
    chat = Price("x/chat", "ai_text_chat", input_per_mtok=1_000_000, output_per_mtok=2_000_000)
    image = Price("x/img", "ai_image_generation", images={("512x512", "standard"): 7_000_000})
    for prices in ([chat], [image], [chat, image]):
        models = synthetic.models_from_prices(prices, {"x/chat": "openai"})
        plan = Plan(200, 7, 3, synthetic.organisation(2, 4), models, END)
        planned = calls(plan)
        assert len(planned) == 200
        assert {c.model for c in planned} == {p.model for p in prices}
        assert not any(c.outcome is UsageStatus.REFUSED for c in planned)  # nobody paused


def test_writing_goes_through_the_ledger_once(ledger: Ledger) -> None:
    end = datetime.now(UTC).replace(microsecond=0)
    plan = plan_of(300, days=10, end=end, prices=ledger.priced_models())
    planned = calls(plan)
    progress: list[int] = []
    report = synthetic_writer.write(
        ledger, plan, iter(planned), progress=progress.append, every=100
    )
    assert progress == [100, 100, 100]
    assert (report.events, report.written, report.already, report.skipped) == (300, 300, 0, 0)
    assert report.created == 4 + 40 + 40
    expected = sum(c.charge for c in planned)
    assert report.captured == expected
    assert report.by_status == dict(Counter(str(c.outcome) for c in planned))
    assert ledger.verify() == []
    with ledger.engine.connect() as conn:
        stored = conn.execute(
            sa.select(
                usage_records.c.idempotency_key,
                usage_records.c.status,
                usage_records.c.credits,
                usage_records.c.created_at,
            )
        ).all()
        pending = conn.execute(
            sa.select(holds.c.expires_at).where(holds.c.status == HoldStatus.PENDING)
        ).all()
    assert len(stored) == 300
    by_key = {row.idempotency_key: row for row in stored}
    for call in planned:
        row = by_key[call.key]
        assert row.status == call.outcome and row.credits == call.charge
        created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        assert call.at <= created <= call.at + call.settle_after
    # Only timeouts keep their holds, and only until they expire (the writer sweeps as it goes).
    for (expires_at,) in pending:
        moment = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
        assert moment > plan.end
    balances = [ledger.balance(ledger.workspace(f"synth-ws-{i}").account_id) for i in (1, 2, 3, 4)]
    assert all(b.available >= 0 for b in balances)

    again = synthetic_writer.write(ledger, plan, iter(calls(plan)))
    assert (again.written, again.already, again.captured, again.granted, again.created) == (
        0,
        300,
        0,
        0,
        0,
    )
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(usage_records)).scalar() == 300
    assert ledger.verify() == []
