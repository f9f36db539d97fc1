"""Pricing & features (operators only): what the page shows and what its forms call.

Every model on the allowlist (and any priced model that is not) with its current price version,
since when and who set it; a price change as a new version, with the old and new terms side by
side and what a typical call costs under each; models and features switched on or off; models
that can be called but have no price. Streamlit-free: the page (``pages/admin_pricing.py``) lays
these out. Every change goes through the ledger, which checks again that the actor is an operator
and records it in the audit trail.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ledger.amounts import MAX_AMOUNT, credits_text, format_credits, parse_credits
from ledger.errors import InvalidAmount, InvalidInput, MissingReason
from ledger.features import FEATURES
from ledger.pricing import Price, PriceChange, PriceVersionRecord, terms, token_cost
from ledger.switches import Switch, Switches
from workbench.bootstrap import Services
from workbench.gateway.requests import CHAT_FEATURE, FEATURE_NAMES, IMAGE_FEATURE
from workbench.ui.session import SignedIn

# The typical chat call the form prices under the old and the new terms.
TYPICAL_IN = 500
TYPICAL_OUT = 200
TYPICAL_CALL = f"a chat call, {TYPICAL_IN} tokens in and {TYPICAL_OUT} out"
INPUT_LABEL = "Input credits per 1M tokens"
OUTPUT_LABEL = "Output credits per 1M tokens"
IMAGES_LABEL = "Credits per image, one line each: size quality credits"
KIND_FEATURES = {"chat": CHAT_FEATURE, "image": IMAGE_FEATURE}
UNLISTED = "not on the allowlist"
NONE = "—"

Row = dict[str, str | int]


@dataclass(frozen=True)
class PriceTarget:
    """What the price form can price: a price key (a catalogue entry's ``price``, usually its id)
    with the feature it is sold as, its current price and the version that set it."""

    key: str
    label: str
    feature_key: str
    price: Price | None
    record: PriceVersionRecord | None

    @property
    def per_image(self) -> bool:
        return self.feature_key == IMAGE_FEATURE


@dataclass(frozen=True)
class ModelRow:
    """One model of the catalogue (or a priced model the catalogue does not list)."""

    id: str
    name: str
    feature_key: str
    # None: priced, but not on the allowlist (it cannot be called, so it has no switch here).
    enabled: bool | None
    target: PriceTarget

    @property
    def unpriced(self) -> bool:
        """Callable but not priced for its feature: every call to it would be refused."""
        price = self.target.price
        return bool(self.enabled) and (price is None or price.feature_key != self.feature_key)


@dataclass(frozen=True)
class Overview:
    rows: list[ModelRow]
    targets: dict[str, PriceTarget]
    switches: Switches

    @property
    def unpriced(self) -> list[ModelRow]:
        return [row for row in self.rows if row.unpriced]

    @property
    def switchable(self) -> list[ModelRow]:
        return [row for row in self.rows if row.enabled is not None]


def overview(svc: Services) -> Overview:
    """The catalogue with the database's switches (read now, not the gateway's 5 s copy), the
    current prices and who set each."""
    switches = svc.ledger.switches()
    prices = {price.model: price for price in svc.ledger.priced_models()}
    entries = svc.gateway.catalogue.entries
    targets: dict[str, PriceTarget] = {}

    def target(key: str, label: str, feature_key: str) -> PriceTarget:
        if key not in targets:
            price = prices.get(key)
            record = None
            if price is not None:
                record = next(iter(svc.ledger.price_history(key, limit=1)), None)
            targets[key] = PriceTarget(key, label, feature_key, price, record)
        return targets[key]

    rows = [
        ModelRow(
            entry.id,
            entry.name,
            KIND_FEATURES[entry.kind],
            switches.model_enabled(entry.id, entry.enabled),
            target(entry.price, f"{entry.name} ({entry.price})", KIND_FEATURES[entry.kind]),
        )
        for entry in entries
    ]
    listed = {entry.price for entry in entries}
    for key, price in sorted(prices.items()):
        if key not in listed:
            row_target = target(key, f"{key} ({UNLISTED})", price.feature_key)
            rows.append(ModelRow(key, key, price.feature_key, None, row_target))
    return Overview(rows, targets, switches)


# --- tables ---------------------------------------------------------------------------------


def _when(record: PriceVersionRecord | Switch | None) -> str:
    if record is None:
        return ""
    moment = record.effective_at if isinstance(record, PriceVersionRecord) else record.created_at
    return moment.strftime("%Y-%m-%d %H:%M")


def _author(name: str | None, user_id: int | None) -> str:
    if name is not None:
        return name
    return "the catalogue file" if user_id is None else f"user #{user_id}"


def models_table(rows: list[ModelRow]) -> list[Row]:
    """One line per model: on or off, its price version and terms, since when, by whom, why."""
    table: list[Row] = []
    for row in rows:
        record = row.target.record
        table.append(
            {
                "model": row.id,
                "name": row.name,
                "feature": FEATURE_NAMES.get(row.feature_key, row.feature_key),
                "state": UNLISTED if row.enabled is None else ("on" if row.enabled else "off"),
                "price version": NONE
                if row.target.price is None
                else str(row.target.price.version),
                "price": "unpriced" if row.unpriced else terms(row.target.price),
                "since (UTC)": _when(record),
                "set by": ""
                if record is None
                else _author(record.created_by, record.created_by_user_id),
                "reason": "" if record is None else (record.reason or ""),
            }
        )
    return table


def history_table(records: list[PriceVersionRecord]) -> list[Row]:
    """A model's versions, newest first (shown, never edited)."""
    return [
        {
            "version": record.price.version or 0,
            "from (UTC)": _when(record),
            "terms": terms(record.price) if record.active else "withdrawn (unpriced)",
            "set by": _author(record.created_by, record.created_by_user_id),
            "reason": record.reason or "",
        }
        for record in records
    ]


def switch_state(switch: Switch | None, enabled: bool, *, what: str) -> str:
    """The switch's state in a line (plain text: the reason and message are people's words)."""
    state = f"{what} is {'on' if enabled else 'off'}"
    if switch is None:
        return f"{state} (as the catalogue lists it)." if what != "The feature" else f"{state}."
    line = f"{state} since {_when(switch)} UTC, by {_author(switch.actor, switch.actor_user_id)}"
    if switch.reason:
        line += f": {switch.reason}"
    if not enabled and switch.message:
        line += f"\nPeople see: {switch.message}"
    return line


# --- the price form -------------------------------------------------------------------------


def typed_price(text: str, label: str) -> int:
    """Micro-credits for a price a person typed; one sentence naming the field otherwise."""
    try:
        micros = parse_credits(text)
    except InvalidAmount as error:
        raise InvalidAmount(f"{label}: {error}") from None
    if micros <= 0:
        raise InvalidAmount(f"{label}: a price must be more than 0 credits.")
    if micros > MAX_AMOUNT:
        raise InvalidAmount(
            f"{label}: a price must be at most {format_credits(MAX_AMOUNT)} credits."
        )
    return micros


def typed_images(text: str) -> dict[tuple[str, str], int]:
    """Per-image prices from lines of ``size quality credits`` (``1024x1024 hd 40``)."""
    images: dict[tuple[str, str], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3:
            raise InvalidInput(
                f"Line {number}: write a size, a quality and credits, such as 1024x1024 hd 40."
            )
        size, quality, amount = parts
        if (size, quality) in images:
            raise InvalidInput(f"Line {number}: {size} {quality} is priced twice.")
        images[(size, quality)] = typed_price(amount, f"Line {number} ({size} {quality})")
    if not images:
        raise InvalidInput("Give at least one size and quality with its price per image.")
    return images


def images_text(price: Price | None) -> str:
    """A price's per-image terms as the form's lines (what the text area starts with)."""
    if price is None or not price.images:
        return ""
    return "\n".join(
        f"{size} {quality} {format_credits(micros, exact=True)}"
        for (size, quality), micros in sorted(price.images.items())
    )


def token_texts(price: Price | None) -> tuple[str, str]:
    """A price's per-1M input and output terms as the form's fields start with them."""
    if price is None or price.input_per_mtok is None or price.output_per_mtok is None:
        return "", ""
    return (
        format_credits(price.input_per_mtok, exact=True),
        format_credits(price.output_per_mtok, exact=True),
    )


def unpriced_line(row: ModelRow) -> str:
    what = FEATURE_NAMES.get(row.feature_key, row.feature_key).lower()
    return f"{row.name} ({row.id}): no {what} price, so every call to it is refused."


def proposed(
    target: PriceTarget, *, input_text: str = "", output_text: str = "", image_lines: str = ""
) -> Price:
    """The price the form describes, checked (``InvalidAmount``/``InvalidInput`` otherwise)."""
    if target.per_image:
        return Price(target.key, target.feature_key, images=typed_images(image_lines))
    return Price(
        target.key,
        target.feature_key,
        typed_price(input_text, INPUT_LABEL),
        typed_price(output_text, OUTPUT_LABEL),
    )


def _credits(micros: int | None) -> str:
    return NONE if micros is None else credits_text(micros, exact=True)


def _call_cost(price: Price | None) -> int | None:
    if price is None or price.input_per_mtok is None or price.output_per_mtok is None:
        return None
    return token_cost(price, TYPICAL_IN, TYPICAL_OUT)


def preview(target: PriceTarget, new: Price | None) -> list[Row]:
    """The current and the new terms side by side, with what a typical call costs under each
    (``new`` None: what was typed is not a price yet)."""
    old = target.price
    current = old if old is not None and old.feature_key == target.feature_key else None
    if target.per_image:
        sizes = sorted(set(current.images if current else {}) | set(new.images if new else {}))
        return [
            {
                "": f"one {size} {quality} image",
                "now": _credits(current.images.get((size, quality)) if current else None),
                "new": _credits(new.images.get((size, quality)) if new else None),
            }
            for size, quality in sizes
        ]
    return [
        {
            "": "per 1M input tokens",
            "now": _credits(current.input_per_mtok if current else None),
            "new": _credits(new.input_per_mtok if new else None),
        },
        {
            "": "per 1M output tokens",
            "now": _credits(current.output_per_mtok if current else None),
            "new": _credits(new.output_per_mtok if new else None),
        },
        {"": TYPICAL_CALL, "now": _credits(_call_cost(current)), "new": _credits(_call_cost(new))},
    ]


def required_reason(text: str) -> str:
    reason = text.strip()
    if not reason:
        raise MissingReason("Give a reason: it is kept with the change in the audit trail.")
    return reason


def change_price(svc: Services, who: SignedIn, price: Price, reason: str) -> PriceChange | None:
    """A new price version by ``who`` (None: the same terms as now, nothing added)."""
    return svc.ledger.set_price(
        price.model,
        feature_key=price.feature_key,
        input_per_mtok=price.input_per_mtok,
        output_per_mtok=price.output_per_mtok,
        images=dict(price.images) or None,
        actor_user_id=who.user.id,
        reason=required_reason(reason),
    )


# --- switches -------------------------------------------------------------------------------


def switch_model(svc: Services, who: SignedIn, model: str, enabled: bool, reason: str) -> Switch:
    return svc.ledger.set_model_enabled(model, enabled, who.user.id, reason=required_reason(reason))


def switch_feature(
    svc: Services, who: SignedIn, feature_key: str, enabled: bool, message: str, reason: str
) -> Switch:
    """A feature on or off; ``message`` is what people see on its page while it is off."""
    return svc.ledger.set_feature(
        feature_key,
        enabled,
        None if enabled else (message.strip() or None),
        actor_user_id=who.user.id,
        reason=required_reason(reason),
    )


def features(switches: Switches) -> Mapping[str, tuple[str, bool, Switch | None]]:
    """Every feature sold: its name, whether it is on, and its current switch."""
    return {
        key: (FEATURE_NAMES.get(key, key), switches.feature_enabled(key), switches.feature(key))
        for key in FEATURES
    }
