"""``workbench gateway``: a person can try the gateway from the terminal with no keys (the demo
models), is told the estimate and the charge, and bad input is one clear line with nothing
charged."""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.service import Ledger
from workbench.cli import main


def run(tmp_path: Path, *args: str) -> Result:
    """Run ``workbench ARGS`` in this process (importing litellm per subprocess would cost
    seconds a call), with the environment a person's shell would give it."""
    env = {
        "WORKBENCH_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "WORKBENCH_IMAGE_DIR": str(tmp_path / "images"),
        "WORKBENCH_DEMO_STREAM_DELAY_S": "0",
        "OPENAI_API_KEY": "",
        "ANTHROPIC_API_KEY": "",
    }
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    return Result(code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def seeded_db(tmp_path: Path) -> Path:
    assert run(tmp_path, "ledger", "seed").returncode == 0
    return tmp_path


def available(tmp_path: Path) -> int:
    book = Ledger.open(f"sqlite:///{tmp_path / 'cli.db'}", migrate=False)
    try:
        return book.balance(book.workspace("demo").account_id).available
    finally:
        book.close()


def test_models_lists_what_can_be_called(seeded_db: Path) -> None:
    out = run(seeded_db, "gateway", "models").stdout
    assert "* chat  demo/chat" in out and "(no key)" in out and "(disabled)" in out


def test_chat_and_image_are_billed(seeded_db: Path) -> None:
    before = available(seeded_db)
    chat = run(seeded_db, "gateway", "chat", "Name three rivers", "--model", "openai/gpt-4o")
    assert chat.returncode == 0, chat.stderr
    assert "Demo model (offline)" in chat.stdout
    assert "needs a key for OpenAI" in chat.stderr
    # Amounts in credits with the decimals that matter: a short demo answer costs a fraction.
    assert re.search(r"Demo chat \(offline\): about \d+(\.\d+)? credits? held", chat.stderr)
    assert re.search(r"^ok: 0\.\d+ credits for \d+ tokens in and \d+ out$", chat.stderr, re.M)
    image = run(seeded_db, "gateway", "image", "a river", "--n", "2", "--size", "256x256")
    assert image.returncode == 0, image.stderr
    paths = image.stdout.split()
    assert len(paths) == 2 and all(Path(p).read_bytes().startswith(b"\x89PNG") for p in paths)
    assert available(seeded_db) < before
    usage = run(seeded_db, "gateway", "usage").stdout.splitlines()
    assert [line.split()[1:3] for line in usage] == [["ok", "demo/images"], ["ok", "demo/chat"]]
    assert usage[0].split()[3:5] == ["10", "cr"]  # two 256x256 demo images at 5 credits
    assert re.fullmatch(r"0\.\d+", usage[1].split()[3])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("chat", "   "), "Type a message first"),
        (("image", "a cat", "--n", "9"), "makes 1 to 4 images at a time"),
        (("chat", "hi", "--user", "nobody"), "nobody"),
        (("chat", "hi", "--max-tokens", "0"), "must be greater than zero"),
    ],
)
def test_bad_input_is_one_line_and_charges_nothing(
    seeded_db: Path, args: tuple[str, ...], says: str
) -> None:
    before = available(seeded_db)
    result = run(seeded_db, "gateway", *args)
    assert result.returncode == 2
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert available(seeded_db) == before
