"""``WORKBENCH_ANALYTICS_MIRROR`` puts the Usage page's DuckDB copy where it says (a local disk
when the image folder is a volume several replicas share); unset, it sits beside the images."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app_harness import app_env, metrics
from tests.test_app_usage_renders import make_calls, usage_page


def test_the_mirror_is_written_where_the_setting_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    local = tmp_path / "replica-local" / "usage.duckdb"
    local.parent.mkdir()
    with app_env(tmp_path, monkeypatch, WORKBENCH_ANALYTICS_MIRROR=str(local)) as env:
        make_calls(env, env.member, 3, "mirror-path")
        at = usage_page(env, env.member)
        assert metrics(at)["Requests"] == "3"
    assert local.is_file()
    assert not (tmp_path / "analytics.duckdb").exists()


def test_unset_the_mirror_sits_beside_the_image_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app_env(tmp_path, monkeypatch) as env:
        make_calls(env, env.member, 2, "mirror-default")
        at = usage_page(env, env.member)
        assert metrics(at)["Requests"] == "2"
    assert (tmp_path / "analytics.duckdb").is_file()
