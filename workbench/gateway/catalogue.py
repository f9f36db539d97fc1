"""The model catalogue (``data/models.toml``): the allowlist of models the workbench may call.

``resolve`` is the only way from a name a person (or a stale page) asked for to a model that will
be called. A name that is unknown, disabled, of the wrong kind or whose provider has no key falls
back to the default and says so in a notice; it never silently becomes another call.
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workbench.gateway.errors import InvalidRequest, ModelUnavailable

Provider = Literal["demo", "openai", "anthropic", "openai_compatible"]
Kind = Literal["chat", "image"]
# What a chat model accepts beside typed text: pictures (vision), and text files read into the
# message (PDF, Markdown, CSV...). A model that lists neither is offered no attachments.
AttachmentKind = Literal["image", "text"]
PROVIDER_NAMES: dict[str, str] = {
    "demo": "the offline demo",
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "openai_compatible": "an OpenAI-compatible server",
}


class ModelEntry(BaseModel):
    """One allowlisted model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1)
    description: str = ""
    provider: Provider
    kind: Kind
    litellm_model: str = Field(min_length=1)
    price: str = Field(default="", description="the prices.toml entry; defaults to id")
    enabled: bool = True
    context_window: int = Field(default=0, ge=0)
    max_output_tokens: int = Field(default=0, ge=0)
    max_images: int = Field(default=0, ge=0, le=10)
    attachments: tuple[AttachmentKind, ...] = ()
    api_base: str | None = None
    api_key_env: str | None = None

    @model_validator(mode="after")
    def _limits_for_kind(self) -> ModelEntry:
        if self.kind == "chat" and (self.context_window < 1 or self.max_output_tokens < 1):
            raise ValueError("a chat model needs context_window and max_output_tokens")
        if self.kind == "image" and self.attachments:
            raise ValueError("attachments are for chat models")
        if self.kind == "image" and self.max_images < 1:
            raise ValueError("an image model needs max_images (1 or more)")
        if self.provider == "openai_compatible" and not self.api_base:
            raise ValueError("an openai_compatible model needs api_base")
        if not self.price:
            object.__setattr__(self, "price", self.id)
        return self


class _CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    default_chat: str
    default_image: str
    models: list[ModelEntry] = Field(alias="model")


@dataclass(frozen=True)
class Resolution:
    """The model that will be called, and why it is not the one asked for (if it is not)."""

    entry: ModelEntry
    notice: str | None = None


@dataclass(frozen=True)
class Catalogue:
    entries: tuple[ModelEntry, ...]
    default_chat: str
    default_image: str

    def get(self, model_id: str) -> ModelEntry | None:
        return next((e for e in self.entries if e.id == model_id), None)

    def default(self, kind: Kind) -> str:
        return self.default_chat if kind == "chat" else self.default_image

    def offered(self, kind: Kind, available: Collection[str]) -> list[ModelEntry]:
        """What a person may pick: enabled models of ``kind`` whose provider is available."""
        return [e for e in self.entries if e.kind == kind and e.enabled and e.provider in available]

    def resolve(
        self,
        requested: str | None,
        kind: Kind,
        available: Collection[str],
        *,
        fallback: bool = True,
    ) -> Resolution:
        """The entry to call for ``requested``. With ``fallback=False`` an unusable model is an
        error instead of a fallback (``ModelUnavailable``)."""
        why = None if requested is None else self._unusable(requested, kind, available)
        if requested is not None and why is None:
            entry = self.get(requested)
            assert entry is not None
            return Resolution(entry)
        if why is not None and not fallback:
            raise ModelUnavailable(why, model=requested)
        default_id = self.default(kind)
        default_problem = self._unusable(default_id, kind, available)
        if default_problem is not None:
            raise ModelUnavailable(
                (f"{why}; " if why else "") + f"and the default {kind} model cannot be used: "
                f"{default_problem}. Ask an admin to fix the model catalogue.",
                model=requested or default_id,
            )
        entry = self.get(default_id)
        assert entry is not None
        notice = None if why is None else f"{why}; using {entry.name} instead."
        return Resolution(entry, notice)

    def _unusable(self, model_id: str, kind: Kind, available: Collection[str]) -> str | None:
        entry = self.get(model_id)
        if entry is None:
            return f"Model {model_id!r} is not on the workbench's allowlist"
        if not entry.enabled:
            return f"{entry.name} is switched off by an admin"
        if entry.kind != kind:
            return f"{entry.name} is {_a(entry.kind)} model, not {_a(kind)} model"
        if entry.provider not in available:
            return f"{entry.name} needs a key for {PROVIDER_NAMES[entry.provider]}, and none is set"
        return None


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def load(path: Path) -> Catalogue:
    """Parse and check the catalogue; a bad file is refused whole, naming what is wrong."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidRequest(f"cannot read the model catalogue {path}: {exc}") from None
    try:
        parsed = _CatalogueFile.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidRequest(f"model catalogue {path.name}: {where}: {first['msg']}") from None
    ids = [e.id for e in parsed.models]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise InvalidRequest(f"model catalogue {path.name}: listed twice: {', '.join(duplicates)}")
    catalogue = Catalogue(tuple(parsed.models), parsed.default_chat, parsed.default_image)
    for kind in ("chat", "image"):
        default = catalogue.get(catalogue.default(kind))
        if default is None or default.kind != kind:
            raise InvalidRequest(
                f"model catalogue {path.name}: default_{kind} must name a listed {kind} model"
            )
    return catalogue
