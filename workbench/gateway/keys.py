"""Provider keys: where they come from, and keeping them out of every log line and message.

Keys are read on the server only: from ``Settings`` (``WORKBENCH_OPENAI_API_KEY`` or
``OPENAI_API_KEY``, likewise for Anthropic, or ``.env``), else from Streamlit's secrets
(``.streamlit/secrets.toml``, same names). They stay ``SecretStr`` until the moment litellm is
called. As a second line of defence every known key is redacted from log records process-wide and
from provider error text before it is stored or shown.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from workbench import log_records
from workbench.config import Settings
from workbench.gateway.catalogue import Catalogue

REDACTED = "[redacted]"
_SECRET_NAMES = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}


@dataclass(frozen=True)
class Credentials:
    api_key: SecretStr | None = None
    api_base: str | None = None


@dataclass(frozen=True)
class ProviderKeys:
    """Credentials per provider name, and per OpenAI-compatible model id."""

    providers: Mapping[str, Credentials]
    compatible: Mapping[str, Credentials] = field(default_factory=dict)

    def available(self) -> set[str]:
        """Providers that can be called: demo always, others once they have a key."""
        names = {"demo"} | {p for p, c in self.providers.items() if c.api_key is not None}
        if self.compatible:
            names.add("openai_compatible")
        return names

    def secrets(self) -> list[str]:
        creds = [*self.providers.values(), *self.compatible.values()]
        return [c.api_key.get_secret_value() for c in creds if c.api_key is not None]


def _streamlit_secret(name: str) -> str | None:
    """A top-level value from Streamlit's secrets, or None when there are no secrets at all."""
    try:
        import streamlit as st

        value = st.secrets.get(name)
    except (FileNotFoundError, KeyError):
        return None
    return str(value) if value else None


def load(config: Settings, catalogue: Catalogue) -> ProviderKeys:
    def key(setting: SecretStr | None, secret_name: str) -> SecretStr | None:
        if setting is not None and setting.get_secret_value():
            return setting
        from_secrets = _streamlit_secret(secret_name)
        return SecretStr(from_secrets) if from_secrets else None

    providers = {
        "openai": Credentials(
            key(config.openai_api_key, _SECRET_NAMES["openai"]), config.openai_api_base
        ),
        "anthropic": Credentials(
            key(config.anthropic_api_key, _SECRET_NAMES["anthropic"]), config.anthropic_api_base
        ),
    }
    compatible: dict[str, Credentials] = {}
    for entry in catalogue.entries:
        if entry.provider == "openai_compatible" and entry.enabled:
            env_key = os.environ.get(entry.api_key_env) if entry.api_key_env else None
            compatible[entry.id] = Credentials(
                SecretStr(env_key) if env_key else None, entry.api_base
            )
    keys = ProviderKeys(providers, compatible)
    redactor.add(keys.secrets())
    return keys


class Redactor:
    """Replaces every registered secret in a text. Process-wide: keys are few and long-lived."""

    def __init__(self) -> None:
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            # Short strings would redact ordinary words; real keys are long.
            merged = set(self._secrets) | {s for s in secrets if len(s) >= 8}
            self._secrets = tuple(sorted(merged, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text


redactor = Redactor()


def _redacting_factory(base: Any) -> Any:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = base(*args, **kwargs)
        if not redactor._secrets:
            return record
        # The message and each argument on their own (``workbench.log_records``).
        log_records.redact_record(record, redactor)
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    return factory


def install_log_redaction() -> None:
    """Redact known keys from every log record created in this process (idempotent)."""
    base = logging.getLogRecordFactory()
    if not getattr(base, "redacting", False):
        logging.setLogRecordFactory(_redacting_factory(base))
