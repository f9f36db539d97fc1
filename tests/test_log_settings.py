"""The log settings as people type them: a level in any case, and a clear refusal of a level or
format that does not exist (naming the setting), before anything starts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workbench.config import Settings


@pytest.mark.parametrize("typed", ["debug", "Warning", "ERROR"])
def test_a_level_in_any_case_is_taken(typed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_LOG_LEVEL", typed)
    assert Settings().log_level == typed.upper()


@pytest.mark.parametrize(
    ("name", "typed"), [("WORKBENCH_LOG_LEVEL", "loud"), ("WORKBENCH_LOG_FORMAT", "xml")]
)
def test_an_unknown_value_is_refused_by_name(
    name: str, typed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, typed)
    with pytest.raises(ValidationError) as refused:
        Settings()
    field = name.removeprefix("WORKBENCH_").lower()
    assert field in str(refused.value)
    assert typed.lower() in str(refused.value).lower()


def test_the_defaults_are_json_at_info_without_prompts() -> None:
    defaults = Settings(_env_file=None)
    assert defaults.log_format == "json"
    assert defaults.log_level == "INFO"
    assert defaults.log_prompts is False
