"""A gateway wired to the loopback fake providers, for tests and the gateway benchmark.

``Harness.check_accounting`` is the suite-wide promise about provider calls: every request the
fake servers received belongs to exactly one hold (retries of a call carry the same hold id), every
hold for a fake-served model was sent (unless released as never sent), and, after a sweep, every
hold ended in exactly one terminal state with exactly one usage row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ledger.schema import entries, holds, usage_records
from ledger.service import Ledger
from tests.fake_providers import FakeProvider
from workbench.config import Settings
from workbench.gateway.caller import Caller
from workbench.gateway.facade import HOLD_HEADER, Gateway
from workbench.gateway.setup import build_gateway

ROOT = Path(__file__).resolve().parent.parent

# Recognisable fake keys: a test greps every output for them.
OPENAI_KEY = "sk-test-OPENAI-0f3c9a1e7b5d4c2a"
ANTHROPIC_KEY = "sk-ant-test-ANTHROPIC-8e2d4c6b1a9f"
TERMINAL = {"captured": "capture", "released": "release", "expired": "expire"}


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def make_settings(fake: FakeProvider, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "openai_api_key": OPENAI_KEY,
        "openai_api_base": fake.openai_base,
        "anthropic_api_key": ANTHROPIC_KEY,
        "anthropic_api_base": fake.anthropic_base,
        "provider_timeout_s": 2.0,
        "provider_max_retries": 1,
        "rate_limit_per_minute": 0,
        "rate_limit_concurrent": 0,
        "image_dir": tmp_path / "images",
        "demo_stream_delay_s": 0.0,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class Harness:
    gateway: Gateway
    ledger: Ledger
    fake: FakeProvider
    caller: Caller
    settings: Settings

    def hold_ids_sent(self) -> Counter[int]:
        """How many HTTP requests the fake servers got per hold id (retries count each)."""
        return Counter(
            int(r.headers[HOLD_HEADER.lower()])
            for r in self.fake.api_requests()
            if HOLD_HEADER.lower() in r.headers
        )

    def holds(self) -> list[Any]:
        with self.ledger.engine.connect() as conn:
            return list(conn.execute(sa.select(holds).order_by(holds.c.id)))

    def usage_rows(self) -> list[Any]:
        with self.ledger.engine.connect() as conn:
            return list(conn.execute(sa.select(usage_records).order_by(usage_records.c.id)))

    def available(self) -> int:
        return self.ledger.balance(self.caller.account_id).available

    def balance_and_held(self) -> tuple[int, int]:
        balance = self.ledger.balance(self.caller.account_id)
        return balance.balance, balance.held

    def entry_kinds(self, hold_id: int) -> Counter[str]:
        """The hold's journal lines by kind: ``{"hold": 1, "capture": 1, "release": 1}``."""
        with self.ledger.engine.connect() as conn:
            return Counter(
                conn.execute(
                    sa.select(entries.c.kind).where(entries.c.hold_id == hold_id)
                ).scalars()
            )

    def entry_reasons(self, hold_id: int, kind: str) -> list[str]:
        with self.ledger.engine.connect() as conn:
            return [
                str(reason)
                for reason in conn.execute(
                    sa.select(entries.c.reason).where(
                        entries.c.hold_id == hold_id, entries.c.kind == kind
                    )
                ).scalars()
            ]

    def check_accounting(self, clock_now: Any) -> None:
        untagged = [r for r in self.fake.api_requests() if HOLD_HEADER.lower() not in r.headers]
        assert untagged == [], "a provider request went out without a hold"
        # Settle anything left pending (timeouts keep their holds) as the sweeper would.
        Ledger(self.ledger.engine, clock=lambda: clock_now + timedelta(days=2)).sweep()
        rows = self.holds()
        sent = self.hold_ids_sent()
        unsent = {u.hold_id for u in self.usage_rows() if u.error_type == "NotSent"}
        fake_served = {r.id for r in rows if not r.model.startswith("demo/")} - unsent
        assert set(sent) == fake_served, (
            f"requests per hold {dict(sent)} but holds for served models {sorted(fake_served)}"
        )
        with self.ledger.engine.connect() as conn:
            resolutions = Counter(
                (row.hold_id, row.kind)
                for row in conn.execute(
                    sa.select(entries.c.hold_id, entries.c.kind).where(
                        entries.c.hold_id.is_not(None), entries.c.kind != "hold"
                    )
                )
            )
            usage_per_hold = Counter(
                conn.execute(
                    sa.select(usage_records.c.hold_id).where(usage_records.c.hold_id.is_not(None))
                ).scalars()
            )
        for row in rows:
            assert row.status in TERMINAL, f"hold {row.id} still {row.status}"
            ends = {kind: n for (hold_id, kind), n in resolutions.items() if hold_id == row.id}
            allowed = [{TERMINAL[row.status]: 1}]
            if row.status == "captured":  # a capture below the hold releases the remainder
                allowed.append({"capture": 1, "release": 1})
                if row.captured == 0:  # nothing to charge (a free model): all of it released
                    allowed.append({"release": 1})
            assert ends in allowed, f"hold {row.id} ({row.status}) ended as {ends}"
            assert usage_per_hold[row.id] == 1, f"hold {row.id} has {usage_per_hold[row.id]} rows"
        assert self.ledger.verify() == []


HarnessFactory = Callable[..., Harness]

# A model the allowlist lists but the price catalogue does not: refused before any call.
UNPRICED = "openai/gpt-4.1"
_UNPRICED_ENTRY = f"""
[[model]]
id = "{UNPRICED}"
name = "GPT-4.1"
provider = "openai"
kind = "chat"
litellm_model = "{UNPRICED}"
context_window = 1000000
max_output_tokens = 32768
"""


def catalogue_with_unpriced_model(folder: Path) -> Path:
    """The shipped model catalogue plus :data:`UNPRICED`, written into ``folder``."""
    shipped = (ROOT / "data" / "models.toml").read_text(encoding="utf-8")
    catalogue = folder / "models-unpriced.toml"
    catalogue.write_text(shipped + _UNPRICED_ENTRY, encoding="utf-8")
    return catalogue


def build(
    ledger: Ledger, fake: FakeProvider, tmp_path: Path, caller: Caller, **overrides: Any
) -> Harness:
    config = make_settings(fake, tmp_path, **overrides)
    return Harness(build_gateway(ledger, config), ledger, fake, caller, config)


def texts(chunks: Sequence[str]) -> str:
    return "".join(chunks)
