"""Provider keys are found in Streamlit's secrets when the environment has none, and the
environment wins when both have one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PROBE = """
import json
from workbench.config import Settings
from workbench.gateway.setup import load_catalogue
from workbench.gateway import keys as provider_keys
config = Settings(_env_file=None)
keys = provider_keys.load(config, load_catalogue(config))
openai = keys.providers["openai"].api_key
print(json.dumps({
    "available": sorted(keys.available()),
    "openai": openai.get_secret_value() if openai else None,
}))
"""


def probe(cwd: Path, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if "API_KEY" not in k}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=cwd,
        env={**clean, "PYTHONPATH": str(ROOT), "HOME": str(cwd), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def test_keys_come_from_secrets_toml_and_the_environment_wins(tmp_path: Path) -> None:
    assert probe(tmp_path)["available"] == ["demo"]
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        'OPENAI_API_KEY = "sk-from-secrets-123456"\n'
    )
    from_secrets = probe(tmp_path)
    assert from_secrets == {"available": ["demo", "openai"], "openai": "sk-from-secrets-123456"}
    from_env = probe(tmp_path, OPENAI_API_KEY="sk-from-env-654321")
    assert from_env["openai"] == "sk-from-env-654321"
